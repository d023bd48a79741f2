#!/usr/bin/env bash
# Runs every fuzz target for SECONDS_PER_TARGET seconds (default 600), one after the other,
# starting from the committed seeds (fuzz/seeds/<target>/; for post also posts/) plus whatever corpus earlier runs
# grew (fuzz/corpus/<target>/, git-ignored), and prints a pass/fail line per target and a
# closing `fuzz: N passed, M failed`.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Environment:
#   SANITIZER=address|none   (default: address, falling back to none when it cannot build)
#   FUZZ_NICE=19             (niceness of the build and the runs; the machine is shared)
#   FUZZ_TIMEOUT=30          (seconds one input may take before it counts as a hang)
#
# A crash leaves its input under fuzz/artifacts/<target>/; replay it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run -O <target> fuzz/artifacts/<target>/<file>
# then add it under tests/fixtures/fuzz/<target>/ so `cargo test` replays it for good.
set -uo pipefail

cd "$(dirname "$0")"
SECONDS_PER_TARGET="${1:-600}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(post site http)
NICE="${FUZZ_NICE:-19}"
TIMEOUT="${FUZZ_TIMEOUT:-30}"
SANITIZER="${SANITIZER:-address}"
# cargo-fuzz passes nightly-only flags (-Z sanitizer, -Cpasses=sancov-module); the stable
# toolchain accepts them with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  nice -n "$NICE" cargo install cargo-fuzz --locked || {
    echo "cannot install cargo-fuzz"
    echo "fuzz: 0 passed, ${#TARGETS[@]} failed"
    exit 1
  }
fi

dict() {
  case "$1" in
    post | site) echo "-dict=dict/post.dict" ;;
    http) echo "-dict=dict/http.dict" ;;
  esac
}

max_len() {
  case "$1" in
    post) echo 16384 ;;
    site) echo 32768 ;;
    http) echo 2048 ;;
    *) echo 4096 ;;
  esac
}

# Build every target once (also compiles targets not run this time, which is cheap after the first).
if ! nice -n "$NICE" cargo fuzz build -O --sanitizer "$SANITIZER" >build.log 2>&1; then
  if [ "$SANITIZER" != none ]; then
    echo "== build with sanitizer $SANITIZER failed (see fuzz/build.log); retrying without"
    SANITIZER=none
    if ! nice -n "$NICE" cargo fuzz build -O --sanitizer none >build.log 2>&1; then
      tail -n 30 build.log
      echo "fuzz: 0 passed, ${#TARGETS[@]} failed"
      exit 1
    fi
  else
    tail -n 30 build.log
    echo "fuzz: 0 passed, ${#TARGETS[@]} failed"
    exit 1
  fi
fi
rm -f build.log
echo "== built (sanitizer: $SANITIZER)"

mkdir -p run-logs
passed=0
failed=0
summary=()
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  before=$(ls "artifacts/$t" | wc -l)
  log="run-logs/$t.log"
  echo "== $t: ${SECONDS_PER_TARGET}s"
  start=$(date +%s)
  # The post target also starts from the shipped sample posts (libFuzzer reads seed
  # directories recursively; the corpus directory comes first, so it is the one written to).
  extra=()
  [ "$t" = post ] && extra=(../posts)
  nice -n "$NICE" cargo fuzz run -O --sanitizer "$SANITIZER" "$t" "corpus/$t" "seeds/$t" "${extra[@]}" -- \
    -max_total_time="$SECONDS_PER_TARGET" -timeout="$TIMEOUT" -max_len="$(max_len "$t")" \
    -rss_limit_mb=4096 -print_final_stats=1 $(dict "$t") >"$log" 2>&1
  rc=$?
  elapsed=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
  [ -z "$execs" ] && execs=$(sed -n 's/^#\([0-9]*\)[[:space:]].*/\1/p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
  corpus=$(ls "corpus/$t" | wc -l)
  after=$(ls "artifacts/$t" | wc -l)
  found=$((after - before))
  if [ "$rc" -eq 0 ] && [ "$found" -eq 0 ]; then
    passed=$((passed + 1))
    line="PASS $t: ${execs:-?} executions in ${elapsed}s, cov ${cov:-?}, corpus $corpus, 0 crashes"
  else
    failed=$((failed + 1))
    line="FAIL $t: ${execs:-?} executions in ${elapsed}s, exit $rc, $found new artifact(s)"
    for a in $(ls -t "artifacts/$t" | head -n "$((found > 0 ? found : 0))"); do
      line+=$'\n'"     artifacts/$t/$a"
    done
    grep -m 1 -E "panicked at|ERROR: (AddressSanitizer|libFuzzer)" "$log" | sed 's/^/     /' >/tmp/fuzz-why.$$ || true
    line+=$'\n'"$(cat /tmp/fuzz-why.$$)"
    rm -f /tmp/fuzz-why.$$
    line+=$'\n'"     log: fuzz/$log"
  fi
  echo "$line"
  summary+=("$line")
done

echo
echo "== summary (sanitizer: $SANITIZER, ${SECONDS_PER_TARGET}s per target)"
printf '%s\n' "${summary[@]}"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
