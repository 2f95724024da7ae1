#!/usr/bin/env bash
# Load test: release builds of issue, revoke and test-protected under `cargo lambda watch
# --release` (4 instances each), driven by local/load.py from a second process on loopback
# with mixed traffic checked against ground truth. Zero wrong answers, zero 5xx, memory
# steady, or it fails.
#
# Assumes DynamoDB Local and Redis are up (as `make test` / local/test.sh leaves them, or
# `bash local/services.sh up`); starts and stops its own `cargo lambda watch`.
#
# Settings: KEYGATE_LOAD_PORT (default 9014), KEYGATE_LOAD_SECONDS (default 120),
# KEYGATE_LOAD_REQUESTS (default 200000), KEYGATE_LOAD_THREADS (default 8),
# KEYGATE_LOAD_POOL (keys issued before the clock starts, default 50).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
root="$(cd "$here/.." && pwd -P)"
log_prefix=load
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
# Its own table and cache namespace: the load leaves thousands of keys behind.
# A fresh table per run: one left by an older build may lack an index or attribute the
# code now needs.
export TABLE_NAME="${KEYGATE_LOAD_TABLE:-keygate-load-$(random_hex 4)}"
export CACHE_KEY_PREFIX="kgload"

port="${KEYGATE_LOAD_PORT:-9014}"
run_dir="$KEYGATE_RUN_DIR/load"
watch_log="$run_dir/watch.log"

cleanup() {
  if [ -n "${watch_pid:-}" ]; then
    kill "$watch_pid" 2>/dev/null || true
    wait "$watch_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

bash "$here/services.sh" status >/dev/null || die "DynamoDB Local and Redis must be up: bash local/services.sh up"
mkdir -p "$run_dir"
cd "$root"
keygate_local create-table
token="load-$(random_hex 16)"
export ADMIN_TOKEN="$token"
log "building release binaries"
cargo build --quiet --release --package issue --package revoke --package test-protected
if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
  die "port $port is taken; set KEYGATE_LOAD_PORT to a free one"
fi
cargo lambda watch --release --ignore-changes \
  --invoke-address 127.0.0.1 --invoke-port "$port" --concurrency 4 >"$watch_log" 2>&1 &
watch_pid=$!
for _ in $(seq 1 60); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  kill -0 "$watch_pid" 2>/dev/null || die "cargo lambda watch stopped: $(tail -5 "$watch_log")"
  sleep 1
done

# The watch starts each function with `cargo run` on its first request (rebuilding it if a
# source changed since the build above): get that out of the way before the clock starts.
base="http://127.0.0.1:$port/lambda-url"
for function in issue revoke test-protected; do
  curl -s -o /dev/null --max-time 900 -X POST -H 'Content-Type: application/json' -d '{}' \
    "$base/$function/" || die "$function did not start: $(tail -5 "$watch_log")"
done

status=0
keys="$run_dir/keys.txt"
KEYGATE_LOAD_KEYS_FILE="$keys" python3 "$here/load.py" "$base" "$token" "$watch_pid" || status=$?
# Every key the run issued, and the token, must be absent from the functions' logs.
echo "$token" >>"$keys"
if grep -qF -f "$keys" "$watch_log"; then
  die "a raw key or the admin token reached the function logs"
fi
# One line per request (with latency_us): without any, the scan above read nothing of theirs.
request_lines="$(grep -c latency_us "$watch_log" || true)"
[ "${request_lines:-0}" -gt 0 ] || die "no request line of the functions in $watch_log: the log scan proved nothing"
log "no raw key ($(($(wc -l <"$keys") - 1)) issued) and not the admin token in $(wc -l <"$watch_log") log lines ($request_lines of them request lines)"
rm -f "$keys"
[ "$status" = 0 ] || die "wrong answers, 5xx, errors, growing memory or a run that checked too little (see above; logs in $watch_log)"
