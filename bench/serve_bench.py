#!/usr/bin/env python3
"""HTTP serving: feedsmith vs nginx on the same file, wrk, rounds alternating servers.

    serve_bench.py --path /tags/x/rss.xml --server feedsmith=http://127.0.0.1:P \
                   --server nginx=http://127.0.0.1:Q --rounds 3 --duration 10 \
                   --results RESULTS.jsonl

First checks each server with curl: identity 200 with an ETag, `Accept-Encoding: gzip` answered
with `Content-Encoding: gzip` and identical decoded bytes, and `If-None-Match: <its ETag>`
answered 304. Then, per round, per scenario (identity, gzip, conditional), runs
`wrk -t2 -c64 -dD --latency` against each server, the server order alternating every round.
Appends one JSON line per (scenario, server). Every subprocess has a timeout.
"""

import argparse
import gzip
import json
import re
import statistics
import subprocess
import sys
import urllib.parse

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def curl(url, headers=(), body_file=None):
    """(status, {lower-case header: value}, body bytes) via curl."""
    cmd = ["curl", "-sS", "--max-time", "10", "-D", "-", "-o", body_file or "/dev/null"]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run(cmd + [url], capture_output=True, timeout=20, check=True).stdout
    lines = out.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    body = b""
    if body_file:
        with open(body_file, "rb") as f:
            body = f.read()
    return status, hdrs, body


def check_server(name, base, path, tmp):
    url = base + path
    st, h, body = curl(url, body_file=f"{tmp}/{name}-identity")
    if st != 200 or "etag" not in h:
        sys.exit(f"serve_bench: {name} {url}: status {st}, ETag {h.get('etag')}")
    if h.get("content-encoding"):
        sys.exit(f"serve_bench: {name} sent {h['content-encoding']} without Accept-Encoding")
    st, hz, zbody = curl(url, ["Accept-Encoding: gzip"], body_file=f"{tmp}/{name}-gzip")
    if st != 200 or hz.get("content-encoding") != "gzip":
        sys.exit(f"serve_bench: {name}: gzip request got {st}, "
                 f"Content-Encoding {hz.get('content-encoding')}")
    if gzip.decompress(zbody) != body:
        sys.exit(f"serve_bench: {name}: gzip body does not decode to the identity body")
    st304, h304, _ = curl(url, [f"If-None-Match: {h['etag']}"])
    if st304 != 304:
        sys.exit(f"serve_bench: {name}: If-None-Match {h['etag']} got {st304}, not 304")
    print(f"  {name}: {len(body)} bytes, type {h.get('content-type')}, ETag {h['etag']}, "
          f"gzip {len(zbody)} bytes (ETag {hz.get('etag')}), conditional → 304", flush=True)
    return {"etag": h["etag"], "bytes": len(body), "gzip_bytes": len(zbody),
            "content_type": h.get("content-type")}


def to_ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)$", v)
    return float(m.group(1)) * UNITS[m.group(2)]


def wrk_cmd(url, duration, threads, conns, headers=()):
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--latency",
           "--timeout", "5s"]
    for h in headers:
        cmd += ["-H", h]
    return cmd + [url]


def parse_wrk(out):
    """req/s, p50/p90/p99 (ms), requests, errors from `wrk --latency` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    pct = {q: re.search(rf"^\s+{q}%\s+(\S+)", out, re.M) for q in (50, 90, 99)}
    total = re.search(r"^\s+(\d+) requests in", out, re.M)
    if not (rps and total and all(pct.values())):
        sys.exit(f"serve_bench: cannot parse wrk output:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    return {"rps": float(rps.group(1)), "requests": int(total.group(1)),
            "p50_ms": to_ms(pct[50].group(1)), "p90_ms": to_ms(pct[90].group(1)),
            "p99_ms": to_ms(pct[99].group(1)),
            "non2xx3xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": sock.group(1) if sock else ""}


def wrk(url, duration, threads, conns, headers=()):
    out = subprocess.run(wrk_cmd(url, duration, threads, conns, headers), capture_output=True,
                         text=True, timeout=duration + 60).stdout
    return parse_wrk(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--path", required=True)
    ap.add_argument("--server", action="append", required=True, help="name=http://host:port")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--tmp", default="/tmp")
    ap.add_argument("--results", required=True)
    a = ap.parse_args()
    servers = [tuple(s.split("=", 1)) for s in a.server]
    path = urllib.parse.quote(a.path)
    info = {name: check_server(name, base, path, a.tmp) for name, base in servers}
    sizes = {i["bytes"] for i in info.values()}
    if len(sizes) != 1:
        sys.exit(f"serve_bench: servers return different bodies: {info}")
    scenarios = {
        "identity": lambda name: [],
        "gzip": lambda name: ["Accept-Encoding: gzip"],
        "conditional": lambda name: [f"If-None-Match: {info[name]['etag']}"],
    }
    for name, base in servers:  # warm-up: connections, page cache, compressed forms
        for sc in ("identity", "gzip"):
            wrk(base + path, a.warmup, a.threads, a.conns, scenarios[sc](name))
    runs = {(sc, name): [] for sc in scenarios for name, _ in servers}
    for r in range(a.rounds):
        order = servers if r % 2 == 0 else servers[::-1]
        for sc, hdrs in scenarios.items():
            for name, base in order:
                res = wrk(base + path, a.duration, a.threads, a.conns, hdrs(name))
                runs[(sc, name)].append(res)
                print(f"  serve round {r + 1}  {sc:<11} {name:<10} {res['rps']:10.0f} req/s  "
                      f"p50 {res['p50_ms']:7.2f} ms  p99 {res['p99_ms']:7.2f} ms"
                      + (f"  non-2xx/3xx {res['non2xx3xx']}" if res["non2xx3xx"] else "")
                      + (f"  socket errors {res['socket_errors']}" if res["socket_errors"] else ""),
                      flush=True)
    with open(a.results, "a") as f:
        for (sc, name), rs in runs.items():
            f.write(json.dumps({
                "section": "serve", "scenario": sc, "tool": name, "path": a.path,
                "bytes": info[name]["bytes"], "gzip_bytes": info[name]["gzip_bytes"],
                "duration": a.duration, "threads": a.threads, "conns": a.conns,
                "rps": [x["rps"] for x in rs], "p99_ms": [x["p99_ms"] for x in rs],
                "rps_median": statistics.median(x["rps"] for x in rs),
                "p99_median": statistics.median(x["p99_ms"] for x in rs),
                "p50_median": statistics.median(x["p50_ms"] for x in rs),
                "errors": sum(x["non2xx3xx"] for x in rs),
                "socket_errors": [x["socket_errors"] for x in rs if x["socket_errors"]],
            }) + "\n")


if __name__ == "__main__":
    main()
