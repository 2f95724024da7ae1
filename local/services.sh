#!/usr/bin/env bash
# Start, stop and probe DynamoDB Local and Redis, with the settings of local/env.sh:
#   local/services.sh up|down|status [dynamodb] [redis]      (--help: all of it)
# It runs `keygate-local services` (local/bootstrap/src/services_cli/).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# `down` is the cleanup of other scripts: when keygate-local no longer builds (a source
# changed since `up`), the binary built last still stops what `up` started.
last_built="${CARGO_TARGET_DIR:-$KEYGATE_ROOT/target}/debug/keygate-local"
if [ "${1:-}" = down ] && [ -x "$last_built" ] &&
  ! cargo build --quiet --manifest-path "$KEYGATE_ROOT/Cargo.toml" --package keygate-local; then
  log "warning: keygate-local does not build; stopping the services with the one built last"
  exec "$last_built" services "$@"
fi
keygate_local services "$@"
