#!/usr/bin/env bash
# The admin page in a real browser: Debian's Chromium, driven by playwright-core, against the
# admin function served by `cargo lambda watch` on DynamoDB Local and Redis.
#
# `make test` (local/test.sh) calls it once the services are up. It also runs on its own:
#   bash local/browser-test.sh
# which uses the test services (in-memory DynamoDB Local on $KEYGATE_TEST_DYNAMODB_PORT,
# default 8001), starting them if they are not answering and stopping them afterwards.
#
# Installs what is missing: Chromium with apt (as root), playwright-core with npm (from
# tests/browser/package-lock.json). Each run uses a fresh table, a fresh Redis namespace and
# a fresh admin token: the test folds the usage counts (usage-fold, through the emulator's
# Lambda API), and a fold takes every count of its namespace, dropping those of keys its table
# does not hold, so a shared namespace would lose another run's counts (or this one's to
# `make dev`'s fold).
# Screenshots: tests/browser/out/. Port: $KEYGATE_BROWSER_PORT (default 9002).
#
# It passes only when node's test runner ran at least one test and every test passed (none
# skipped, todo or cancelled). Without Chromium (and no root to install it) or Node.js the
# test cannot run: that fails the run under CI=true and is reported loudly elsewhere
# (local/lib.sh, not_run).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
root="$(cd "$here/.." && pwd -P)"
: "${DYNAMODB_PORT:=${KEYGATE_TEST_DYNAMODB_PORT:-8001}}"
: "${AWS_ENDPOINT_URL_DYNAMODB:=http://127.0.0.1:$DYNAMODB_PORT}"
: "${KEYGATE_DYNAMODB_IN_MEMORY:=1}"
: "${KEYGATE_RUN_DIR:=$root/local/.run/test}"
export DYNAMODB_PORT AWS_ENDPOINT_URL_DYNAMODB KEYGATE_DYNAMODB_IN_MEMORY KEYGATE_RUN_DIR
log_prefix="keygate: browser"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
TABLE_NAME="keygate-browser-$(random_hex 4)"
ADMIN_TOKEN="browser-$(random_hex 16)"
CACHE_KEY_PREFIX="kgbrowser:$(random_hex 4)"
export TABLE_NAME ADMIN_TOKEN CACHE_KEY_PREFIX

chromium_bin="${CHROMIUM_PATH:-/usr/bin/chromium}"
browser_dir="$root/tests/browser"
port="${KEYGATE_BROWSER_PORT:-9002}"
watch_log="$KEYGATE_RUN_DIR/browser-watch.log"
mkdir -p "$KEYGATE_RUN_DIR"

watch_pid=""
started_services=0
cleanup() {
  if [ -n "$watch_pid" ]; then
    kill "$watch_pid" 2>/dev/null || true
    wait "$watch_pid" 2>/dev/null || true
  fi
  if [ "$started_services" = 1 ]; then
    bash "$here/services.sh" down >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

# ------------------------------------------------------------------ tools
if [ ! -x "$chromium_bin" ]; then
  if ! is_root || ! have apt-get; then
    not_run "the admin page's browser test ($chromium_bin is missing, and only root can install it here)" \
      "install Debian's chromium (sudo apt-get install chromium) or set CHROMIUM_PATH to a Chromium"
    exit 0
  fi
  log "installing chromium with apt"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2
fi
if ! have node || ! have npm; then
  not_run "the admin page's browser test (node or npm is missing)" \
    "install Node.js 20 or later with npm (Debian: apt-get install nodejs npm)"
  exit 0
fi
if [ ! -f "$browser_dir/node_modules/playwright-core/package.json" ]; then
  log "installing playwright-core (npm ci)"
  (cd "$browser_dir" && npm ci --no-audit --no-fund --loglevel=error) >&2
fi

# ------------------------------------------------------------------ services
if ! bash "$here/services.sh" status 2>/dev/null; then
  bash "$here/services.sh" up
  started_services=1
fi

cd "$root"
keygate_local create-table
# usage-fold too: the test invokes it, and the emulator would build it then, mid-test.
cargo build --quiet --package admin --package test-protected --package usage-fold

# ------------------------------------------------------------------ the functions
if curl -s --noproxy '*' -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; then
  die "port $port is taken; set KEYGATE_BROWSER_PORT to a free port"
fi
# --ignore-changes: other work in the tree must not restart the functions mid-test.
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" --ignore-changes \
  >"$watch_log" 2>&1 &
watch_pid=$!
admin_url="http://127.0.0.1:$port/lambda-url/admin/"
ready=0
for _ in $(seq 1 120); do
  if [ "$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' --max-time 60 "$admin_url")" = 200 ]; then
    ready=1
    break
  fi
  kill -0 "$watch_pid" 2>/dev/null || break
  sleep 1
done
[ "$ready" = 1 ] || { tail -n 20 "$watch_log" >&2; die "the admin function did not answer at $admin_url"; }

# ------------------------------------------------------------------ the test
log "Chromium $("$chromium_bin" --version 2>/dev/null | awk '{print $2}'), playwright-core $(node -p "require('$browser_dir/node_modules/playwright-core/package.json').version")"
status=0
test_log="$KEYGATE_RUN_DIR/browser-test.log"
KEYGATE_ADMIN_URL="$admin_url" \
  KEYGATE_PROTECTED_URL="http://127.0.0.1:$port/lambda-url/test-protected/" \
  KEYGATE_FOLD_URL="http://127.0.0.1:$port/2015-03-31/functions/usage-fold/invocations" \
  CHROMIUM_PATH="$chromium_bin" \
  node --test --test-reporter=spec "$browser_dir/admin.test.mjs" 2>&1 | tee "$test_log" || status=$?
# node's closing counts ("ℹ tests 19", "ℹ pass 19", ...): a run of no test, or with a test
# skipped, passes node but proves nothing.
count() { sed -n "s/^[^a-z]*$1 \([0-9][0-9]*\)\$/\1/p" "$test_log" | tail -n1; }
tests="$(count tests)" passed="$(count pass)"
skipped="$(count skipped)" todo="$(count todo)" cancelled="$(count cancelled)"
not_passed=$((${skipped:-0} + ${todo:-0} + ${cancelled:-0}))
log "node --test: ${tests:-no} tests, ${passed:-no} passed, $not_passed skipped, todo or cancelled"

# The functions' log lines must never hold the admin token, nor any admin credential's
# secret (the test creates and rotates several; a display prefix such as kga_1a2b3c4d is
# fine, the whole kga_ + 72 hex digits is not).
if grep -qF "$ADMIN_TOKEN" "$watch_log"; then
  die "the admin token appears in $watch_log"
fi
if grep -Eq 'kga_[0-9a-f]{72}' "$watch_log"; then
  die "an admin credential's secret appears in $watch_log"
fi
# One line per request (with latency_us): without any, the scan above read nothing of theirs.
grep -q latency_us "$watch_log" || die "no request line of the functions in $watch_log: the log scan proved nothing"
[ "$status" = 0 ] || die "browser test failed (function log: $watch_log)"
if [ -z "$tests" ] || [ "$tests" -eq 0 ] || [ "$passed" != "$tests" ] || [ "$not_passed" -ne 0 ]; then
  die "the browser test did not run every test: ${tests:-no} tests, ${passed:-no} passed, $not_passed skipped, todo or cancelled (log: $test_log)"
fi
log "passed; screenshots in tests/browser/out/"
