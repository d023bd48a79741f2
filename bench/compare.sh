#!/usr/bin/env bash
# Two feedsmith binaries side by side, in one run, on the same corpora: the before/after table
# of a change that must not move the figures (issue "One clear house").
#
#   bench/compare.sh BEFORE_BIN AFTER_BIN [RESULTS.md]
#
# 1. Serving /tags/<feed nearest 100 KB>/rss.xml of the 10,000-post corpus: before, after (both
#    with their default server: the CPU steering on Linux) and nginx on the same file, wrk
#    -t2 -c64, 3 rounds of 10 s alternating (bench/serve_bench.py).
# 2. For 10,000 and 100,000 posts, each binary in turn (bench/scale.py): serve ready time,
#    peak RSS (VmHWM) after start, traffic and edits; edit → served latency (50 edits at 10k,
#    20 at 100k); republish time by the server's log.
# 3. Cold builds, archives on and off, the two binaries interleaved (3 runs each at 10k, 1 at
#    100k), each into an output directory that does not exist yet.
# Writes the raw JSON lines next to RESULTS.md (…/compare.jsonl) and prints a markdown table.
# Needs nginx, wrk, curl, python3 (installs nginx and wrk with apt-get when missing). Targets
# loopback only.
set -euo pipefail
BEFORE=$(realpath "$1")
AFTER=$(realpath "$2")
OUT=${3:-/dev/stdout}
BENCH=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/nginx.sh
. "$BENCH/nginx.sh"
CACHE=${FEEDSMITH_BENCH_CACHE:-/tmp/feedsmith-bench}
WORK=$(mktemp -d /tmp/feedsmith-compare.XXXXXX)
RESULTS=$WORK/compare.jsonl
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
log() { printf '[compare %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 1; }

for c in nginx wrk curl python3; do
  command -v "$c" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk curl >/dev/null; break; }
done

corpus() {
  local n=$1 dir=$CACHE/corpus-$1
  if [ "$(cat "$dir.stamp" 2>/dev/null)" != "posts=$1 seed=1" ]; then
    python3 "$BENCH/gen_corpus.py" --posts "$n" --out "$dir" --seed 1 --force >&2
    echo "posts=$1 seed=1" > "$dir.stamp"
  fi
  echo "$dir"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
wait_listening() {
  local pid=$1 out=$2 start=$SECONDS
  until grep -q '^listening on http://' "$out" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || die "server $pid exited early; see $out"
    [ $((SECONDS - start)) -lt 300 ] || die "server $pid not listening after 300 s"
    sleep 0.05
  done
}
mkdir -p "$CACHE"

# ---------------------------------------------------------------- 1. serving
c10k=$(corpus 10000)
cfg=$WORK/serve.toml
printf '[server]\naccess_log = false\n\n[feeds]\nlimit = 50\n' > "$cfg"
declare -A PORT
for name in before after; do
  bin=$BEFORE; [ "$name" = after ] && bin=$AFTER
  mkdir -p "$WORK/$name"
  PORT[$name]=$(free_port)
  (cd "$WORK/$name" && exec "$bin" serve --config "$cfg" --posts "$c10k" --out "$WORK/$name/feeds" \
    --listen "127.0.0.1:${PORT[$name]}" --url "http://127.0.0.1:8080/" \
    > "$WORK/$name/serve.out" 2> "$WORK/$name/serve.err") &
  PIDS+=($!)
  wait_listening "$!" "$WORK/$name/serve.out"
done
feeds=$WORK/after/feeds
path=$(nearest_100k_feed "$feeds")
[ -n "$path" ] || die "no tags/*/rss.xml in $feeds"
cmp -s "$WORK/before/feeds$path" "$feeds$path" || die "before and after wrote different bytes for $path"
gzip -k -6 -f "$feeds$path"
chmod -R a+rX "$WORK"
ng_port=$(free_port)
start_nginx "$WORK/nginx" "$feeds" "$ng_port"
PIDS+=("$NGINX_PID")
sleep 1
log "1. serving $path: before, after, nginx"
python3 "$BENCH/serve_bench.py" --path "$path" \
  --server "before=http://127.0.0.1:${PORT[before]}" --server "after=http://127.0.0.1:${PORT[after]}" \
  --server "nginx=http://127.0.0.1:$ng_port" --rounds 3 --duration 10 --tmp "$WORK" --results "$RESULTS"
cleanup; PIDS=()

# ---------------------------------------------------------------- 2. scale, each binary in turn
c100k=$(corpus 100000)
for size in 10000 100000; do
  c=$c10k; edits=50; runs=3
  [ "$size" = 100000 ] && { c=$c100k; edits=20; runs=1; }
  for name in before after; do
    bin=$BEFORE; [ "$name" = after ] && bin=$AFTER
    log "2. $size posts: $name"
    python3 "$BENCH/scale.py" --bin "$bin" --corpus "$c" --size "$size" --work "$WORK/scale-$name-$size" \
      --results "$WORK/scale-$name.jsonl" --edits "$edits" --build-runs 0
  done
done

# ---------------------------------------------------------------- 3. cold builds, interleaved
printf '[feeds]\narchive = false\n' > "$WORK/off.toml"
: > "$WORK/empty.toml"
for size in 10000 100000; do
  c=$c10k; runs=3
  [ "$size" = 100000 ] && { c=$c100k; runs=1; }
  find "$c" -type f -exec cat {} + > /dev/null  # a warm page cache for every run
  for r in $(seq 1 "$runs"); do
    order="before:on after:on before:off after:off"
    [ $((r % 2)) = 0 ] && order="after:off before:off after:on before:on"
    for job in $order; do
      name=${job%:*}; arch=${job#*:}
      bin=$BEFORE; [ "$name" = after ] && bin=$AFTER
      conf=$WORK/empty.toml; [ "$arch" = off ] && conf=$WORK/off.toml
      out=$WORK/build-out-$name-$arch-$size-$r
      python3 - "$bin" "$conf" "$c" "$out" "$name" "$arch" "$size" "$RESULTS" <<'PY'
import json, subprocess, sys, time
b, conf, c, out, name, arch, size, results = sys.argv[1:]
t = time.monotonic()
subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out + ".rss", b, "build", "--config", conf,
                "--posts", c, "--out", out, "--url", "https://example.com/"],
               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=3600)
wall = time.monotonic() - t
rss = int(open(out + ".rss").read().split()[-1])
with open(results, "a") as f:
    f.write(json.dumps({"section": "build", "tool": name, "archives": arch, "size": int(size),
                        "wall_s": wall, "rss_kb": rss}) + "\n")
print(f"[compare] build {size} {name} archives {arch}: {wall:.2f} s, {rss / 1024:.0f} MiB", file=sys.stderr)
PY
      rm -rf "$out"
    done
  done
done

# ---------------------------------------------------------------- the table
python3 - "$RESULTS" "$WORK/scale-before.jsonl" "$WORK/scale-after.jsonl" > "$WORK/table.md" <<'EOF'
import json, statistics, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
serve = [r for r in lines if r["section"] == "serve"]
builds = [r for r in lines if r["section"] == "build"]
scale = {n: {r["size"]: r for r in map(json.loads, open(p))} for n, p in (("before", sys.argv[2]), ("after", sys.argv[3]))}
print("| figure | before | after | after / before |")
print("| --- | ---: | ---: | ---: |")
def row(name, b, a, unit, fmt="{:,.2f}", better="lower"):
    ratio = a / b if b else float("nan")
    print(f"| {name} | {fmt.format(b)} {unit} | {fmt.format(a)} {unit} | {ratio:.2f}× |")
by = {(r["scenario"], r["tool"]): r for r in serve}
for sc, label in (("identity", "GET identity"), ("gzip", "GET gzip"), ("conditional", "If-None-Match → 304")):
    b, a, n = by[(sc, "before")], by[(sc, "after")], by[(sc, "nginx")]
    row(f"serving {label}, req/s (nginx {n['rps_median']:,.0f})", b["rps_median"], a["rps_median"], "req/s", "{:,.0f}")
    row(f"serving {label}, p99 (nginx {n['p99_median']:.2f} ms)", b["p99_median"], a["p99_median"], "ms")
for size in sorted(scale["after"]):
    b, a = scale["before"][size], scale["after"][size]
    k = f"{size:,} posts"
    for arch in ("on", "off"):
        w = {t: statistics.median(r["wall_s"] for r in builds if r["tool"] == t and r["size"] == size and r["archives"] == arch) for t in ("before", "after")}
        m = {t: max(r["rss_kb"] for r in builds if r["tool"] == t and r["size"] == size and r["archives"] == arch) / 1024 for t in ("before", "after")}
        row(f"{k}: cold build, archives {arch} (median)", w["before"], w["after"], "s")
        row(f"{k}: cold build, archives {arch}, peak RSS", m["before"], m["after"], "MiB", "{:,.0f}")
    row(f"{k}: edit → served p50", b["edit_p50_ms"], a["edit_p50_ms"], "ms", "{:,.1f}")
    row(f"{k}: edit → served p99", b["edit_p99_ms"], a["edit_p99_ms"], "ms", "{:,.1f}")
    row(f"{k}: republish median (its log)", b["republish_median_ms"], a["republish_median_ms"], "ms", "{:,.1f}")
    row(f"{k}: serve ready", b["ready_s"], a["ready_s"], "s")
    row(f"{k}: serve peak RSS", b["peak_hwm_kb"] / 1024, a["peak_hwm_kb"] / 1024, "MiB", "{:,.0f}")
    row(f"{k}: peak RSS / corpus", b["peak_over_corpus"], a["peak_over_corpus"], "×")
EOF
cat "$WORK/table.md" > "$OUT"
cp "$RESULTS" "$WORK"/scale-*.jsonl "$CACHE/" 2>/dev/null || true
log "done: $WORK/table.md (raw: $CACHE/compare.jsonl, $CACHE/scale-*.jsonl)"
