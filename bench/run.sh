#!/usr/bin/env bash
# feedsmith benchmark: cold build, HTTP serving and edit → served latency, each measured side by
# side with its peers (Hugo, Jekyll + jekyll-feed, nginx) in the same run; then feedsmith alone
# at 1k/10k/100k posts (serve memory, edit cost, cold build).
#
#   bench/run.sh [--quick] [--only build|serve|edit|scale]
#
# Prints one Markdown table and writes it to bench/results.md. See bench/README.md.
# Environment: CARGO_TARGET_DIR (default /work/target-bench), FEEDSMITH_BENCH_CACHE (corpora and
# peer sites, default /tmp/feedsmith-bench), KEEP_WORK=1 keeps the run's temp dir,
# SCALE_SIZES="1000 10000" overrides the corpus sizes of the scale section.
set -euo pipefail

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }

CMDLINE="bench/run.sh${*:+ $*}"
QUICK=0
ONLY=all
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --only) ONLY=${2:-}; shift ;;
    --only=*) ONLY=${1#--only=} ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
case "$ONLY" in all|build|serve|edit|scale) ;; *) echo "run.sh: --only takes build, serve, edit or scale" >&2; exit 2 ;; esac
for n in ${SCALE_SIZES:-}; do
  case "$n" in *[!0-9]*) echo "run.sh: SCALE_SIZES must be post counts, got: $SCALE_SIZES" >&2; exit 2 ;; esac
done
[ -z "${SCALE_SIZES:-}" ] || CMDLINE="SCALE_SIZES=\"$SCALE_SIZES\" $CMDLINE"

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/nginx.sh
. "$BENCH/nginx.sh"
REPO=$(dirname "$BENCH")
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target-bench}
FEEDSMITH=$CARGO_TARGET_DIR/release/feedsmith
CACHE=${FEEDSMITH_BENCH_CACHE:-/tmp/feedsmith-bench}
mkdir -p "$CACHE"
WORK=$(mktemp -d /tmp/feedsmith-bench-run.XXXXXX)
chmod 755 "$WORK"   # nginx workers read the feeds from here
RESULTS=$WORK/results.jsonl
NOTES=$WORK/notes.txt
: > "$RESULTS"
: > "$NOTES"

if [ "$QUICK" = 1 ]; then
  BUILD_ROUNDS=3; SERVE_ROUNDS=3; WRK_SECONDS=3; FS_EDITS=20; HUGO_EDITS=10
  SCALE_EDITS=10; DEFAULT_SCALE_SIZES="1000 10000"
else
  BUILD_ROUNDS=3; SERVE_ROUNDS=3; WRK_SECONDS=10; FS_EDITS=50; HUGO_EDITS=50
  SCALE_EDITS=20; DEFAULT_SCALE_SIZES="1000 10000 100000"
fi
SCALE_SIZES=${SCALE_SIZES:-$DEFAULT_SCALE_SIZES}
URL=http://127.0.0.1:8080/   # the site URL written into every tool's feeds (no traffic)

log() { printf '\n== %s  [%s]\n' "$*" "$(date +%H:%M:%S)"; }
die() { echo "run.sh: $*" >&2; exit 1; }
note() { echo "$*" >> "$NOTES"; }

# ---------------------------------------------------------------- processes and cleanup
PIDS=()
stop_pid() {   # stop_pid PID: TERM, up to 5 s, then KILL
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  if [ "${KEEP_WORK:-0}" = 1 ] || [ "$rc" != 0 ]; then
    echo "run.sh: temp dir kept: $WORK" >&2
    # The copies of the corpus are large; keep only logs and results.
    rm -rf "$WORK"/edit-* "$WORK"/build-* "$WORK"/scale-*/posts "$WORK"/scale-*/feeds \
      "$WORK"/scale-*/build-out "$WORK"/scale-*/.trash 2>/dev/null || true
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
forget_pid() { local keep=() p; for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done; PIDS=("${keep[@]+"${keep[@]}"}"); }
stop() { stop_pid "$1"; forget_pid "$1"; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_listening PID STDOUT_FILE TIMEOUT: feedsmith prints "listening on …" once it serves.
wait_listening() {
  local pid=$1 out=$2 timeout=$3 start=$SECONDS
  while ! grep -q '^listening on http://' "$out" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || die "server $pid exited early; see $out and ${out%.out}.err"
    [ $((SECONDS - start)) -lt "$timeout" ] || die "server $pid not listening after ${timeout}s"
    sleep 0.05
  done
}
# wait_http PID URL TIMEOUT: until URL answers 200.
wait_http() {
  local pid=$1 url=$2 timeout=$3 start=$SECONDS
  until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url" || true)" = 200 ]; do
    kill -0 "$pid" 2>/dev/null || die "server $pid exited early while waiting for $url"
    [ $((SECONDS - start)) -lt "$timeout" ] || die "$url not 200 after ${timeout}s"
    sleep 0.2
  done
}

# ---------------------------------------------------------------- peers and the binary
ensure_tools() {
  local missing=() c
  for c in nginx wrk hugo jekyll python3 curl gzip; do command -v "$c" >/dev/null || missing+=("$c"); done
  [ -x /usr/bin/time ] || missing+=(time)
  dpkg -s ruby-jekyll-feed >/dev/null 2>&1 || missing+=(ruby-jekyll-feed)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing peers from Debian (missing: ${missing[*]})"
    local pkgs=(nginx wrk hugo jekyll ruby-jekyll-feed python3 curl time)
    export DEBIAN_FRONTEND=noninteractive
    timeout 900 apt-get install -y "${pkgs[@]}" \
      || { timeout 300 apt-get update && timeout 900 apt-get install -y "${pkgs[@]}"; }
  fi
}

build_feedsmith() {
  log "cargo build --release (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  (cd "$REPO" && timeout 3600 cargo build --release --quiet)
  [ -x "$FEEDSMITH" ] || die "no binary at $FEEDSMITH"
}

# ---------------------------------------------------------------- corpora (cached)
GEN_SUM=$(sha256sum "$BENCH/gen_corpus.py" | cut -c1-16)
PEERS_SUM=$(sha256sum "$BENCH/peers.py" | cut -c1-16)
corpus() {   # corpus N → prints the corpus dir, generating it if missing or stale
  local n=$1 dir=$CACHE/corpus-$1 stamp="posts=$1 seed=1 gen=$GEN_SUM"
  if [ "$(cat "$dir.stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -f "$dir.stamp"
    python3 "$BENCH/gen_corpus.py" --posts "$n" --out "$dir" --seed 1 --force >&2
    echo "$stamp" > "$dir.stamp"
  fi
  echo "$dir"
}

HUGO_DATES_FLAG=unset
hugo_check() {   # does Hugo read the raw front matter right? Decides what the copy converts.
  [ "$HUGO_DATES_FLAG" = unset ] || return 0
  local c1k d=$WORK/hugo-check
  c1k=$(corpus 1000)
  mkdir -p "$d/raw"
  find "$c1k" -maxdepth 1 -name '*.md' | sort | sed -n '1,300p' | xargs cp -t "$d/raw"
  python3 "$BENCH/peers.py" hugo-site "$d/site" "$URL" >/dev/null
  cp "$d"/raw/*.md "$d/site/content/posts/"
  timeout 300 hugo --quiet -s "$d/site" -d "$d/public" > "$d/hugo.log" 2>&1 \
    || die "hugo on raw posts failed: $(tail -5 "$d/hugo.log")"
  local res; res=$(python3 "$BENCH/peers.py" hugo-check "$d/raw" "$d/public")
  echo "  hugo reading the raw front matter (300 posts): $res"
  if echo "$res" | grep -q '"dates_ok": true'; then
    HUGO_DATES_FLAG=""
    note "Hugo $(hugo version | awk '{print $2}') parses the raw dates (\`2021-12-21 08:10:27 +0800\`, \`+08:00\` …) correctly (checked: every pubDate of a 300-post sample equals the source date and offset), but takes a whitespace-string \`categories\`/\`tags\` as one term; Hugo's copy of the corpus therefore only has those rewritten as YAML lists (dates untouched)."
  else
    HUGO_DATES_FLAG=--dates
    note "Hugo did not parse the raw dates ($res): Hugo's copy of the corpus has dates rewritten to RFC 3339 and whitespace-string categories/tags rewritten as YAML lists."
  fi
}

hugo_site() {   # hugo_site N → Hugo site dir for the N-post corpus (cached)
  local n=$1 dir=$CACHE/hugo-$1 src stamp
  src=$(corpus "$n")
  hugo_check >&2
  stamp="$(cat "$src.stamp") peers=$PEERS_SUM flag=$HUGO_DATES_FLAG"
  if [ "$(cat "$dir.stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$dir" "$dir.stamp"
    python3 "$BENCH/peers.py" hugo-site "$dir" "$URL" >&2
    python3 "$BENCH/peers.py" hugo-convert "$src" "$dir/content/posts" $HUGO_DATES_FLAG >&2
    echo "$stamp" > "$dir.stamp"
  fi
  echo "$dir"
}

jekyll_site() {   # jekyll_site N → Jekyll site dir (cached)
  local n=$1 dir=$CACHE/jekyll-$1 src stamp
  src=$(corpus "$n")
  stamp="$(cat "$src.stamp") peers=$PEERS_SUM"
  if [ "$(cat "$dir.stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$dir" "$dir.stamp"
    mkdir -p "$dir"
    python3 "$BENCH/peers.py" jekyll-site "$src" "$dir" >&2
    echo "$stamp" > "$dir.stamp"
  fi
  echo "$dir"
}

# ---------------------------------------------------------------- 1. cold build
build_section() {
  log "1. cold build"
  local sizes=(1000 10000) n c h j out spec rounds_j tools rounds
  # 100,000 posts (full runs only): the defaults, RSS only and Hugo, one round each; not
  # Jekyll (hours) nor every archive (10 GB).
  [ "$QUICK" = 0 ] && sizes+=(100000)
  for n in "${sizes[@]}"; do
    c=$(corpus "$n")
    out=$WORK/build-$n
    mkdir -p "$out"
    if [ "$n" = 100000 ]; then rounds=1; else rounds=$BUILD_ROUNDS; fi
    # The default (three formats, the whole site's history as Atom archive pages), then
    # like for like with Hugo (RSS only, newest 50, no archives), then every scope archived in
    # every format (the default before #20: every post's content again per term and format).
    printf '[feeds]\narchive = false\nformats = ["rss"]\n' > "$WORK/rss-only.toml"
    printf '[feeds]\narchive_scopes = ["site", "categories", "tags"]\narchive_formats = ["rss", "atom", "json"]\n' > "$WORK/every-archive.toml"
    tools="{\"name\": \"feedsmith\", \"kind\": \"feedsmith\", \"rounds\": $rounds, \"timeout\": 1800,
       \"cmd\": [\"$FEEDSMITH\", \"build\", \"--posts\", \"$c\", \"--out\", \"$out/feedsmith\", \"--url\", \"$URL\"],
       \"clean\": [\"$out/feedsmith\"], \"out\": \"$out/feedsmith\", \"note\": \"defaults: RSS + Atom + JSON Feed, the site's history as Atom archive pages\"},
      {\"name\": \"feedsmith-rss\", \"kind\": \"feedsmith\", \"rounds\": $rounds, \"timeout\": 1800,
       \"cmd\": [\"$FEEDSMITH\", \"build\", \"--config\", \"$WORK/rss-only.toml\", \"--posts\", \"$c\", \"--out\", \"$out/feedsmith-rss\", \"--url\", \"$URL\"],
       \"clean\": [\"$out/feedsmith-rss\"], \"out\": \"$out/feedsmith-rss\", \"note\": \"RSS only, no archives (Hugo's work)\"}"
    [ "$n" = 100000 ] || tools="$tools,
      {\"name\": \"feedsmith-all\", \"kind\": \"feedsmith\", \"rounds\": $rounds, \"timeout\": 1800,
       \"cmd\": [\"$FEEDSMITH\", \"build\", \"--config\", \"$WORK/every-archive.toml\", \"--posts\", \"$c\", \"--out\", \"$out/feedsmith-all\", \"--url\", \"$URL\"],
       \"clean\": [\"$out/feedsmith-all\"], \"out\": \"$out/feedsmith-all\", \"note\": \"every scope archived in every format\"}"
    if [ "$QUICK" = 0 ] || [ "$n" = 1000 ]; then
      h=$(hugo_site "$n")
      tools="$tools,
      {\"name\": \"hugo\", \"kind\": \"hugo\", \"rounds\": $rounds, \"timeout\": 1800,
       \"cmd\": [\"hugo\", \"--quiet\", \"-s\", \"$h\", \"-d\", \"$out/hugo\"],
       \"clean\": [\"$out/hugo\", \"$h/resources\", \"$h/.hugo_build.lock\"], \"out\": \"$out/hugo\", \"note\": \"RSS only\"}"
    fi
    if [ "$n" != 100000 ] && { [ "$QUICK" = 0 ] || [ "$n" = 1000 ]; }; then
      j=$(jekyll_site "$n")
      # Jekyll 10k takes minutes: one run.
      if [ "$n" = 1000 ]; then rounds_j=$BUILD_ROUNDS; else rounds_j=1; fi
      tools="$tools,
      {\"name\": \"jekyll\", \"kind\": \"jekyll\", \"rounds\": $rounds_j, \"timeout\": 2400,
       \"cmd\": [\"jekyll\", \"build\", \"--quiet\", \"-s\", \"$j\", \"-d\", \"$out/jekyll\"],
       \"clean\": [\"$out/jekyll\", \"$j/.jekyll-cache\", \"$j/.jekyll-metadata\"], \"out\": \"$out/jekyll\",
       \"note\": \"Atom only; also writes each post's HTML page\"}"
    fi
    spec=$WORK/build-spec-$n.json
    printf '{"size": %s, "corpus": "%s", "workdir": "%s", "tools": [%s]}\n' "$n" "$c" "$out" "$tools" > "$spec"
    python3 "$BENCH/build_bench.py" "$spec" "$RESULTS"
    # The outputs stay until the run ends, like build_bench's trash: deleted here, their freed
    # inodes would slow the next size's file creation.
  done
  note "Cold build: the output directory (and Hugo's/Jekyll's caches) moved aside before every run and deleted when the whole benchmark ends (deleting thousands of files shortly before a run makes ext4 skip the freed inodes on every file the run creates); the corpus is read once beforehand, so every tool starts with a warm page cache. Rounds interleave the tools. Peak RSS is \`/usr/bin/time -f %M\` (max over runs). Jekyll at 10,000 posts: 1 run."
  note "Feed counts differ by design: feedsmith writes RSS, Atom and JSON Feed for all posts, every category and every tag; Hugo writes RSS for home, the posts section, the taxonomy lists and every term (pages get no output, their content is still rendered); jekyll-feed writes Atom for all posts, the listed categories and only the tags made of [A-Za-z0-9_] (it skips Chinese and hyphenated tags), and Jekyll also renders and writes an HTML page per post."
}

# ---------------------------------------------------------------- 2. serving
serve_section() {
  log "2. serving (10,000 posts)"
  local c fs_port ng_port fs_pid ng_pid feeds path cfg
  c=$(corpus 10000)
  fs_port=$(free_port)
  cfg=$WORK/serve.toml
  printf '[server]\naccess_log = false\n\n[feeds]\nlimit = 50\n' > "$cfg"
  feeds=$WORK/serve-feeds
  "$FEEDSMITH" serve --config "$cfg" --posts "$c" --out "$feeds" --listen "127.0.0.1:$fs_port" \
    --url "http://127.0.0.1:$fs_port/" > "$WORK/serve-fs.out" 2> "$WORK/serve-fs.err" &
  fs_pid=$!; PIDS+=("$fs_pid")
  wait_listening "$fs_pid" "$WORK/serve-fs.out" 300
  # The tag feed whose size is nearest 100 KB.
  path=$(nearest_100k_feed "$feeds")
  [ -n "$path" ] || die "no tags/*/rss.xml in $feeds"
  gzip -k -6 -f "$feeds$path"
  chmod -R a+rX "$feeds"
  ng_port=$(free_port)
  start_nginx "$WORK/nginx" "$feeds" "$ng_port"
  ng_pid=$NGINX_PID; PIDS+=("$ng_pid")
  wait_http "$ng_pid" "http://127.0.0.1:$ng_port/rss.xml" 30
  python3 "$BENCH/serve_bench.py" --path "$path" \
    --server "feedsmith=http://127.0.0.1:$fs_port" --server "nginx=http://127.0.0.1:$ng_port" \
    --rounds "$SERVE_ROUNDS" --duration "$WRK_SECONDS" --tmp "$WORK" --results "$RESULTS"
  stop "$ng_pid"
  stop "$fs_pid"
  note "Serving: feedsmith \`serve\` (release, access_log = false) and nginx $(nginx -v 2>&1 | sed 's|.*nginx/||') (worker_processes 2, sendfile, etag, gzip_static with a \`gzip -k -6\` file, access_log off, keepalive_requests 1000000 so neither server drops wrk's keep-alive connections) serve the same file that feedsmith wrote. The 304 case sends each server its own ETag. wrk (2 threads) runs on the same 2 cores as the server."
}

# ---------------------------------------------------------------- 3. edit → served
republish_note() {   # republish_note N STDERR_LOG: feedsmith's own timing of each republish
  python3 - "$1" "$2" >> "$NOTES" <<'EOF'
import re, statistics, sys
n, log = sys.argv[1], sys.argv[2]
ms = [float(m) for m in re.findall(r"republished: .*?, ([\d.]+) ms", open(log, errors="replace").read())]
if ms:
    print(f"feedsmith's own log at {int(n):,} posts: a one-post republish (watch event → new store, "
          f"after the debounce) took median {statistics.median(ms):.1f} ms, max {max(ms):.1f} ms "
          f"over {len(ms)} republishes.")
EOF
}
edit_section() {
  log "3. edit → served latency"
  local sizes n c d port pid h cfg
  if [ "$QUICK" = 1 ]; then sizes=(1000); else sizes=(1000 10000); fi
  for n in "${sizes[@]}"; do
    c=$(corpus "$n")
    d=$WORK/edit-$n
    rm -rf "$d"; mkdir -p "$d"
    cp -r "$c" "$d/posts"
    cfg=$d/feedsmith.toml
    printf '[server]\naccess_log = false\ndebounce_ms = 20\n\n[feeds]\nlimit = 50\n' > "$cfg"
    port=$(free_port)
    "$FEEDSMITH" serve --config "$cfg" --posts "$d/posts" --out "$d/feeds" \
      --listen "127.0.0.1:$port" --url "http://127.0.0.1:$port/" > "$d/fs.out" 2> "$d/fs.err" &
    pid=$!; PIDS+=("$pid")
    wait_listening "$pid" "$d/fs.out" 300
    python3 "$BENCH/edit_latency.py" --posts "$d/posts" --base "http://127.0.0.1:$port" \
      --feed '/categories/{cat}/rss.xml' --edits "$FS_EDITS" --timeout 30 \
      --tool feedsmith --size "$n" --note "debounce_ms = 20" --results "$RESULTS"
    stop "$pid"
    republish_note "$n" "$d/fs.err"

    h=$(hugo_site "$n")
    rm -rf "$d/hugo"; cp -r "$h" "$d/hugo"
    port=$(free_port)
    hugo server -s "$d/hugo" --bind 127.0.0.1 --port "$port" --baseURL "http://127.0.0.1:$port/" \
      --disableFastRender > "$d/hugo.log" 2>&1 &
    pid=$!; PIDS+=("$pid")
    wait_http "$pid" "http://127.0.0.1:$port/index.xml" 600
    python3 "$BENCH/edit_latency.py" --posts "$d/hugo/content/posts" --base "http://127.0.0.1:$port" \
      --feed '/categories/{cat}/index.xml' --edits "$HUGO_EDITS" --timeout 120 \
      --tool hugo --size "$n" --note "hugo server --disableFastRender" --results "$RESULTS"
    stop "$pid"
    rm -rf "$d"
  done
  note "Edit → served: each edit rewrites the title line of the same post (one of the 40 newest) to a unique marker in a hidden \`*.tmp\` file, \`os.rename\`s it over the post, then polls the post's first category feed over HTTP (keep-alive, ~2 ms between requests) until the marker is in the body; the figure is rename → that response. ~200 ms between edits. Servers run one at a time on their own copy of the corpus (Hugo's copy has the converted front matter), renders to memory for Hugo (its default)."
}

# ---------------------------------------------------------------- 4. at scale (feedsmith alone)
scale_section() {
  log "4. at scale: $SCALE_SIZES posts"
  local n c runs
  for n in $SCALE_SIZES; do
    c=$(corpus "$n")
    # One cold build per configuration at 100k and above (each takes minutes), else 3.
    if [ "$n" -ge 100000 ]; then runs=1; else runs=3; fi
    python3 "$BENCH/scale.py" --bin "$FEEDSMITH" --corpus "$c" --size "$n" \
      --work "$WORK/scale-$n" --edits "$SCALE_EDITS" --build-runs "$runs" --results "$RESULTS" \
      || die "scale section failed at $n posts"
  done
}

# ---------------------------------------------------------------- main
ensure_tools
build_feedsmith
log "corpora (cache: $CACHE)"
corpus 1000 >/dev/null
corpus 10000 >/dev/null
echo "  $(cat "$CACHE/corpus-1000.stamp"); $(cat "$CACHE/corpus-10000.stamp")"
# In this shell, so that its verdict (and its note) is made once for the whole run.
case "$ONLY" in all|build|edit) hugo_check ;; esac

case "$ONLY" in
  all) build_section; serve_section; edit_section; scale_section ;;
  build) build_section ;;
  serve) serve_section ;;
  edit) edit_section ;;
  scale) scale_section ;;
esac

log "report"
python3 "$BENCH/report.py" "$RESULTS" "$BENCH/results.md" --feedsmith "$FEEDSMITH" \
  --repo "$REPO" --command "$CMDLINE" --notes "$NOTES"
echo "written: $BENCH/results.md"
