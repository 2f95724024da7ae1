#!/usr/bin/env bash
# `make regions`: issue 19's local simulation of two regions, and how long a key revoked in
# one keeps verifying in the other. Writes bench/REGIONS.md.
#
# Starts what it needs and stops it at the end: its own in-memory DynamoDB Local (port
# $KEYGATE_REGIONS_DYNAMODB_PORT, default 8003, so it never touches `make dev`, the tests or
# `make bench`) whose table has its stream on, standing in for the replicated global table;
# the local Redis (REDIS_URL, reused, under a key prefix of its own) as region A's cache;
# and a second redis-server on a spare port as region B's. Then, in one release process
# (`keygate-bench regions`, bench/src/regions.rs): region A issues, verifies and revokes,
# region B verifies, and B's `cache-sync` is fed from the stream by a small poller standing in
# for Lambda's. Every figure is from this machine and run; the file says which.
#
# Settings: REGIONS_ROUNDS (default 200), REGIONS_POLL_MS (the poller's pause after an
# empty GetRecords, default 25), REGIONS_BOUND_MS (the stated bound, default 1000),
# BENCH_QUICK=1 (20 rounds: a smoke run of the harness, not worth keeping),
# REGIONS_OUTPUT (default bench/REGIONS.md).
#
# If it cannot run here (no Java/DynamoDB Local or redis-server, and they cannot be
# installed) it says so and passes, except under CI=true, where that fails the run.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
root="$(cd "$here/.." && pwd -P)"
export DYNAMODB_PORT="${KEYGATE_REGIONS_DYNAMODB_PORT:-8003}"
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT"
# DynamoDB Local serves the Streams API on the same port.
export AWS_ENDPOINT_URL_DYNAMODB_STREAMS="$AWS_ENDPOINT_URL_DYNAMODB"
export KEYGATE_DYNAMODB_IN_MEMORY=1
export KEYGATE_RUN_DIR="$root/local/.run/regions"
export TABLE_NAME=keygate-regions
log_prefix="keygate regions"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
export KEYGATE_BENCH_TABLE="$TABLE_NAME"
export KEYGATE_BENCH_NAMESPACE="kgregions-$$"
output="${REGIONS_OUTPUT:-$root/bench/REGIONS.md}"

work="$(mktemp -d)"
redis_b_dir="$KEYGATE_RUN_DIR/redis-b"
cleanup() {
  # Only what this script started: region B's redis-server and the in-memory DynamoDB
  # Local (services.sh keeps their pid files in these run dirs; a service it merely
  # reused, like the Redis at REDIS_URL, is left running).
  if [ -n "${redis_b_url:-}" ]; then
    REDIS_URL="$redis_b_url" KEYGATE_RUN_DIR="$redis_b_dir" \
      bash "$here/services.sh" down redis >/dev/null 2>&1 || true
  fi
  bash "$here/services.sh" down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

how_to="install Java and redis-server (local/install-tools.sh dynamodb redis does it as root on Debian/Ubuntu), then run make regions"

step "tools (DynamoDB Local, redis-server)"
if ! bash "$here/install-tools.sh" dynamodb redis; then
  not_run "make regions (DynamoDB Local or redis-server is missing and could not be installed)" "$how_to"
  exit 0
fi

step "services: in-memory DynamoDB Local on $DYNAMODB_PORT (streams on the same port), region A's Redis at $REDIS_URL"
if ! bash "$here/services.sh" up; then
  not_run "make regions (DynamoDB Local or Redis did not start)" "$how_to"
  exit 0
fi

# A port nothing listens on, for region B's Redis.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
redis_b_port=""
for _ in $(seq 1 50); do
  p=$((20000 + RANDOM % 20000))
  if port_free "$p"; then
    redis_b_port="$p"
    break
  fi
done
[ -n "$redis_b_port" ] || die "no free port found for region B's Redis"
redis_b_url="redis://127.0.0.1:$redis_b_port"
step "services: region B's Redis, a redis-server of its own at $redis_b_url"
# Natively (not docker compose, whose project would be the one `make dev` uses).
if ! REDIS_URL="$redis_b_url" KEYGATE_RUN_DIR="$redis_b_dir" KEYGATE_USE_DOCKER=0 \
  bash "$here/services.sh" up redis; then
  not_run "make regions (region B's redis-server did not start)" "$how_to"
  exit 0
fi
export REGIONS_REDIS_B_URL="$redis_b_url"

cd "$root"
step "release build"
log "cargo build --release -p keygate-bench"
cargo build --release --quiet -p keygate-bench
bench="${CARGO_TARGET_DIR:-$root/target}/release/keygate-bench"

step "two regions: revoke in A, time until B refuses (${REGIONS_ROUNDS:-200} rounds)"
started=$SECONDS
status=0
"$bench" regions >"$work/regions.md" || status=$?
took=$((SECONDS - started))
if ! grep -q '^p50: ' "$work/regions.md"; then
  die "keygate-bench regions stopped before it measured anything (exit $status); bench/REGIONS.md is unchanged"
fi

commit="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (with uncommitted changes)')"
redis_version() { redis-cli -u "$1" info server 2>/dev/null | sed -n 's/^redis_version:\([^[:space:]]*\).*/\1/p'; }
dynamodb_jar="$(keygate_dynamodb_jar_dir 2>/dev/null || true)"
{
  echo "# Keygate across regions: a revoke in one, refused in the other"
  echo
  echo "Measured by \`make regions\` (local/regions.sh, bench/src/regions.rs) on $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit, in ${took} s."
  echo "Machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo) RAM, shared with other work while it ran (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))."
  echo "Services: one DynamoDB Local${dynamodb_jar:+ ($(basename "$dynamodb_jar"))}, in memory, with the table's stream on (NEW_AND_OLD_IMAGES), standing in for the global table; region A's cache Redis $(redis_version "$REDIS_URL") (\`$REDIS_URL\`), region B's a redis-server $(redis_version "$redis_b_url") of its own (\`$redis_b_url\`); all on 127.0.0.1."
  [ -n "${BENCH_QUICK:-}" ] && { echo; echo "**BENCH_QUICK run: too few rounds to quote.**"; }
  echo
  echo "One release process plays both regions: region A issues, verifies and revokes (\`keygate::ops\`, as its functions do); region B verifies, and its \`cache-sync\` (\`cache_sync::handle\`, the function's own handler) is called with the stream's real records by a small poller standing in for Lambda's event source mapping (\`cargo lambda watch\` does not poll streams). Each round: a new key, verified in both regions until both caches hold it, revoked in A; the clock starts when the revoke returns (its 200) and stops when a verification in B answers *revoked* from B's cache. Meanwhile other tasks keep verifying the key in both regions, and each answer is checked against the bound stated below."
  echo
  cat "$work/regions.md"
  echo
  echo "What this leaves out, and AWS adds: the global table's replication to the other region's replica (AWS gives typically under a second) and Lambda's own stream polling (about four GetRecords per second per shard, against every ${REGIONS_POLL_MS:-25} ms of idle here), so expect the end-to-end figure in AWS to be this plus those two."
} >"$work/REGIONS.md"
cp "$work/REGIONS.md" "$output"
cat "$output"
log "written to ${output#"$root/"} (the run took ${took} s)"
if [ "$status" != 0 ]; then
  die "a check that must hold failed (see ${output#"$root/"}); keygate-bench exited $status"
fi
