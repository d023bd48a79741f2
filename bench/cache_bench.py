#!/usr/bin/env python3
"""feedsmith behind Varnish (deploy/varnish.vcl): origin load and edit → served latency, with
purges on change against plain expiry.

    cache_bench.py --bin target-rel/release/feedsmith --corpus /tmp/feedsmith-bench/corpus-10000 \
                   [--duration 20] [--warm 10] [--edits 20] [--connections 64] [--work DIR]

For each mode it starts a release `feedsmith serve` on a hard-linked copy of the corpus and a
`varnishd -F` with the shipped VCL (backend port substituted), on free loopback ports:

- `purge`: `max_age = 300`, `[cache] purge = [varnish]` (so `s-maxage` is a day);
- `expiry 300`: `max_age = 300`, no purge targets (copies live `max_age`);
- `expiry 10`: `max_age = 10`, no purge targets (what a short max-age costs and buys).

Many simulated readers (wrk, 2 threads, --connections, a Lua script) poll a mix of every feed
URL (site, categories, tags; RSS, Atom, JSON), in three `Accept-Encoding`s, 5 % as a browser
navigating, 70 % of repeat polls with `If-None-Match` of the ETag they last got. The cache is
warmed for --warm seconds, then measured for --duration seconds: client requests/s (wrk), origin
requests/s (`varnishstat` MAIN.backend_req), hit ratio. Meanwhile an editor renames a changed
copy over one of the 40 newest posts (a unique title marker) every ~0.5 s and polls its
category feed through Varnish and directly at feedsmith, each on its own keep-alive
connection, until the marker appears: edit → served latency through the cache and direct.
In `expiry 300` no edit can appear before its copy expires (up to 300 s): edits are skipped
there and its latency is `max_age` by construction.

Prints a Markdown table; appends JSON lines to --results if given. Every subprocess is bounded
and stopped on exit.
"""

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from peers import post_info  # noqa: E402

REPO = os.path.dirname(HERE)
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def percentile(xs, p):
    """Nearest-rank percentile."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, -(-len(s) * p // 100) - 1))
    return s[int(k)]


class Procs:
    """Processes to stop (TERM, then KILL) on exit."""

    def __init__(self):
        self.procs = []

    def start(self, cmd, **kw):
        p = subprocess.Popen(cmd, **kw)
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self):
        for p in list(self.procs):
            self.stop(p)


class Poller:
    """GET over one keep-alive connection."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def get(self, path, headers=None):
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                self.conn.request("GET", path, headers=headers or {})
                r = self.conn.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def wait_listening(proc, out_path, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"cache_bench: feedsmith exited early; see {out_path}")
        with open(out_path, errors="replace") as f:
            m = re.search(r"^listening on http://127\.0\.0\.1:(\d+)/", f.read(), re.M)
        if m:
            return int(m.group(1))
        time.sleep(0.05)
    sys.exit("cache_bench: feedsmith not listening in time")


def wait_http(port, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, _ = Poller(port).get("/")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"cache_bench: nothing answers 200 on port {port}")


def varnish_counters(workdir):
    out = subprocess.run(["varnishstat", "-n", workdir, "-1", "-j"], capture_output=True,
                         timeout=30, check=True).stdout
    data = json.loads(out)
    counters = data.get("counters", data)
    def value(name):
        c = counters.get(name, {})
        return c.get("value", 0) if isinstance(c, dict) else 0
    return {k: value(f"MAIN.{k}") for k in ("backend_req", "client_req", "cache_hit",
                                           "cache_miss", "cache_hitmiss", "bans")}


WRK_LUA = r"""
local paths = {%s}
local encodings = {"gzip, deflate, br, zstd", "gzip", ""}
local etags = {}
local last = nil
init = function(args) math.randomseed(os.time() + math.floor(os.clock() * 1000000)) end
local warm = %s
local n = 0
request = function()
  local p, e, view
  if warm then
    -- Every URL in every coding, as a reader and as a browser, in turn.
    local i = n %% (#paths * 6)
    n = n + 1
    p = paths[math.floor(i / 6) + 1]
    e = encodings[i %% 3 + 1]
    view = math.floor(i / 3) %% 2 == 1
  else
    p = paths[math.random(#paths)]
    e = encodings[math.random(#encodings)]
    view = math.random() < 0.05
  end
  local h = {}
  if e ~= "" then h["Accept-Encoding"] = e end
  local key = p .. "|" .. e
  if view then
    h["Accept"] = "%s"
    h["Sec-Fetch-Dest"] = "document"
    h["Sec-Fetch-Mode"] = "navigate"
    key = key .. "|view"
  end
  if etags[key] and math.random() < 0.7 then h["If-None-Match"] = etags[key] end
  last = key
  return wrk.format("GET", p, h)
end
response = function(status, headers, body)
  local etag = headers["etag"] or headers["ETag"]
  if status == 200 and etag and last then etags[last] = etag end
end
"""


def run_wrk(port, lua, seconds, connections):
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", lua,
                          f"http://127.0.0.1:{port}/"], capture_output=True, text=True,
                         timeout=seconds + 60, check=True).stdout
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return float(m.group(1)) if m else 0.0, int(non2xx.group(1)) if non2xx else 0, \
        errors.group(0) if errors else ""


def editor(posts_dir, candidates, vport, fport, edits, gap, timeout, run_id, out, stop):
    """Edits one post `edits` times, `gap` (a number, or a function giving one) apart;
    records (through Varnish, direct) latency in ms."""
    rng = random.Random(7)
    _, name, cat = rng.choice(candidates)
    feed = f"/categories/{cat}/rss.xml"
    through, direct = Poller(vport), Poller(fport)
    through.get(feed)
    direct.get(feed)
    for i in range(edits):
        if stop.is_set():
            break
        path = os.path.join(posts_dir, name)
        marker = f"CACHEBENCH{run_id}X{i:04d}"
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for j, line in enumerate(lines[1:], 1):
            if line.startswith("title:"):
                lines[j] = f'title: "{marker} edit {i}"'
                break
        tmp = os.path.join(posts_dir, f".{name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        os.rename(tmp, path)
        t0 = time.monotonic()
        needle = marker.encode()
        seen = {}

        def poll(label, poller):
            while time.monotonic() - t0 < timeout:
                status, body = poller.get(feed)
                if status == 200 and needle in body:
                    seen[label] = (time.monotonic() - t0) * 1000
                    return
                time.sleep(0.002)

        threads = [threading.Thread(target=poll, args=(label, p))
                   for label, p in (("varnish", through), ("direct", direct))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out.append((seen.get("varnish"), seen.get("direct")))
        time.sleep(gap() if callable(gap) else gap)


def one_mode(a, procs, label, max_age, purge, edits, candidates, run_id):
    work = tempfile.mkdtemp(prefix=f"cache-bench-{label.replace(' ', '-')}-", dir=a.work)
    posts = os.path.join(work, "posts")
    # Hard links: an edit renames a new file over the post, never writes into the shared inode.
    subprocess.run(["cp", "-al", a.corpus, posts], check=True, timeout=300)
    vport = free_port()
    config = os.path.join(work, "feedsmith.toml")
    with open(config, "w") as f:
        f.write(f"[server]\naccess_log = false\nmax_age = {max_age}\ndebounce_ms = 20\n\n"
                f"[feeds]\nlimit = 50\n\n[hub]\nenabled = false\n")
        if purge:
            f.write(f"\n[cache]\npurge = [\"http://127.0.0.1:{vport}\"]\n")
    out_path, err_path = os.path.join(work, "fs.out"), os.path.join(work, "fs.err")
    fs = procs.start([a.bin, "serve", "--config", config, "--posts", posts, "--out",
                      os.path.join(work, "feeds"), "--listen", "127.0.0.1:0"],
                     stdout=open(out_path, "w"), stderr=open(err_path, "w"), cwd=work)
    fport = wait_listening(fs, out_path, 300)
    lua_paths = feed_paths(os.path.join(work, "feeds"))
    with open(os.path.join(REPO, "deploy", "varnish.vcl")) as f:
        vcl = f.read().replace('.port = "8080";', f'.port = "{fport}";')
    vcl_path = os.path.join(work, "feedsmith.vcl")
    with open(vcl_path, "w") as f:
        f.write(vcl)
    vdir = os.path.join(work, "varnish")
    vn = procs.start(["varnishd", "-F", "-j", "none", "-n", vdir, "-a", f"127.0.0.1:{vport}",
                      "-f", vcl_path, "-s", "malloc,512m"],
                     stdout=open(os.path.join(work, "varnishd.log"), "w"),
                     stderr=subprocess.STDOUT)
    wait_http(vport, 60)
    lua, warm_lua = os.path.join(work, "readers.lua"), os.path.join(work, "warm.lua")
    listed = ", ".join(json.dumps(p) for p in lua_paths)
    for path, warm in ((lua, "false"), (warm_lua, "true")):
        with open(path, "w") as f:
            f.write(WRK_LUA % (listed, warm, BROWSER_ACCEPT))
    # Every copy fetched once, then readers at random.
    run_wrk(vport, warm_lua, a.warm, a.connections)
    before = varnish_counters(vdir)
    latencies, stop = [], threading.Event()
    ed = None
    if edits:
        # Purged: edits 0.5 s apart. Expiring: at a random moment of the copy's life, as a
        # real edit would be (else every edit lands just after the refetch its own poll caused).
        rng = random.Random(11)
        gap = 0.5 if purge else (lambda: rng.uniform(0, max_age))
        ed = threading.Thread(target=editor, args=(posts, candidates, vport, fport, edits, gap,
                                                   a.edit_timeout, run_id, latencies, stop))
        ed.start()
    rps, non2xx, errors = run_wrk(vport, lua, a.duration, a.connections)
    after = varnish_counters(vdir)
    if ed is not None:
        ed.join()
    procs.stop(vn)
    procs.stop(fs)
    shutil.rmtree(work, ignore_errors=True)
    delta = {k: after[k] - before[k] for k in after}
    hits = delta["cache_hit"]
    lookups = hits + delta["cache_miss"] + delta["cache_hitmiss"]
    through = [v for v, _ in latencies if v is not None]
    direct = [d for _, d in latencies if d is not None]
    return {
        "section": "cache", "mode": label, "max_age": max_age, "purge": purge,
        "client_rps": rps, "origin_rps": delta["backend_req"] / a.duration,
        "hit_ratio": hits / lookups if lookups else 0.0, "non2xx": non2xx, "errors": errors,
        "edits": len(latencies), "edits_unseen": sum(1 for v, _ in latencies if v is None),
        "varnish_p50_ms": statistics.median(through) if through else None,
        "varnish_p99_ms": percentile(through, 99) if through else None,
        "direct_p50_ms": statistics.median(direct) if direct else None,
        "direct_p99_ms": percentile(direct, 99) if direct else None,
        "bans": delta["bans"], "urls": len(lua_paths),
    }


def feed_paths(feeds):
    """Every feed URL `feeds/` holds: the site's, each category's and tag's, three formats."""
    paths = []
    for root, _, names in os.walk(feeds):
        rel = os.path.relpath(root, feeds)
        if "archive" in rel.split(os.sep):
            continue
        for name in names:
            if name in ("rss.xml", "atom.xml", "feed.json"):
                route = "/" + os.path.normpath(os.path.join(rel, name)).replace(os.sep, "/")
                paths.append(urllib.parse.quote(route))
    return sorted(paths)


def fmt_ms(v):
    return "—" if v is None else f"{v:,.1f} ms"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--warm", type=int, default=10)
    ap.add_argument("--edits", type=int, default=20)
    ap.add_argument("--edit-timeout", type=float, default=30.0)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--work", default=None)
    ap.add_argument("--results", default=None)
    a = ap.parse_args()
    for tool in ("varnishd", "varnishstat", "wrk"):
        if shutil.which(tool) is None:
            sys.exit(f"cache_bench: {tool} is missing")
    a.bin = os.path.abspath(a.bin)
    a.corpus = os.path.abspath(a.corpus)

    posts = []
    for name in os.listdir(a.corpus):
        if name.endswith(".md") and not name.startswith("."):
            date, c, _ = post_info(os.path.join(a.corpus, name))
            if date is not None and c:
                posts.append((date, name, c[0].lower()))
    posts.sort(reverse=True)
    candidates = posts[:40]

    procs = Procs()
    run_id = f"{os.getpid()}{int(time.time()) % 100000}"
    results = []
    try:
        for label, max_age, purge, edits in (("purge", 300, True, a.edits),
                                             ("expiry 300", 300, False, 0),
                                             ("expiry 10", 10, False, max(1, a.edits // 2))):
            print(f"== {label}: max_age {max_age}, purge {purge}", flush=True)
            r = one_mode(a, procs, label, max_age, purge, edits, candidates, run_id)
            print(json.dumps(r), flush=True)
            results.append(r)
    finally:
        procs.stop_all()
    if a.results:
        with open(a.results, "a") as f:
            for r in results:
                f.write(json.dumps(r) + "\n")
    print()
    print(f"{len(posts):,} posts, {results[0]['urls']:,} feed URLs; wrk -t2 -c{a.connections}, "
          f"{a.warm} s warm-up then {a.duration} s measured")
    print()
    print("| mode | client req/s | origin req/s | hit ratio | edit → served through Varnish "
          "p50 / p99 | direct p50 / p99 | edits (unseen) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(f"| {r['mode']} (max_age {r['max_age']}) | {r['client_rps']:,.0f} | "
              f"{r['origin_rps']:,.1f} | {r['hit_ratio'] * 100:.2f} % | "
              f"{fmt_ms(r['varnish_p50_ms'])} / {fmt_ms(r['varnish_p99_ms'])} | "
              f"{fmt_ms(r['direct_p50_ms'])} / {fmt_ms(r['direct_p99_ms'])} | "
              f"{r['edits']} ({r['edits_unseen']}) |")


if __name__ == "__main__":
    main()
