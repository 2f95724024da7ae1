#!/usr/bin/env bash
# `make check`: the fast inner loop. The format check, clippy, and the unit and integration
# tests (`cargo test --workspace`) against an in-memory DynamoDB Local on
# $KEYGATE_CHECK_DYNAMODB_PORT (default 8003) and Redis at $REDIS_URL, started with
# `services up` unless they already answer, and stopped at the end if this run started them.
# `make test` runs all of this and more (audit, template lint, smoke, browser, schemathesis,
# load, fuzz, cross-build).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
root="$(cd "$here/.." && pwd -P)"
# A port and pid files of its own, apart from `make dev` and `make test`: stopping what
# this run started never stops theirs.
export DYNAMODB_PORT="${KEYGATE_CHECK_DYNAMODB_PORT:-8003}"
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT"
export KEYGATE_DYNAMODB_IN_MEMORY=1
export KEYGATE_RUN_DIR="$root/local/.run/check"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

cleanup() { bash "$here/services.sh" down >/dev/null 2>&1 || true; }
trap cleanup EXIT

started=$SECONDS
cd "$root"
step "format"
cargo fmt --all --check

step "services"
# The fault tests start their own redis-server and DynamoDB Local, even when the shared
# ones are reused: both must be installed.
bash "$here/install-tools.sh" dynamodb redis
bash "$here/services.sh" up

step "lints"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "unit and integration tests (cargo test --workspace)"
cargo test --workspace

log "check passed in $((SECONDS - started))s"
