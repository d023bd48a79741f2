#!/usr/bin/env python3
"""Where serving latency goes: the CPU scheduler's view of a server and its load generator.

    sched_probe.py --path /tags/x/rss.xml --server feedsmith=http://127.0.0.1:P=PID \
                   --server nginx=http://127.0.0.1:Q=PID1,PID2 [--header 'Accept-Encoding: gzip'] \
                   [--rounds 2] [--duration 5] [--results R.jsonl]

For each round and server (order alternating), runs `wrk -t2 -c64 -dD --latency` and, from
its second second, records one second of scheduler events with `perf sched record`. Prints per
run:

- wrk's req/s and p50/p90/p99;
- the server's CPU time per request (utime + stime of its processes over the whole run,
  divided by wrk's request count);
- for the server's threads and for wrk's threads, from the recorded second: times they were
  switched in, their run lengths (p50/p90/p99, how long a thread kept the CPU), and how often
  a thread that was ready to run waited more than 0.5 ms for a CPU;
- while a server thread waited more than 0.5 ms, which task held that CPU (share of the
  waiting time).

It needs `perf` (Debian: linux-perf) and the right to trace the scheduler (root, or
kernel.perf_event_paranoid ≤ 1). It is not part of `run.sh`: it explains the serving table,
it does not make it. PIDs are the server's processes (nginx: master and workers — all are
matched by thread-group id).
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_bench import parse_wrk, wrk_cmd  # noqa: E402

LONG_WAIT_MS = 0.5
ROW = re.compile(r"^\s*(\d+\.\d+)\s+\[(\d+)\]\s+(\S+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)")
TASK = re.compile(r"^(.*)\[(\d+)(?:/(\d+))?\]$")


def cpu_ticks(pids):
    """utime + stime of the processes (all their threads), in clock ticks."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


def timehist(data):
    """[(end s, cpu, comm, pid, tgid, delay ms, run ms)] from `perf sched timehist`."""
    out = subprocess.run(["perf", "sched", "timehist", "-i", data], capture_output=True,
                         text=True, timeout=300).stdout
    rows = []
    for line in out.splitlines():
        m = ROW.match(line)
        if not m:
            continue
        t = TASK.match(m.group(3))
        if not t:
            continue
        tid = int(t.group(2))
        tgid = int(t.group(3)) if t.group(3) else tid
        rows.append((float(m.group(1)), int(m.group(2)), t.group(1), tid, tgid,
                     float(m.group(5)), float(m.group(6))))
    return rows


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))] if values else 0.0


def side(rows, keep, seconds):
    runs = [r[6] for r in rows if keep(r)]
    waits = [r for r in rows if keep(r) and r[5] > LONG_WAIT_MS]
    return {"switched_in_per_s": round(len(runs) / seconds),
            "run_p50_ms": pct(runs, 0.5), "run_p90_ms": pct(runs, 0.9),
            "run_p99_ms": pct(runs, 0.99),
            "waits_over_0_5ms_per_s": round(len(waits) / seconds)}


def holders(rows, waiting):
    """Share of the long waits' time that each task (by comm) held the waiting thread's CPU."""
    by_cpu = collections.defaultdict(list)
    for r in rows:
        by_cpu[r[1]].append((r[0] - r[6] / 1000, r[0], r[2]))
    held = collections.Counter()
    for end, cpu, _comm, _tid, _tgid, delay, run in waiting:
        w_end = end - run / 1000
        w_start = w_end - delay / 1000
        for start, stop, comm in by_cpu[cpu]:
            overlap = min(w_end, stop) - max(w_start, start)
            if overlap > 0:
                held[comm] += overlap
    total = sum(held.values()) or 1
    return {comm: round(v / total, 3) for comm, v in held.most_common(4)}


def probe(name, url, pids, headers, duration, tmp):
    data = os.path.join(tmp, f"{name}.perf")
    before = cpu_ticks(pids)
    client = subprocess.Popen(wrk_cmd(url, duration, 2, 64, headers), stdout=subprocess.PIPE,
                              text=True)
    time.sleep(1)
    subprocess.run(["perf", "sched", "record", "-o", data, "--", "sleep", "1"],
                   capture_output=True, timeout=120, check=True)
    out, _ = client.communicate(timeout=duration + 60)
    ticks = cpu_ticks(pids) - before
    res = parse_wrk(out)
    rows = timehist(data)
    span = (max(r[0] for r in rows) - min(r[0] for r in rows)) if rows else 1.0
    pid_set = set(pids)
    is_server = lambda r: r[4] in pid_set  # noqa: E731
    is_client = lambda r: r[2] == "wrk"  # noqa: E731
    res.update({
        "tool": name,
        "cpu_us_per_request": round(ticks / os.sysconf("SC_CLK_TCK") * 1e6
                                    / max(res["requests"], 1), 2),
        "server": side(rows, is_server, span),
        "client": side(rows, is_client, span),
        "long_wait_cpu_held_by": holders(
            rows, [r for r in rows if is_server(r) and r[5] > LONG_WAIT_MS]),
    })
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--path", required=True)
    ap.add_argument("--server", action="append", required=True,
                    help="name=http://host:port=PID[,PID…]")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--results")
    a = ap.parse_args()
    servers = []
    for s in a.server:
        name, rest = s.split("=", 1)
        base, pids = rest.rsplit("=", 1)
        servers.append((name, base, [int(p) for p in pids.split(",")]))
    path = urllib.parse.quote(a.path)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            for name, base, pids in (servers if r % 2 == 0 else servers[::-1]):
                res = probe(name, base + path, pids, a.header, a.duration, tmp)
                results.append(res)
                s, c = res["server"], res["client"]
                print(f"round {r + 1} {name:<10} {res['rps']:9.0f} req/s  p50/p90/p99 "
                      f"{res['p50_ms']:.2f}/{res['p90_ms']:.2f}/{res['p99_ms']:.2f} ms  "
                      f"{res['cpu_us_per_request']:.2f} µs CPU/request", flush=True)
                for label, x in (("server", s), ("wrk", c)):
                    print(f"    {label:<6} switched in {x['switched_in_per_s']:6}/s  runs "
                          f"p50/p90/p99 {x['run_p50_ms']:.3f}/{x['run_p90_ms']:.3f}/"
                          f"{x['run_p99_ms']:.3f} ms  waits > {LONG_WAIT_MS} ms "
                          f"{x['waits_over_0_5ms_per_s']}/s", flush=True)
                print(f"    while a server thread waited > {LONG_WAIT_MS} ms its CPU ran: "
                      + ", ".join(f"{k} {v:.0%}" for k, v in
                                  res["long_wait_cpu_held_by"].items()), flush=True)
    if a.results:
        with open(a.results, "a") as f:
            for res in results:
                f.write(json.dumps({"section": "sched_probe", "path": a.path,
                                    "headers": a.header, **res}) + "\n")


if __name__ == "__main__":
    main()
