#!/usr/bin/env python3
"""Turns bench/run.sh's RESULTS.jsonl into one Markdown report (stdout and bench/results.md).

    report.py RESULTS.jsonl OUT.md --feedsmith BIN --command "bench/run.sh ..." [--notes FILE]
"""

import argparse
import json
import os
import platform
import subprocess
import time


def sh(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (p.stdout + p.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


def dirty(repo):
    """' + uncommitted changes in src/' when the work tree's sources differ from HEAD."""
    try:
        p = subprocess.run(["git", "-C", repo, "status", "--porcelain", "--", "src", "Cargo.toml",
                            "Cargo.lock"], capture_output=True, text=True, timeout=30)
        return " + uncommitted changes in src/" if p.stdout.strip() else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def machine(feedsmith, repo):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 1048576:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    rows = [
        ("date", time.strftime("%Y-%m-%d %H:%M:%S %Z")),
        ("nproc", str(os.cpu_count())),
        ("CPU", cpu),
        ("memory", mem),
        ("kernel", platform.release()),
        ("load average at report time", " ".join(f"{x:.2f}" for x in os.getloadavg())),
        ("feedsmith", sh([feedsmith, "--version"]) + "  (git " +
         sh(["git", "-C", repo, "rev-parse", "--short", "HEAD"]) + dirty(repo) +
         ", release build)"),
        ("hugo", sh(["hugo", "version"])),
        ("jekyll", sh(["jekyll", "-v"]) + ", jekyll-feed " +
         sh(["dpkg-query", "-W", "-f", "${Version}", "ruby-jekyll-feed"])),
        ("nginx", sh(["nginx", "-v"])),
        ("wrk", sh(["wrk", "-v"])),
        ("python3", sh(["python3", "--version"])),
    ]
    return rows


def ratio(a, b):
    return f"{a / b:.2f}×" if a and b else "–"


def fmt_ms(x):
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def build_table(recs):
    if not recs:
        return []
    out = ["## 1. Cold build (no output dir or caches at the start of each run; page cache warm)", "",
           "| posts | tool | output | feeds written | files | bytes | runs | median wall "
           "| tool / feedsmith | peak RSS | RSS tool / feedsmith |",
           "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for size in sorted({r["size"] for r in recs}):
        rs = [r for r in recs if r["size"] == size]
        base = next((r for r in rs if r["tool"] == "feedsmith"), None)
        for r in rs:
            rel = "1.00× (base)" if r is base else (ratio(r["wall_median"], base["wall_median"])
                                                    if base else "–")
            rrel = "" if r is base else (ratio(r["rss_kb_max"], base["rss_kb_max"])
                                         if base else "–")
            files = f"{r['files']:,}" if "files" in r else "–"
            size_mb = f"{r['bytes'] / 1e6:,.0f} MB" if "bytes" in r else "–"
            out.append(f"| {size:,} | {r['tool']} | {r['note']} | {r['feeds']:,} | {files} | "
                       f"{size_mb} | {r['runs']} | "
                       f"{r['wall_median']:.2f} s | {rel} | {r['rss_kb_max'] / 1024:.0f} MiB | "
                       f"{rrel} |")
    return out


def serve_table(recs):
    if not recs:
        return []
    r0 = recs[0]
    out = [f"## 2. Serving `{r0['path']}` ({r0['bytes']:,} bytes, gzip {r0['gzip_bytes']:,} "
           f"bytes; 10,000-post corpus)", "",
           f"`wrk -t{r0['threads']} -c{r0['conns']} -d{r0['duration']}s --latency`, "
           f"median of {len(r0['rps'])} rounds, servers alternating; wrk shares the 2 cores "
           "with the server.", "",
           "| request | feedsmith req/s | nginx req/s | feedsmith / nginx | feedsmith p99 "
           "| nginx p99 | nginx / feedsmith (p99) | errors (fs/nginx) |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    labels = {"identity": "GET (identity)", "gzip": "GET, `Accept-Encoding: gzip`",
              "conditional": "GET, `If-None-Match` → 304"}
    for sc in ("identity", "gzip", "conditional"):
        fs = next((r for r in recs if r["scenario"] == sc and r["tool"] == "feedsmith"), None)
        ng = next((r for r in recs if r["scenario"] == sc and r["tool"] == "nginx"), None)
        if not (fs and ng):
            continue
        out.append(f"| {labels[sc]} | {fs['rps_median']:,.0f} | {ng['rps_median']:,.0f} | "
                   f"{ratio(fs['rps_median'], ng['rps_median'])} | "
                   f"{fmt_ms(fs['p99_median'])} ms | {fmt_ms(ng['p99_median'])} ms | "
                   f"{ratio(ng['p99_median'], fs['p99_median'])} | "
                   f"{fs['errors']}/{ng['errors']} |")
    return out


def edit_table(recs):
    if not recs:
        return []
    out = ["## 3. Edit → served latency (atomic rename of a post → its category feed over HTTP "
           "shows the new title)", "",
           "| posts | server | edits | p50 | p99 | min | max | p50 peer / feedsmith "
           "| p99 peer / feedsmith |",
           "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for size in sorted({r["size"] for r in recs}):
        rs = [r for r in recs if r["size"] == size]
        base = next((r for r in rs if r["tool"] == "feedsmith"), None)
        for r in rs:
            name = r["tool"] + (f" ({r['note']})" if r.get("note") else "")
            p50r = "base" if r is base else (ratio(r["p50_ms"], base["p50_ms"]) if base else "–")
            p99r = "base" if r is base else (ratio(r["p99_ms"], base["p99_ms"]) if base else "–")
            out.append(f"| {size:,} | {name} | {r['edits']} | {fmt_ms(r['p50_ms'])} ms | "
                       f"{fmt_ms(r['p99_ms'])} ms | {fmt_ms(r['min_ms'])} ms | "
                       f"{fmt_ms(r['max_ms'])} ms | {p50r} | {p99r} |")
    return out


def mib(kb):
    return f"{kb / 1024:,.0f} MiB"


def scale_table(recs):
    # `scale.py --build-runs 0` (serving and memory only) records no builds: not for this table.
    recs = [r for r in recs if "build" in r]
    if not recs:
        return []
    recs = sorted(recs, key=lambda r: r["size"])
    edits = sorted({r["edits"] for r in recs})
    runs = "; ".join(f"{n} run{'s' if n != 1 else ''} at {r['size']:,} posts"
                     for r in recs for n in [r["build"]["archives_on"]["runs"]])
    out = ["## 4. At scale: 1k / 10k / 100k posts (serve memory, edit cost, cold build)", "",
           "Method: each corpus is copied and served by `feedsmith serve` (`access_log = false`, "
           "`debounce_ms = 20`, defaults otherwise: `limit = 50`, archives on). *Corpus MB* is "
           "the sum of the posts' file sizes (apparent size, 10⁶ bytes). *Serve ready* is start "
           "→ `listening on` on stdout (it includes the initial build). RSS is the server's "
           "VmHWM (peak resident set) from `/proc/PID/status`: read at ready, after the traffic "
           "and after the edits; *peak RSS / corpus* divides the highest by the corpus bytes "
           "(goal ≤ 2× at 100k; at 1k the fixed base of the process dominates). Traffic: "
           "`/feeds.opml`, every feed it lists in RSS, Atom and JSON Feed, each GET once with "
           "`Accept-Encoding: gzip` and once without; the all-posts `/atom.xml` "
           "`prev-archive` chain to its end; 200 post pages (the item links of `/rss.xml` and "
           "the category feeds). Then "
           f"{' / '.join(map(str, edits))} edits the way section 3 measures them "
           "(`edit_latency.py`: rename → the category feed shows the new title); *republish* is "
           "the server's own `republished: … ms` log line (watch event → new store, after the "
           "debounce). Cold build: `feedsmith build` of the corpus with the output removed "
           "before each run and a warm page cache, archives on and `[feeds] archive = false` "
           "(like-for-like with Hugo, which writes no archive pages), runs interleaved; median "
           f"wall time of each configuration ({runs}), peak RSS from `/usr/bin/time -f %M` (max over runs, "
           "on / off).", "",
           "| posts | corpus MB | serve ready (s) | peak RSS after start "
           "| peak RSS after traffic + edits | peak RSS / corpus | edit→served p50 / p99 "
           "| republish median / max (feedsmith's log) | cold build (archives on) "
           "| cold build (archives off) | build peak RSS |",
           "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    details = []
    for r in recs:
        on, off = r["build"]["archives_on"], r["build"]["archives_off"]
        m = r["mem_kb"]

        def wall(b):
            return f"{b['wall_median']:.2f} s" + (" (1 run)" if b["runs"] == 1 else "")
        out.append(
            f"| {r['size']:,} | {r['corpus_bytes'] / 1e6:,.1f} | {r['ready_s']:.2f} | "
            f"{mib(m['ready']['VmHWM'])} | {mib(r['peak_hwm_kb'])} | "
            f"{r['peak_over_corpus']:.2f}× | "
            f"{fmt_ms(r['edit_p50_ms'])} / {fmt_ms(r['edit_p99_ms'])} ms | "
            f"{fmt_ms(r['republish_median_ms'])} / {fmt_ms(r['republish_max_ms'])} ms | "
            f"{wall(on)} | {wall(off)} | {mib(on['rss_kb_max'])} / {mib(off['rss_kb_max'])} |")
        t = r["traffic"]
        fc = r["republish_files_changed"]
        files = ("1 file changed each" if fc == [1]
                 else "files changed: " + ", ".join(str(f) for f in fc))
        details.append(
            f"- {r['size']:,} posts ({r['corpus_files']:,} files): ready after "
            f"{r['ready_s']:.2f} s, of which the initial build "
            f"{(r['initial_build_ms'] or 0) / 1000:.2f} s by its log; "
            f"{format(r['documents'], ',') if r['documents'] else '?'} documents served. Traffic: {t['feeds']:,} feeds → "
            f"{t['feed_requests']:,} feed GETs ({t['gzip_answers']:,} answered gzip), "
            f"{t['archive_pages']:,} archive pages ({t['chain_items']:,} items along the chain), "
            f"{t['post_pages']} post pages: {t['requests']:,} GETs, {t['bytes'] / 1e6:,.1f} MB "
            f"in {t['seconds']:.1f} s. VmHWM / VmRSS: at ready {mib(m['ready']['VmHWM'])} / "
            f"{mib(m['ready']['VmRSS'])}, after traffic {mib(m['traffic']['VmHWM'])} / "
            f"{mib(m['traffic']['VmRSS'])}, after the edits {mib(m['edits']['VmHWM'])} / "
            f"{mib(m['edits']['VmRSS'])}. {r['republishes']} republishes for {r['edits']} edits "
            f"({files}, median {r['republish_rendered_median']:g} "
            f"documents rendered). Cold build output: archives on {on['out_files']:,} files / "
            f"{on['out_bytes'] / 1e6:,.1f} MB, off {off['out_files']:,} files / "
            f"{off['out_bytes'] / 1e6:,.1f} MB.")
    return out + [""] + details


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("out")
    ap.add_argument("--feedsmith", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--notes", default=None)
    a = ap.parse_args()
    recs = []
    if os.path.exists(a.results):
        with open(a.results) as f:
            recs = [json.loads(line) for line in f if line.strip()]
    lines = ["# feedsmith benchmark results", "",
             f"Command: `{a.command}`", "", "| machine | |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in machine(a.feedsmith, a.repo)]
    for part in (build_table([r for r in recs if r["section"] == "build"]),
                 serve_table([r for r in recs if r["section"] == "serve"]),
                 edit_table([r for r in recs if r["section"] == "edit"]),
                 scale_table([r for r in recs if r["section"] == "scale"])):
        if part:
            lines += [""] + part
    if a.notes and os.path.exists(a.notes):
        with open(a.notes) as f:
            notes = [n.rstrip("\n") for n in f if n.strip()]
        if notes:
            lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    text = "\n".join(lines) + "\n"
    with open(a.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
