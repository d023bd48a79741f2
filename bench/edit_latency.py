#!/usr/bin/env python3
"""Edit → served latency: rename a changed post into place, poll its category feed over HTTP.

    edit_latency.py --posts DIR --base http://127.0.0.1:P --feed '/categories/{cat}/rss.xml' \
                    --edits 50 --tool feedsmith --size 1000 --results RESULTS.jsonl

One post is edited every time (as the issue asks: "edit one post 50 times"), picked by --seed
among the 40 newest (so it is inside its category feed's 50-item limit, for feedsmith and Hugo
alike). Each edit: read the post, replace its `title:` line with a unique
ASCII marker, write a hidden `*.tmp` file in the same directory (ignored by both watchers),
`os.rename` it over the post, and from right after the rename poll GET of the first category's
feed (keep-alive connection, opened before the first edit; ~2 ms between requests) until the body contains the marker. The
time recorded is rename → first response that contains the marker. Edits are ~gap apart.
An edit that is not visible within --timeout seconds aborts the run (exit 1).
"""

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers import post_info  # noqa: E402


def percentile(xs, p):
    """Nearest-rank percentile."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, -(-len(s) * p // 100) - 1))
    return s[int(k)]


class Poller:
    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.conn = None

    def get(self, path):
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
                self.conn.request("GET", path, headers={"Cache-Control": "no-cache"})
                r = self.conn.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--feed", required=True, help="path pattern with {cat}")
    ap.add_argument("--edits", type=int, default=50)
    ap.add_argument("--gap", type=float, default=0.2)
    ap.add_argument("--poll", type=float, default=0.002)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--tool", required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--note", default="")
    ap.add_argument("--results", required=True)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()

    posts = []
    for name in os.listdir(a.posts):
        if name.endswith(".md") and not name.startswith("."):
            date, cats, _ = post_info(os.path.join(a.posts, name))
            if date is not None and cats:
                posts.append((date, name, cats[0].lower()))
    posts.sort(reverse=True)
    candidates = posts[:40]
    rng = random.Random(a.seed)
    poller = Poller(a.base)
    lat, polls = [], []
    run_id = f"{os.getpid()}{int(time.time()) % 100000}"
    _, name, cat = rng.choice(candidates)
    # The keep-alive connection is opened (and the feed read once) before the first edit, so
    # that no edit's time includes connecting.
    poller.get(urllib.parse.quote(a.feed.format(cat=cat)))
    for i in range(a.edits):
        path = os.path.join(a.posts, name)
        feed = urllib.parse.quote(a.feed.format(cat=cat))
        marker = f"BENCHMARK{run_id}X{i:04d}"
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for j, line in enumerate(lines[1:], 1):
            if line == "---":
                sys.exit(f"edit_latency: {name} has no title line")
            if line.startswith("title:"):
                lines[j] = f'title: "{marker} edit {i}"'
                break
        tmp = os.path.join(a.posts, f".{name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        os.rename(tmp, path)
        t0 = time.monotonic()
        deadline = t0 + a.timeout
        n = 0
        needle = marker.encode()
        while True:
            status, body = poller.get(feed)
            n += 1
            if status == 200 and needle in body:
                dt = time.monotonic() - t0
                break
            if time.monotonic() > deadline:
                sys.exit(f"edit_latency: {a.tool}: edit {i} of {name} not visible in {feed} "
                         f"after {a.timeout} s (last status {status})")
            time.sleep(a.poll)
        lat.append(dt * 1000)
        polls.append(n)
        print(f"  edit {a.tool:<9} {a.size:>6} posts  #{i + 1:<3} {name}  {dt * 1000:8.1f} ms "
              f"({n} polls)", flush=True)
        time.sleep(a.gap)
    rec = {"section": "edit", "tool": a.tool, "size": a.size, "edits": len(lat),
           "lat_ms": lat, "p50_ms": statistics.median(lat), "p99_ms": percentile(lat, 99),
           "min_ms": min(lat), "max_ms": max(lat), "polls_median": statistics.median(polls),
           "note": a.note}
    with open(a.results, "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(f"  edit {a.tool} {a.size}: p50 {rec['p50_ms']:.1f} ms  p99 {rec['p99_ms']:.1f} ms",
          flush=True)


if __name__ == "__main__":
    main()
