#!/usr/bin/env bash
# `make bench`: Keygate's verification measured against the round trips it cannot avoid.
#
# Starts its own in-memory DynamoDB Local (port $KEYGATE_BENCH_DYNAMODB_PORT, default 8002)
# so it never touches `make dev` data or the tests' instance, uses the local Redis under its
# own key prefix, builds in release mode, then prints the table and writes it, with the
# machine and commit, to bench/RESULTS.md. Every figure is a median of several runs with
# its min–max; every ratio is against a baseline measured in the same run.
#
# Settings: BENCH_RUNS (default 5), BENCH_HTTP_SECONDS (per wrk run, default 4), BENCH_QUICK=1 (a fast smoke run of the harness; its
# figures are not worth keeping), KEYGATE_BENCH_PORT (emulator, default 9100),
# KEYGATE_BENCH_CPU_PORT (the "CPU per request" step's emulator, default 9101),
# BENCH_OUTPUT (default bench/RESULTS.md).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
root="$(cd "$here/.." && pwd -P)"
export DYNAMODB_PORT="${KEYGATE_BENCH_DYNAMODB_PORT:-8002}"
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT"
export KEYGATE_DYNAMODB_IN_MEMORY=1
export KEYGATE_RUN_DIR="$root/local/.run/bench"
export TABLE_NAME=keygate-bench
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
export KEYGATE_BENCH_TABLE="$TABLE_NAME"
export KEYGATE_BENCH_NAMESPACE="kgbench-$$"
export CACHE_KEY_PREFIX="$KEYGATE_BENCH_NAMESPACE" # what the functions under the emulator read
port="${KEYGATE_BENCH_PORT:-9100}"
cpu_port="${KEYGATE_BENCH_CPU_PORT:-$((port + 1))}"
output="${BENCH_OUTPUT:-$root/bench/RESULTS.md}"

work="$(mktemp -d)"
cleanup() {
  # The emulator runs in its own process group (setsid), so this stops it and the
  # function instances it started, and nothing else.
  if [ -n "${watch_pid:-}" ]; then kill -- "-$watch_pid" 2>/dev/null || true; fi
  if have redis-cli; then
    # Whatever the functions cached under this run's prefix.
    redis-cli -u "$REDIS_URL" --scan --pattern "$KEYGATE_BENCH_NAMESPACE:*" 2>/dev/null \
      | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null 2>&1 || true
  fi
  bash "$here/services.sh" down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

step "tools"
bash "$here/install-tools.sh"
if ! have wrk; then
  if is_root && have apt-get; then
    log "installing wrk (the HTTP load generator)"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
      --no-install-recommends wrk >&2 \
      || { DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 \
        && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
          --no-install-recommends wrk >&2; }
  fi
  have wrk || die "wrk not found; install it (e.g. sudo apt-get install wrk)"
fi

step "services (in-memory DynamoDB Local on $DYNAMODB_PORT, Redis at $REDIS_URL)"
bash "$here/services.sh" up

cd "$root"
step "release build"
functions=()
for manifest in functions/*/Cargo.toml; do
  functions+=("$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -n1)")
done
# One package at a time, as the emulator builds them: building several in one command
# unifies their features, which can mean a second full build of the SDK.
for p in keygate-bench keygate-bench-empty test-protected; do
  log "cargo build --release -p $p"
  cargo build --release --quiet -p "$p"
done
# The other functions only matter for the size table: one that does not build (someone's
# work in progress) is reported as such rather than stopping the bench.
unbuilt=()
for p in "${functions[@]}"; do
  [ "$p" = test-protected ] && continue
  log "cargo build --release -p $p"
  cargo build --release --quiet -p "$p" || { unbuilt+=("$p"); log "warning: $p does not build; left out of the size table"; }
done
# Where cargo put them: CARGO_TARGET_DIR (CI keeps one between runs) or ./target.
release="${CARGO_TARGET_DIR:-$root/target}/release"
bench="$release/keygate-bench"
protected="$release/test-protected"
empty="$release/empty"

KEYGATE_BENCH_KEY="$("$bench" key)"
export KEYGATE_BENCH_KEY

step "in process: verify (hit, miss, malformed), issue, revoke"
"$bench" inproc >"$work/inproc.md"

step "cold start"
"$bench" cold-start "$protected" "$empty" >"$work/cold.md"

# start_watch PORT CONCURRENCY LOG: `cargo lambda watch --release` in its own process group
# (watch_pid), once both functions answer 200. stop_watch ends it and its instances.
start_watch() {
  # --ignore-changes: edits elsewhere in the tree must not rebuild a function mid-run.
  setsid cargo lambda watch --release --ignore-changes --quiet \
    --invoke-address 127.0.0.1 --invoke-port "$1" --concurrency "$2" >"$3" 2>&1 &
  watch_pid=$!
  local url="http://127.0.0.1:$1/lambda-url" ready=0
  for _ in $(seq 1 120); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-KEY: $KEYGATE_BENCH_KEY" "$url/test-protected/")" = 200 ] \
      && [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/empty/")" = 200 ]; then
      ready=1
      break
    fi
    sleep 1
  done
  [ "$ready" = 1 ] || { tail -n 30 "$3" >&2; die "the emulator did not answer 200 on both functions"; }
}
stop_watch() {
  kill -- "-$watch_pid" 2>/dev/null || true
  wait "$watch_pid" 2>/dev/null || true
  watch_pid=""
}

step "end to end through cargo lambda watch --release (port $port)"
mkdir -p "$KEYGATE_RUN_DIR"
start_watch "$port" 16 "$KEYGATE_RUN_DIR/watch.log"
base="http://127.0.0.1:$port/lambda-url"
{
  "$bench" http-header
  "$bench" http "$base" 1
  "$bench" http "$base" 16
} >"$work/http.md"
read -r instances rss_mb rss_unit rss_verdict <<<"$("$bench" rss test-protected "$watch_pid")"
stop_watch

step "CPU per request through cargo lambda watch --release --concurrency 1 (port $cpu_port)"
KEYGATE_BENCH_LIMITED_KEY="$("$bench" key-limited)"
export KEYGATE_BENCH_LIMITED_KEY
KEYGATE_BENCH_IDENTITY_KEY="$("$bench" key-identity)"
export KEYGATE_BENCH_IDENTITY_KEY
start_watch "$cpu_port" 1 "$KEYGATE_RUN_DIR/watch-cpu.log"
# The function processes are told apart from the emulator by their executables, the
# release binaries built above; a failure here is reported in the table, not fatal.
if ! "$bench" cpu "http://127.0.0.1:$cpu_port/lambda-url" "$watch_pid" "$protected" "$empty" >"$work/cpu.md"; then
  log "warning: the CPU per request step failed (see above)"
  echo "**The CPU per request step failed in this run** (see the log of \`make bench\`)." >"$work/cpu.md"
fi
stop_watch

step "sizes"
{
  echo "| Function | Stripped release binary | Zip (\`bootstrap\`) | Goal (zip < 5 MB) |"
  echo "|---|---|---|---|"
  for f in "${functions[@]}" empty; do
    bin="$release/$f"
    if [[ " ${unbuilt[*]} " == *" $f "* ]] || [ ! -f "$bin" ]; then
      echo "| $f | (did not build in this run) | | |"
      continue
    fi
    rm -rf "$work/zip" && mkdir -p "$work/zip"
    cp "$bin" "$work/zip/bootstrap"
    (cd "$work/zip" && zip -q -9 -X bootstrap.zip bootstrap)
    b=$(stat -c %s "$bin")
    z=$(stat -c %s "$work/zip/bootstrap.zip")
    awk -v f="$f" -v b="$b" -v z="$z" 'BEGIN {
      printf "| %s | %.2f MB | %.2f MB | %s |\n", f, b / 1048576, z / 1048576, (z < 5 * 1048576 ? "met" : "**not met**") }'
  done
} >"$work/sizes.md"

# The release profile's settings and its per-package overrides, without Cargo.toml's comments.
profile="$(awk '
  /^\[profile\.release\]/ { on = 1; pkg = ""; next }
  /^\[profile\.release\.package\./ { on = 1; pkg = $0; gsub(/^\[profile\.release\.package\.|\]$/, "", pkg); pkg = pkg ": "; next }
  /^\[/ { on = 0; next }
  on && NF && !/^#/ { printf "%s%s%s", sep, pkg, $0; sep = ", " }' Cargo.toml)"
commit="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (with uncommitted changes)')"
{
  echo "# Keygate benchmark"
  echo
  echo "Measured by \`make bench\` (local/bench.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit."
  echo "Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM, shared with other work while it ran."
  echo "Toolchain: $(rustc --version); release profile: \`$profile\`."
  echo "Services: Redis $(redis-cli -u "$REDIS_URL" info server 2>/dev/null | sed -n 's/^redis_version:\([^[:space:]]*\).*/\1/p') on 127.0.0.1, DynamoDB Local (in memory, JVM) on 127.0.0.1:$DYNAMODB_PORT, emulator \`$(cargo lambda --version | head -n1)\`."
  echo
  echo "Each figure is the median of ${BENCH_RUNS:-5} runs with the min–max over those runs in brackets;"
  echo "each ratio is computed within a run against the baseline measured in that same run (the two"
  echo "alternate, one iteration or one run each in turn), then summarised the same way."
  [ -n "${BENCH_QUICK:-}" ] && { echo; echo "**BENCH_QUICK run: too few samples to quote.**"; }
  echo
  echo "## Verification in process (rows 1–3) and issue/revoke (row 7)"
  echo
  echo "\`keygate::verify::verify\` on a current-thread Tokio runtime, as in a function, against real Redis and DynamoDB Local."
  echo
  cat "$work/inproc.md"
  echo
  echo "## Cold start (row 5)"
  echo
  echo "The harness plays the Lambda Runtime API on a local port, spawns the release binary and stops the clock when the first invocation's response arrives (exec, configuration, SDK client, Redis connection, one cache-hit verification)."
  echo
  cat "$work/cold.md"
  echo
  echo "## End to end through \`cargo lambda watch --release --concurrency 16\` (row 4)"
  echo
  echo "\`wrk --latency\` for ${BENCH_HTTP_SECONDS:-4} s per run against \`test-protected\` with a valid key and against \`empty\` (a \`lambda_http\` function that only answers 200), in alternating runs, after a warm-up."
  echo
  cat "$work/http.md"
  echo
  echo "## CPU per request"
  echo
  echo "CPU time spent inside the function's own process per request, the figure that sets the Lambda bill: on Lambda at 128 MB a function gets about 1/14 of a vCPU, so each µs of CPU is about 14 µs of billed time (issue 16). Measured through a separate \`cargo lambda watch --release --concurrency 1\` with \`wrk\` at c = 1 for ${BENCH_HTTP_SECONDS:-$([ -n "${BENCH_QUICK:-}" ] && echo 1 || echo 4)} s per run, one function at a time, after a warm-up that leaves exactly one instance per function: utime + stime of that instance (the release binary the emulator starts, found by its executable; not the emulator) from \`/proc/<pid>/stat\` before and after the run, divided by the requests wrk completed. The three subjects take turns in a rotating order, one run each; Keygate's share is test-protected's figure minus the empty function's in the same run. utime + stime count in clock ticks (10 ms at 100 per second): each run's figure is exact to one tick, about 1 % of the second or so of CPU a 4 s run takes here. Figures are noisy on this machine: it has 2 cores shared with other work (the load average over this step is below the table), and a busy machine adds cache misses and wake-ups to each request's CPU."
  echo
  cat "$work/cpu.md"
  echo
  echo "## Size and memory (row 6)"
  echo
  echo "x86_64 release binaries (stripped by the profile), zipped as \`bootstrap\` the way Lambda takes them."
  echo
  cat "$work/sizes.md"
  echo
  echo "Peak RSS (VmHWM) of \`test-protected\` after the load above: **$rss_mb $rss_unit** (the largest of $instances instances), goal < 20 MB: $rss_verdict."
  if [ -f "$root/bench/NOTES.md" ]; then
    echo
    cat "$root/bench/NOTES.md"
  fi
} >"$work/RESULTS.md"
cp "$work/RESULTS.md" "$output"
cat "$output"
log "written to ${output#"$root/"}"
