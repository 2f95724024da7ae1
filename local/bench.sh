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

step "end to end through cargo lambda watch --release (port $port)"
watch_log="$KEYGATE_RUN_DIR/watch.log"
mkdir -p "$KEYGATE_RUN_DIR"
# --ignore-changes: edits elsewhere in the tree must not rebuild a function mid-run.
setsid cargo lambda watch --release --ignore-changes --quiet \
  --invoke-address 127.0.0.1 --invoke-port "$port" --concurrency 16 >"$watch_log" 2>&1 &
watch_pid=$!
base="http://127.0.0.1:$port/lambda-url"
ready=0
for _ in $(seq 1 120); do
  if [ "$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-KEY: $KEYGATE_BENCH_KEY" "$base/test-protected/")" = 200 ] \
    && [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/empty/")" = 200 ]; then
    ready=1
    break
  fi
  sleep 1
done
[ "$ready" = 1 ] || { tail -n 30 "$watch_log" >&2; die "the emulator did not answer 200 on both functions"; }
{
  "$bench" http-header
  "$bench" http "$base" 1
  "$bench" http "$base" 16
} >"$work/http.md"
read -r instances rss_mb rss_unit rss_verdict <<<"$("$bench" rss test-protected "$watch_pid")"
kill -- "-$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
watch_pid=""

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

profile="$(awk '/^\[profile.release\]/ { on = 1; next } /^\[/ { on = 0 } on && NF { printf "%s%s", sep, $0; sep = ", " }' Cargo.toml)"
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
