#!/usr/bin/env python3
"""feedsmith at scale, one corpus size per call (bench/run.sh section 4).

    scale.py --bin FEEDSMITH --corpus DIR --size N --work DIR --results RESULTS.jsonl \
             [--edits 20] [--build-runs 3] [--pages 200]

1. Corpus: apparent size (sum of the file sizes) and file count of DIR.
2. Serve memory: DIR is copied to WORK/posts (the cached corpus is never edited), then
   `feedsmith serve --config CFG --posts WORK/posts --out WORK/feeds --listen 127.0.0.1:0`
   (CFG: access_log = false, debounce_ms = 20; default feeds.limit 50, archives on) is started
   in WORK (so its hub state dir lands there too). Time to ready = start → "listening on" on
   its stdout; VmHWM/VmRSS are read from /proc/PID/status right then. Traffic: /feeds.opml,
   every feed it lists in all three formats (rss.xml, atom.xml, feed.json), each once with
   `Accept-Encoding: gzip` and once without; the all-posts /atom.xml's `prev-archive` chain to
   its end; --pages post pages (item links of /rss.xml, then of the category feeds). VmHWM again.
3. Edit cost: bench/edit_latency.py itself runs --edits edits against the server (same method
   as section 3); the server's own `republished: … N ms` log lines give its republish time.
   VmHWM once more.
4. The server is stopped with SIGTERM (it must exit 0 within 30 s).
5. Cold build: `feedsmith build` on DIR (output removed before every run), archives on and
   `[feeds] archive = false`, interleaved, --build-runs runs each; wall time, peak RSS from
   `/usr/bin/time -f %M`.

Appends one JSON line (section "scale") to RESULTS. Any failure (server exits, a non-200
answer, a deadline) prints `scale: …` and exits 1; the server is stopped on every exit path,
and it also gets SIGTERM if this script dies (PR_SET_PDEATHSIG). Standard library only.
"""

import argparse
import ctypes
import html
import http.client
import json
import os
import re
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True   # no bench/__pycache__ in the work tree
sys.path.insert(0, HERE)
from build_bench import run_once  # noqa: E402
from edit_latency import percentile  # noqa: E402

SERVE_CFG = "[server]\naccess_log = false\ndebounce_ms = 20\n"
NO_ARCHIVE_CFG = SERVE_CFG + "\n[feeds]\narchive = false\n"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
REPUBLISHED = re.compile(r"republished: (\d+) files changed(?: \([^)]*\))?, (\d+) documents rendered.*, "
                         r"([\d.]+) ms\s*$")
INITIAL = re.compile(r"initial build: .*, ([\d.]+) ms\s*$")
FEED_LINK = re.compile(rb"<link\b[^>]*>")
ATTR = re.compile(rb'([\w:-]+)="([^"]*)"')
ITEM_LINK = re.compile(rb"<item>.*?<link>([^<]*)</link>", re.S)


class Fail(Exception):
    pass


def fail(msg):
    raise Fail(msg)


def log(msg):
    print(f"  scale {msg}", flush=True)


# ---------------------------------------------------------------- corpus and /proc

def dir_bytes(path):
    """(sum of apparent file sizes, file count) under path."""
    total = files = 0
    for dirpath, _, names in os.walk(path):
        for n in names:
            st = os.lstat(os.path.join(dirpath, n))
            total += st.st_size
            files += 1
    return total, files


def mem(pid):
    """VmHWM, VmRSS, RssAnon, RssFile of pid, in kB."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "Threads"):
                    out[k] = int(v.split()[0])
    except OSError as e:
        fail(f"cannot read /proc/{pid}/status: {e}")
    if "VmHWM" not in out:
        fail(f"no VmHWM in /proc/{pid}/status")
    return out


# ---------------------------------------------------------------- the server

def pdeathsig():
    """In the child: SIGTERM when this script dies, so no server outlives a killed run."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Server:
    def __init__(self, binary, work, posts, out, cfg):
        self.err_path = os.path.join(work, "serve.err")
        self.out_path = os.path.join(work, "serve.out")
        self.err = open(self.err_path, "wb")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [binary, "serve", "--config", cfg, "--posts", posts, "--out", out,
             "--listen", "127.0.0.1:0"],
            cwd=work, stdout=subprocess.PIPE, stderr=self.err, preexec_fn=pdeathsig)
        self.stdout = b""
        self.port = None

    def wait_ready(self, timeout):
        """Reads stdout until "listening on http://…"; returns seconds since the start."""
        sel = selectors.DefaultSelector()
        fd = self.proc.stdout.fileno()
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
        deadline = self.t0 + timeout
        try:
            while True:
                m = re.search(rb"^listening on http://127\.0\.0\.1:(\d+)/", self.stdout, re.M)
                if m:
                    ready = time.monotonic() - self.t0
                    self.port = int(m.group(1))
                    return ready
                left = deadline - time.monotonic()
                if left <= 0:
                    fail(f"server not listening after {timeout:.0f} s; see {self.err_path}")
                if sel.select(min(left, 0.5)):
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        self.proc.wait(5)
                        fail(f"server exited early (exit {self.proc.returncode}): "
                             f"{self.tail()}")
                    self.stdout += chunk
                elif self.proc.poll() is not None:
                    fail(f"server exited early (exit {self.proc.returncode}): {self.tail()}")
        finally:
            sel.close()

    def drain(self, until=None, timeout=0.0):
        """Whatever else the server printed on stdout (never more than a few lines); waits up
        to `timeout` s for the bytes `until`."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
                if chunk:
                    self.stdout += chunk
                    continue
                return   # EOF
            except BlockingIOError:
                pass
            except OSError:
                return
            if until is None or until in self.stdout or time.monotonic() > deadline:
                return
            time.sleep(0.01)

    def alive(self, when):
        if self.proc.poll() is not None:
            fail(f"server exited (exit {self.proc.returncode}) {when}: {self.tail()}")

    def tail(self, n=2000):
        if not self.err.closed:
            self.err.flush()
        try:
            with open(self.err_path, "rb") as f:
                data = f.read()[-n:]
        except OSError:
            return "(no log)"
        return ANSI.sub("", data.decode("utf-8", "replace")).strip()

    def log_text(self):
        if not self.err.closed:
            self.err.flush()
        with open(self.err_path, "rb") as f:
            return ANSI.sub("", f.read().decode("utf-8", "replace"))

    def stop(self, timeout=30):
        """SIGTERM; returns the exit code, or None if it had to be killed."""
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            return None
        finally:
            self.drain()
            with open(self.out_path, "wb") as f:
                f.write(self.stdout)
            self.err.close()


# ---------------------------------------------------------------- HTTP

class Client:
    """One keep-alive connection to the server; every answer must be 200."""

    def __init__(self, port, server, deadline):
        self.port, self.server, self.deadline = port, server, deadline
        self.conn = None
        self.requests = 0
        self.bytes = 0

    def get(self, path, gzip_ok=False):
        if time.monotonic() > self.deadline:
            fail(f"traffic not done by its deadline (at {path})")
        headers = {"Accept-Encoding": "gzip"} if gzip_ok else {"Accept-Encoding": "identity"}
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                self.conn.request("GET", path, headers=headers)
                r = self.conn.getresponse()
                body = r.read()
                break
            except (http.client.HTTPException, OSError) as e:
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                self.server.alive(f"during GET {path}")
                if attempt:
                    fail(f"GET {path}: {e!r}")
        self.requests += 1
        self.bytes += len(body)
        if r.status != 200:
            fail(f"GET {path}{' (gzip)' if gzip_ok else ''}: status {r.status}")
        enc = (r.getheader("Content-Encoding") or "").lower()
        if gzip_ok and enc == "gzip" and not body.startswith(b"\x1f\x8b"):
            fail(f"GET {path}: Content-Encoding gzip but not a gzip body")
        if not gzip_ok and enc not in ("", "identity"):
            fail(f"GET {path} without Accept-Encoding: Content-Encoding {enc}")
        return body, enc

    def close(self):
        if self.conn is not None:
            self.conn.close()


def local_path(url, port):
    """The path of an absolute URL that must point at the server itself."""
    u = urllib.parse.urlsplit(url)
    if u.hostname != "127.0.0.1" or u.port != port:
        fail(f"link does not point at the server (127.0.0.1:{port}): {url}")
    return u.path + (f"?{u.query}" if u.query else "")


def prev_archive(body):
    """href of the Atom feed's <link rel="prev-archive">, or None."""
    head = body.split(b"<entry>", 1)[0]
    for tag in FEED_LINK.findall(head):
        attrs = dict(ATTR.findall(tag))
        if attrs.get(b"rel") == b"prev-archive":
            return html.unescape(attrs[b"href"].decode())
    return None


def traffic(client, port, size, pages):
    t0 = time.monotonic()
    stats = {}
    opml, _ = client.get("/feeds.opml")
    try:
        root = ET.fromstring(opml)
    except ET.ParseError as e:
        fail(f"/feeds.opml does not parse: {e}")
    rss_urls = [o.get("xmlUrl") for o in root.iter("outline") if o.get("xmlUrl")]
    if not rss_urls:
        fail("/feeds.opml lists no feed")
    feeds = []
    for u in rss_urls:
        p = local_path(u, port)
        if not p.endswith("/rss.xml"):
            fail(f"/feeds.opml lists a feed that is not rss.xml: {u}")
        feeds.append(p)
    encoded = 0
    for p in feeds:
        base = p[:-len("rss.xml")]
        for name in ("rss.xml", "atom.xml", "feed.json"):
            for gz in (True, False):
                _, enc = client.get(base + name, gzip_ok=gz)
                encoded += gz and enc == "gzip"
    stats["feeds"] = len(feeds)
    stats["feed_requests"] = len(feeds) * 6
    stats["gzip_answers"] = encoded
    log(f"{size}: {len(feeds)} feeds × 3 formats × (gzip, identity) = {len(feeds) * 6} GETs, "
        f"{encoded} answered gzip")

    # The all-posts Atom feed's RFC 5005 chain (the archived one by default), newest page to
    # oldest.
    body, _ = client.get("/atom.xml")
    items = body.count(b"<entry>")
    seen = {"/atom.xml"}
    chain = 0
    href = prev_archive(body)
    while href:
        p = local_path(href, port)
        if p in seen:
            fail(f"prev-archive chain loops at {p}")
        if chain > size + 10:
            fail(f"prev-archive chain longer than {size + 10} pages")
        seen.add(p)
        body, _ = client.get(p)
        chain += 1
        items += body.count(b"<entry>")
        href = prev_archive(body)
    stats["archive_pages"] = chain
    stats["chain_items"] = items
    log(f"{size}: /atom.xml prev-archive chain: {chain} archive pages, {items} items in all")

    # Post pages: item links of /rss.xml, then of the category feeds.
    links = []
    sources = ["/rss.xml"] + [p for p in feeds if p.startswith("/categories/")]
    for src in sources:
        if len(links) >= pages:
            break
        body, _ = client.get(src)
        for raw in ITEM_LINK.findall(body):
            p = local_path(html.unescape(raw.decode()), port)
            if p not in links:
                links.append(p)
    if len(links) < pages:
        fail(f"only {len(links)} distinct post links in /rss.xml and the category feeds "
             f"(wanted {pages})")
    for p in links[:pages]:
        client.get(p)
    stats["post_pages"] = pages
    stats["requests"] = client.requests
    stats["bytes"] = client.bytes
    stats["seconds"] = time.monotonic() - t0
    return stats


# ---------------------------------------------------------------- edits

def edits(posts, port, size, n, timeout, results_tmp):
    """bench/edit_latency.py against the running server; returns its latencies (ms)."""
    cmd = [sys.executable, os.path.join(HERE, "edit_latency.py"), "--posts", posts,
           "--base", f"http://127.0.0.1:{port}", "--feed", "/categories/{cat}/rss.xml",
           "--edits", str(n), "--timeout", str(timeout), "--tool", "feedsmith",
           "--size", str(size), "--note", "scale", "--results", results_tmp]
    try:
        p = subprocess.run(cmd, timeout=n * (timeout + 1) + 300,
                           env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    except subprocess.TimeoutExpired:
        fail("edit_latency.py did not finish in time")
    if p.returncode != 0:
        fail(f"edit_latency.py failed (exit {p.returncode})")
    with open(results_tmp) as f:
        rec = json.loads(f.read().strip().splitlines()[-1])
    return rec["lat_ms"]


# ---------------------------------------------------------------- cold build

def warm(corpus):
    for dirpath, _, names in os.walk(corpus):
        for name in names:
            with open(os.path.join(dirpath, name), "rb") as f:
                while f.read(1 << 20):
                    pass


def build_once(binary, cfg, corpus, out, work, tag, timeout):
    """One cold build, timed the way section 1 times every tool (build_bench.run_once)."""
    tool = {"name": f"feedsmith build ({tag})", "timeout": timeout, "clean": [out],
            "cmd": [binary, "build", "--config", cfg, "--posts", corpus, "--out", out]}
    wall, rss = run_once(tool, work, tag)
    out_bytes, out_files = dir_bytes(out)
    # Left in place: the next run_once moves it aside, and cold_builds empties the trash at
    # the end, so no build runs just after thousands of files were deleted.
    return wall, rss, out_bytes, out_files


def cold_builds(binary, corpus, work, size, runs, timeout):
    cfgs = {"archives_on": os.path.join(work, "build-on.toml"),
            "archives_off": os.path.join(work, "build-off.toml")}
    with open(cfgs["archives_on"], "w") as f:
        f.write(SERVE_CFG)
    with open(cfgs["archives_off"], "w") as f:
        f.write(NO_ARCHIVE_CFG)
    warm(corpus)
    res = {k: {"walls": [], "rss_kb": []} for k in cfgs}
    order = list(cfgs)
    for r in range(runs):
        for k in (order if r % 2 == 0 else order[::-1]):
            wall, rss, ob, of = build_once(binary, cfgs[k], corpus, os.path.join(work, "build-out"),
                                           work, f"{k}-{r}", timeout)
            res[k]["walls"].append(wall)
            res[k]["rss_kb"].append(rss)
            res[k]["out_bytes"], res[k]["out_files"] = ob, of
            log(f"{size}: cold build {k.replace('_', ' ')} run {r + 1}/{runs}: {wall:.2f} s, "
                f"{rss / 1024:.0f} MiB peak, {of:,} files / {ob / 1e6:,.1f} MB written")
    out = os.path.join(work, "build-out")
    if os.path.lexists(out):
        shutil.rmtree(out)
    shutil.rmtree(os.path.join(work, ".trash"), ignore_errors=True)
    for k in res:
        res[k]["runs"] = runs
        res[k]["wall_median"] = statistics.median(res[k]["walls"])
        res[k]["rss_kb_max"] = max(res[k]["rss_kb"])
    return res


# ---------------------------------------------------------------- main

def run(a, work):
    corpus = os.path.abspath(a.corpus)
    if not os.path.isdir(corpus):
        fail(f"no corpus at {corpus}")
    if not os.access(a.bin, os.X_OK):
        fail(f"no feedsmith binary at {a.bin}")
    rec = {"section": "scale", "size": a.size}
    rec["corpus_bytes"], rec["corpus_files"] = dir_bytes(corpus)
    log(f"{a.size}: corpus {rec['corpus_bytes'] / 1e6:,.1f} MB in {rec['corpus_files']:,} files")

    posts = os.path.join(work, "posts")
    t0 = time.monotonic()
    shutil.copytree(corpus, posts)
    log(f"{a.size}: corpus copied in {time.monotonic() - t0:.1f} s")
    cfg = os.path.join(work, "serve.toml")
    with open(cfg, "w") as f:
        f.write(SERVE_CFG)

    server = Server(a.bin, work, posts, os.path.join(work, "feeds"), cfg)
    a._server = server
    rec["ready_s"] = server.wait_ready(a.ready_timeout)
    m_ready = mem(server.proc.pid)
    server.drain(until=b"documents", timeout=2)
    m = INITIAL.search(server.log_text())
    rec["initial_build_ms"] = float(m.group(1)) if m else None
    m = re.search(rb"serving (\d+) documents", server.stdout)
    rec["documents"] = int(m.group(1)) if m else None
    log(f"{a.size}: ready in {rec['ready_s']:.2f} s (initial build {rec['initial_build_ms']} ms "
        f"by its log); VmHWM {m_ready['VmHWM'] / 1024:.0f} MiB, "
        f"VmRSS {m_ready['VmRSS'] / 1024:.0f} MiB")

    client = Client(server.port, server, time.monotonic() + a.traffic_timeout)
    rec["traffic"] = traffic(client, server.port, a.size, a.pages)
    client.close()
    if rec["traffic"]["chain_items"] != rec["corpus_files"]:
        # Every post once along the chain (RFC 5005), if every file is a valid post.
        log(f"{a.size}: WARNING: {rec['traffic']['chain_items']} items along the prev-archive "
            f"chain for {rec['corpus_files']} files (archives off, or posts skipped?)")
    server.alive("after the traffic")
    m_traffic = mem(server.proc.pid)
    log(f"{a.size}: traffic: {rec['traffic']['requests']:,} GETs, "
        f"{rec['traffic']['bytes'] / 1e6:,.1f} MB in {rec['traffic']['seconds']:.1f} s; "
        f"VmHWM {m_traffic['VmHWM'] / 1024:.0f} MiB, VmRSS {m_traffic['VmRSS'] / 1024:.0f} MiB")

    lat = edits(posts, server.port, a.size, a.edits, a.edit_timeout,
                os.path.join(work, "edit-results.jsonl"))
    time.sleep(0.5)   # the last republish's log line
    server.alive("after the edits")
    m_edits = mem(server.proc.pid)
    rep = [(int(f), int(d), float(ms)) for f, d, ms in
           (REPUBLISHED.search(line).groups() for line in server.log_text().splitlines()
            if REPUBLISHED.search(line))]
    if not rep:
        fail(f"no `republished: …` line in the server's log after {a.edits} edits")
    rec.update({
        "edits": len(lat), "edit_lat_ms": lat, "edit_p50_ms": statistics.median(lat),
        "edit_p99_ms": percentile(lat, 99),
        "republishes": len(rep), "republish_ms": [r[2] for r in rep],
        "republish_median_ms": statistics.median(r[2] for r in rep),
        "republish_max_ms": max(r[2] for r in rep),
        "republish_files_changed": sorted({r[0] for r in rep}),
        "republish_rendered_median": statistics.median(r[1] for r in rep),
    })
    log(f"{a.size}: {len(lat)} edits: p50 {rec['edit_p50_ms']:.1f} ms, "
        f"p99 {rec['edit_p99_ms']:.1f} ms; {len(rep)} republishes by its log: median "
        f"{rec['republish_median_ms']:.1f} ms, max {rec['republish_max_ms']:.1f} ms; "
        f"VmHWM {m_edits['VmHWM'] / 1024:.0f} MiB, VmRSS {m_edits['VmRSS'] / 1024:.0f} MiB")

    rec["mem_kb"] = {"ready": m_ready, "traffic": m_traffic, "edits": m_edits}
    rec["peak_hwm_kb"] = max(x["VmHWM"] for x in rec["mem_kb"].values())
    rec["peak_over_corpus"] = rec["peak_hwm_kb"] * 1024 / rec["corpus_bytes"]

    rc = server.stop()
    a._server = None
    if rc is None:
        fail(f"server did not exit within 30 s of SIGTERM (killed): {server.tail()}")
    if rc != 0:
        fail(f"server exited {rc} on SIGTERM: {server.tail()}")
    if "shut down cleanly" not in server.log_text():
        fail(f"server exited 0 but logged no `shut down cleanly`: {server.tail()}")
    rec["stop_rc"] = rc

    if a.build_runs > 0:  # 0: serve memory and edits only (report.py needs the builds)
        rec["build"] = cold_builds(a.bin, corpus, work, a.size, a.build_runs, a.build_timeout)
    # The serving copy goes only now: deleted before the cold builds, its freed inodes would
    # slow every file they create (the cost build_bench.py avoids the same way).
    shutil.rmtree(posts)
    shutil.rmtree(os.path.join(work, "feeds"), ignore_errors=True)
    log(f"{a.size}: peak RSS {rec['peak_hwm_kb'] / 1024:.0f} MiB = "
        f"{rec['peak_over_corpus']:.2f}× the corpus")
    with open(a.results, "a") as f:
        f.write(json.dumps(rec) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="the feedsmith release binary")
    ap.add_argument("--corpus", required=True, help="posts directory (read only)")
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--work", required=True, help="scratch dir (created; removed on success)")
    ap.add_argument("--results", required=True)
    ap.add_argument("--edits", type=int, default=20)
    ap.add_argument("--edit-timeout", type=float, default=30.0)
    ap.add_argument("--build-runs", type=int, default=3)
    ap.add_argument("--build-timeout", type=int, default=3600)
    ap.add_argument("--pages", type=int, default=200, help="post pages to GET")
    ap.add_argument("--ready-timeout", type=float, default=1800.0)
    ap.add_argument("--traffic-timeout", type=float, default=3600.0)
    a = ap.parse_args()
    a.bin = os.path.abspath(a.bin)
    a._server = None

    def on_signal(sig, _frame):
        print(f"scale: {a.size} posts: interrupted by signal {sig}; stopping the server",
              file=sys.stderr, flush=True)
        raise SystemExit(128 + sig)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)

    work = os.path.abspath(a.work)
    if os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(work)
    ok = False
    try:
        run(a, work)
        ok = True
    except Fail as e:
        print(f"scale: {a.size} posts: {e}", file=sys.stderr, flush=True)
    finally:
        if a._server is not None:
            a._server.stop()
        if ok and not os.environ.get("KEEP_WORK") == "1":
            shutil.rmtree(work, ignore_errors=True)
        else:
            # Keep the logs, not the copies of the corpus.
            for d in ("posts", "feeds", "build-out"):
                shutil.rmtree(os.path.join(work, d), ignore_errors=True)
            if not ok:
                print(f"scale: logs kept in {work}", file=sys.stderr)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
