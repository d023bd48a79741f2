#!/usr/bin/env python3
"""Cold-build timing, tools interleaved round by round (bench/run.sh section 1).

    build_bench.py SPEC.json RESULTS.jsonl

SPEC: {"size": N, "corpus": DIR, "workdir": DIR, "tools": [
         {"name": "feedsmith", "kind": "feedsmith", "rounds": 3, "timeout": 600,
          "cmd": [...], "clean": [paths removed before every run], "out": DIR}, ...]}

Round r runs every tool that still has rounds left, in an order rotated by r, so slow drift in
machine load hits every tool alike. Each run: the `clean` paths (output dir, caches) are moved
out of the way, then `/usr/bin/time -f %M CMD` — wall time from this process, peak RSS from
time(1). What was moved is deleted only after the last round: deleting thousands of files just
before a run makes ext4 skip their recently freed inodes on every file the run then creates
(`recently_deleted` in the kernel profile), a cost of the benchmark, not of a cold build, and
one that grew with the file count of whichever tool ran before.
A failed or timed-out run aborts the benchmark (exit 1). Appends one JSON line per tool.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def warm_cache(corpus):
    """Reads every corpus file once, so no tool pays for the first cold read."""
    n = 0
    for dirpath, _, files in os.walk(corpus):
        for f in files:
            with open(os.path.join(dirpath, f), "rb") as fh:
                n += len(fh.read())
    return n


def run_once(tool, workdir, tag):
    trash = os.path.join(workdir, ".trash")
    os.makedirs(trash, exist_ok=True)
    for i, p in enumerate(tool.get("clean", [])):
        if os.path.lexists(p):
            # A rename frees no inode; the trash is emptied when the whole run ends.
            try:
                os.rename(p, os.path.join(trash, f"{tag}-{i}-{os.path.basename(p)}"))
            except OSError:  # another file system (a cache dir elsewhere): delete it now
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p)
                else:
                    os.remove(p)
    tfile = os.path.join(workdir, f"time-{tag}.txt")
    log = os.path.join(workdir, f"log-{tag}.txt")
    with open(log, "wb") as out:
        t0 = time.monotonic()
        try:
            proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tfile] + tool["cmd"],
                                  stdout=out, stderr=subprocess.STDOUT,
                                  timeout=tool.get("timeout", 600), cwd=workdir)
        except subprocess.TimeoutExpired:
            sys.exit(f"build_bench: {tool['name']} timed out after {tool.get('timeout')} s; log {log}")
        wall = time.monotonic() - t0
    if proc.returncode != 0:
        with open(log, "rb") as f:
            tail = f.read()[-2000:].decode("utf-8", "replace")
        sys.exit(f"build_bench: {tool['name']} failed (exit {proc.returncode}):\n{tail}")
    with open(tfile) as f:
        rss = int(f.read().split()[-1])
    return wall, rss


def output_size(out):
    """Files and bytes (apparent sizes) under the tool's output directory."""
    files = size = 0
    for dirpath, _, names in os.walk(out):
        for name in names:
            st = os.lstat(os.path.join(dirpath, name))
            files += 1
            size += st.st_size
    return files, size


def count_feeds(tool):
    out = subprocess.run([sys.executable, os.path.join(HERE, "peers.py"), "count-feeds",
                          tool["kind"], tool["out"]], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def main():
    spec_path, results_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as f:
        spec = json.load(f)
    tools = spec["tools"]
    workdir = spec["workdir"]
    os.makedirs(workdir, exist_ok=True)
    warm_cache(spec["corpus"])
    walls = {t["name"]: [] for t in tools}
    rsss = {t["name"]: [] for t in tools}
    feeds = {}
    sizes = {}
    for r in range(max(t["rounds"] for t in tools)):
        order = tools[r % len(tools):] + tools[:r % len(tools)]
        for t in order:
            if r >= t["rounds"]:
                continue
            wall, rss = run_once(t, workdir, f"{t['name']}-{spec['size']}-{r}")
            walls[t["name"]].append(wall)
            rsss[t["name"]].append(rss)
            feeds[t["name"]] = count_feeds(t)
            sizes[t["name"]] = output_size(t["out"])
            files, size = sizes[t["name"]]
            print(f"  build {spec['size']:>6} posts  round {r + 1}  {t['name']:<10} "
                  f"{wall:8.2f} s  {rss / 1024:7.1f} MiB  {feeds[t['name']]} feeds  "
                  f"{files} files  {size / 1e6:.1f} MB", flush=True)
    # The trash stays until run.sh removes its work dir at exit: emptied here, its freed
    # inodes would slow file creation in the next section (ext4 skips recently deleted
    # inodes for minutes), charging one size's cleanup to the next size's builds.
    with open(results_path, "a") as f:
        for t in tools:
            f.write(json.dumps({
                "section": "build", "size": spec["size"], "tool": t["name"],
                "runs": len(walls[t["name"]]), "walls": walls[t["name"]],
                "wall_median": statistics.median(walls[t["name"]]),
                "rss_kb": rsss[t["name"]], "rss_kb_max": max(rsss[t["name"]]),
                "feeds": feeds[t["name"]], "note": t.get("note", ""),
                "files": sizes[t["name"]][0], "bytes": sizes[t["name"]][1],
            }) + "\n")


if __name__ == "__main__":
    main()
