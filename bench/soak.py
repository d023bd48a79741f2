#!/usr/bin/env python3
"""Soak test: many keep-alive clients for a fixed time while posts are edited.

Starts `feedsmith serve` (release build) on a temporary copy of a posts directory, on a
loopback port, then for --seconds runs --connections asyncio HTTP/1.1 keep-alive clients that
GET random feed documents, while an editor rewrites posts atomically (temp file + rename)
several times a second. Every response must be a 200 (or 304) whose body is complete (length ==
Content-Length) and parses (XML well-formed, JSON valid). The server's RSS memory is sampled
every second; it must stay flat (the last samples within 25 % of the post-warm-up level).

Prints one line per check and `soak: N passed, M failed`; exits 0 only when all passed.
Only loopback is ever contacted.
"""

import argparse
import asyncio
import json
import os
import random
import shutil
import tempfile
import time
import xml.etree.ElementTree as ET

from longrun import ROOT, report, start_server, stop_server


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return status, headers, body


def parses(path, body):
    if path.endswith(".json"):
        json.loads(body)
    else:
        ET.fromstring(body)


async def client(host, port, paths, deadline, stats):
    reader = writer = None
    while time.monotonic() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            path = random.choice(paths)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            await writer.drain()
            status, headers, body = await asyncio.wait_for(read_response(reader), 15)
            if status != 200:
                stats["errors"].append(f"{path}: status {status}")
                continue
            if len(body) != int(headers.get("content-length", "-1")):
                stats["errors"].append(f"{path}: incomplete body")
                continue
            try:
                parses(path, body)
            except Exception as e:  # noqa: BLE001 - any parse failure counts
                stats["errors"].append(f"{path}: does not parse: {e}")
                continue
            stats["ok"] += 1
        except Exception as e:  # noqa: BLE001
            stats["errors"].append(f"connection: {type(e).__name__}: {e}")
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def editor(posts_dir, deadline, rate, stats):
    files = sorted(
        os.path.join(d, f)
        for d, _, fs in os.walk(posts_dir)
        for f in fs
        if f.endswith(".md") and "_drafts" not in d
    )
    n = 0
    while time.monotonic() < deadline:
        path = random.choice(files)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        lines = text.split("\n")
        for i, line in enumerate(lines[1:], 1):
            if line.startswith("title:"):
                lines[i] = f'title: "soak edit {n}"'
                break
            if line.strip() == "---":
                break
        tmp = os.path.join(os.path.dirname(path), f".soak-{n}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        os.replace(tmp, path)
        n += 1
        stats["edits"] = n
        await asyncio.sleep(1 / rate)


async def sampler(pid, deadline, samples):
    while time.monotonic() < deadline:
        samples.append(rss_kib(pid))
        await asyncio.sleep(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", default=os.path.join(ROOT, "posts"), help="posts directory to copy")
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "feedsmith"))
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--edits-per-second", type=float, default=5)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="feedsmith-soak-")
    checks = []
    server = None
    try:
        server, port = start_server(args.binary, args.posts, work,
                                    "[server]\naccess_log = false\ndebounce_ms = 20\n",
                                    ["--url", "https://example.com"])
        paths = []
        for d, _, fs in os.walk(os.path.join(work, "feeds")):
            for f in fs:
                if f in ("rss.xml", "atom.xml", "feed.json"):
                    paths.append("/" + os.path.relpath(os.path.join(d, f), os.path.join(work, "feeds")))
        paths = [p.replace(os.sep, "/") for p in paths][:500]
        stats = {"ok": 0, "errors": [], "edits": 0}
        samples = []
        deadline = time.monotonic() + args.seconds

        async def run():
            tasks = [client("127.0.0.1", port, paths, deadline, stats) for _ in range(args.connections)]
            tasks.append(editor(os.path.join(work, "posts"), deadline, args.edits_per_second, stats))
            tasks.append(sampler(server.pid, deadline, samples))
            await asyncio.gather(*tasks)

        started = time.monotonic()
        asyncio.run(run())
        took = time.monotonic() - started
        errors = stats["errors"]
        checks.append((not errors, f"{stats['ok']} complete, parseable responses, {len(errors)} errors "
                       f"({args.connections} connections, {took:.0f} s, {stats['edits']} edits, "
                       f"{stats['ok'] / took:.0f} req/s)" + (f"; first: {errors[0]}" if errors else "")))
        alive = server.poll() is None
        checks.append((alive, "server still running after the soak"))
        rss = [s for s in samples if s]
        if len(rss) >= 6:
            warm = rss[len(rss) // 3]
            tail = max(rss[-3:])
            flat = tail <= warm * 1.25
            checks.append((flat, f"memory flat: {warm} KiB after warm-up, {tail} KiB at the end, max {max(rss)} KiB"))
        else:
            checks.append((False, "too few memory samples"))
    finally:
        stop_server(server)
        shutil.rmtree(work, ignore_errors=True)
    report("soak", checks)

if __name__ == "__main__":
    main()
