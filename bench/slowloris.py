#!/usr/bin/env python3
"""Slowloris: hundreds of connections trickling request heads must not starve normal clients.

Starts `feedsmith serve` (release build) on a temporary copy of posts/ on a loopback port, opens
--slow connections that each send a request head one byte every --trickle seconds (never
finishing it, plus a share that send nothing at all), and meanwhile has a normal client fetch
/rss.xml repeatedly. Checks:

- every normal request succeeds, with p99 latency under --max-p99-ms;
- the slow connections are closed by the server within its header read timeout plus slack
  (a trickling client cannot hold a connection slot for ever);
- the server is still running and answering afterwards.

Prints one line per check and `slowloris: N passed, M failed`. Only loopback is contacted.
"""

import argparse
import os
import shutil
import socket
import tempfile
import threading
import time
import urllib.request

from longrun import ROOT, report, start_server, stop_server
HEADER_TIMEOUT = 10.0  # the server's HEADER_READ_TIMEOUT (src/server/mod.rs)


def slow_client(port, trickle, stop, closed_after, silent):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(1)
    opened = time.monotonic()
    head = b"GET /rss.xml HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 10000
    i = 0
    try:
        while not stop.is_set():
            if not silent:
                s.send(head[i:i + 1])
                i += 1
            try:
                if s.recv(1) == b"":
                    closed_after.append(time.monotonic() - opened)
                    return
            except socket.timeout:
                pass
            except OSError:
                closed_after.append(time.monotonic() - opened)
                return
            time.sleep(max(0.0, trickle - 1))
    except OSError:
        closed_after.append(time.monotonic() - opened)
    finally:
        s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", default=os.path.join(ROOT, "posts"))
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "feedsmith"))
    ap.add_argument("--slow", type=int, default=400)
    ap.add_argument("--trickle", type=float, default=1.0)
    ap.add_argument("--seconds", type=float, default=25)
    ap.add_argument("--max-p99-ms", type=float, default=500)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="feedsmith-slowloris-")
    checks = []
    server = None
    stop = threading.Event()
    try:
        server, port = start_server(args.binary, args.posts, work, "[server]\naccess_log = false\n")
        closed_after = []
        threads = []
        opened_at = time.monotonic()
        for i in range(args.slow):
            t = threading.Thread(target=slow_client, args=(port, args.trickle, stop, closed_after, i % 4 == 0),
                                 daemon=True)
            t.start()
            threads.append(t)
        time.sleep(1)
        latencies, failures = [], []
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/rss.xml", timeout=10) as r:
                    body = r.read()
                    if r.status != 200 or not body:
                        failures.append(f"status {r.status}")
            except Exception as e:  # noqa: BLE001
                failures.append(f"{type(e).__name__}: {e}")
            latencies.append((time.monotonic() - t0) * 1000)
            time.sleep(0.05)
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else float("inf")
        checks.append((not failures and p99 <= args.max_p99_ms,
                       f"{len(latencies)} normal requests during the attack, {len(failures)} failed, "
                       f"p50 {latencies[len(latencies) // 2]:.1f} ms, p99 {p99:.1f} ms"
                       + (f"; first failure: {failures[0]}" if failures else "")))
        slack = 10.0
        # Give the server its header timeout (plus slack) to close every slow connection.
        while len(closed_after) < args.slow and time.monotonic() < opened_at + HEADER_TIMEOUT + slack + 2:
            time.sleep(0.2)
        in_time = [c for c in closed_after if c <= HEADER_TIMEOUT + slack]
        checks.append((len(in_time) == args.slow,
                       f"{len(closed_after)}/{args.slow} slow connections closed by the server, "
                       f"{len(in_time)} within {HEADER_TIMEOUT + slack:.0f} s"
                       + (f" (longest {max(closed_after):.1f} s)" if closed_after else "")))
        stop.set()
        alive = server.poll() is None
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/feed.json", timeout=10) as r:
                ok = r.status == 200
        except Exception:  # noqa: BLE001
            ok = False
        checks.append((alive and ok, "server running and answering afterwards"))
    finally:
        stop.set()
        stop_server(server)
        shutil.rmtree(work, ignore_errors=True)
    report("slowloris", checks)

if __name__ == "__main__":
    main()
