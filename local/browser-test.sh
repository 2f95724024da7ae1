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
# tests/browser/package-lock.json). Each run uses a fresh table and a fresh admin token.
# Screenshots: tests/browser/out/. Port: $KEYGATE_BROWSER_PORT (default 9002).
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
export TABLE_NAME ADMIN_TOKEN

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
    die "$chromium_bin is missing; install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH"
  fi
  log "installing chromium with apt"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2
fi
have node || die "node is missing (Node.js 20 or later)"
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
cargo build --quiet --package admin --package test-protected

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
KEYGATE_ADMIN_URL="$admin_url" \
  KEYGATE_PROTECTED_URL="http://127.0.0.1:$port/lambda-url/test-protected/" \
  CHROMIUM_PATH="$chromium_bin" \
  node --test --test-reporter=spec "$browser_dir/admin.test.mjs" || status=$?

# The functions' log lines must never hold the admin token.
if grep -qF "$ADMIN_TOKEN" "$watch_log"; then
  die "the admin token appears in $watch_log"
fi
[ "$status" = 0 ] || die "browser test failed (function log: $watch_log)"
log "passed; screenshots in tests/browser/out/"
