#!/usr/bin/env bash
# `make test`: installs and starts what the tests need, then runs every check.
#
# The tests get their own in-memory DynamoDB Local (port $KEYGATE_TEST_DYNAMODB_PORT, default
# 8001) so they never touch `make dev` data; Redis is shared, under a per-test key prefix.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
root="$(cd "$here/.." && pwd -P)"
export DYNAMODB_PORT="${KEYGATE_TEST_DYNAMODB_PORT:-8001}"
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT"
export KEYGATE_DYNAMODB_IN_MEMORY=1
export KEYGATE_RUN_DIR="$root/local/.run/test"
export TABLE_NAME=keygate-smoke
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

cleanup() {
  if [ -n "${watch_pid:-}" ]; then kill "$watch_pid" 2>/dev/null || true; fi
  bash "$here/services.sh" down >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Checks that could not run on this machine list themselves here; the last lines repeat them.
mkdir -p "$KEYGATE_RUN_DIR"
rm -f "$KEYGATE_RUN_DIR/checks-not-run"

step "tools"
bash "$here/install-tools.sh"
step "services"
bash "$here/services.sh" up

cd "$root"
step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "template (cfn-lint)"
cfn-lint template.yaml

step "template security (checkov, local/checkov.sh)"
bash "$here/checkov.sh"

step "known-vulnerable dependencies (cargo audit)"
bash "$here/audit.sh"

step "unit and integration tests (cargo test --workspace)"
results="$KEYGATE_RUN_DIR/cargo-test.log"
mkdir -p "$KEYGATE_RUN_DIR"
cargo test --workspace 2>&1 | tee "$results"

step "end to end through cargo lambda watch"
keygate_local create-table
port="${KEYGATE_TEST_PORT:-9001}"
ADMIN_TOKEN="smoke-$(random_hex 16)"
export ADMIN_TOKEN
cargo build --quiet --workspace --bins
watch_log="$KEYGATE_RUN_DIR/watch.log"
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" \
  --concurrency "${LAMBDA_CONCURRENCY:-4}" >"$watch_log" 2>&1 &
watch_pid=$!
for _ in $(seq 1 60); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  sleep 1
done
python3 "$here/smoke.py" "http://127.0.0.1:$port/lambda-url" "$ADMIN_TOKEN" "$watch_log"
kill "$watch_pid" 2>/dev/null || true
watch_pid=

step "admin page in a real browser (local/browser-test.sh)"
bash "$here/browser-test.sh"

step "openapi.yaml against the running functions (local/schemathesis.sh)"
bash "$here/schemathesis.sh"

step "load: mixed traffic from a second process, checked against ground truth (local/load.sh)"
bash "$here/load.sh"

step "fuzzing key and request parsing (local/fuzz.sh, ${FUZZ_SECONDS:-30}s per target)"
bash "$here/fuzz.sh"

step "every function cross-built for arm64 Lambda (local/build.sh)"
bash "$here/build.sh"

if [ -s "$KEYGATE_RUN_DIR/checks-not-run" ]; then
  while read -r check; do log "NOT RUN: $check"; done <"$KEYGATE_RUN_DIR/checks-not-run"
fi
# One closing line for the whole run (cargo prints one per test binary, the last often
# for doc-tests with nothing in them).
awk '/^test result:/ { p += $4; f += $6 } END { printf "keygate: %d passed, %d failed\n", p, f }' "$results"
