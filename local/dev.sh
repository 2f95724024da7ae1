#!/usr/bin/env bash
# `make dev`: everything Keygate needs on one machine, then the functions in the foreground.
#
# Installs what is missing, starts DynamoDB Local and Redis unless they already answer at
# the configured endpoints, creates the table, and serves every function with
# `cargo lambda watch` at http://127.0.0.1:$KEYGATE_PORT/lambda-url/<function>/, and folds
# the usage counts into the table every minute (`keygate-local fold-usage`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
: "${LAMBDA_CONCURRENCY:=4}"
: "${KEYGATE_PORT:=9000}"
: "${KEYGATE_HOST:=127.0.0.1}"

bash "$here/install-tools.sh" cargo-lambda
bash "$here/services.sh" up

log "creating table $TABLE_NAME if it is missing"
keygate_local create-table

mkdir -p "$KEYGATE_RUN_DIR"
token_file="$KEYGATE_RUN_DIR/admin-token"
if [ -z "${ADMIN_TOKEN:-}" ]; then
  # Keep one generated token across restarts, readable only by this user.
  if [ ! -s "$token_file" ]; then
    (umask 077 && random_hex 24 >"$token_file")
    log "generated a random ADMIN_TOKEN (kept in $token_file)"
  fi
  ADMIN_TOKEN="$(cat "$token_file")"
fi
export ADMIN_TOKEN LAMBDA_CONCURRENCY

base="http://$KEYGATE_HOST:$KEYGATE_PORT/lambda-url"
cat >&2 <<BANNER

  Keygate is starting (functions compile on their first request).

    issue           POST $base/issue/
    revoke          POST $base/revoke/
    rotate          POST $base/rotate/
    test-protected  GET  $base/test-protected/
    verify          POST $base/verify/          (Authorization: Bearer <admin credential>)
    admin           GET  $base/admin/   (the admin page; sign in with the token below)

  DynamoDB  $AWS_ENDPOINT_URL_DYNAMODB  table $TABLE_NAME
  Redis     $REDIS_URL
  Instances per function: $LAMBDA_CONCURRENCY (LAMBDA_CONCURRENCY)
  Admin token: $ADMIN_TOKEN   (the bootstrap credential, role admin)
  Personal admin credential (secret printed once):
    cargo run -q -p keygate-local -- create-admin --name alice --role admin

  Try:
    curl -s -X POST $base/issue/ \\
      -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \\
      -d '{"name": "my first key"}'
    cargo lambda invoke -A $KEYGATE_HOST -P $KEYGATE_PORT test-protected \
      --data-file local/events/test-protected-missing-key.json

BANNER

# The usage-fold function's job, which runs every minute in AWS: the same fold, every
# minute, beside the functions, stopped with them.
# The binary itself in the background (not `cargo run`), so that the trap stops the fold
# and not only a shell around it.
cargo build --quiet --manifest-path "$KEYGATE_ROOT/Cargo.toml" --package keygate-local
"${CARGO_TARGET_DIR:-$KEYGATE_ROOT/target}/debug/keygate-local" fold-usage \
  --every "${USAGE_FOLD_SECONDS:-60}" &
fold_pid=$!
trap 'kill "$fold_pid" 2>/dev/null || true' EXIT INT TERM

cargo lambda watch \
  --invoke-address "$KEYGATE_HOST" \
  --invoke-port "$KEYGATE_PORT" \
  --concurrency "$LAMBDA_CONCURRENCY"
