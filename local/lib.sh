# shellcheck shell=bash
# Helpers shared by the scripts in local/. Sources local/env.sh (the settings) too:
#
#   . "$here/lib.sh"
#
# For scripts, not interactive shells: `die` exits. log, die and step write to stderr,
# prefixed with $log_prefix (default "keygate"), which a script may set.

# shellcheck source-path=SCRIPTDIR source=env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

log() { printf '%s: %s\n' "${log_prefix:-keygate}" "$*" >&2; }
die() {
  printf '%s: error: %s\n' "${log_prefix:-keygate}" "$*" >&2
  exit 1
}
step() { printf '\n%s: == %s\n' "${log_prefix:-keygate}" "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [ "$(id -u)" -eq 0 ]; }
# random_hex N: 2N random hex digits.
random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# keygate_local ARGS: the local/bootstrap binary (create-table; services up|down|status),
# built first if a source changed.
keygate_local() {
  cargo run --quiet --manifest-path "$KEYGATE_ROOT/Cargo.toml" --package keygate-local -- "$@"
}
