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

# The rule for a check that cannot run here (a tool, database or interpreter it needs is
# missing and cannot be installed): under CI=true it fails the run, so CI never passes a
# check it did not make. Elsewhere it says so in a banner, records it in
# $KEYGATE_RUN_DIR/checks-not-run (which `make test` repeats on its last lines), and
# returns; the caller then skips the check (usually `exit 0`).
#   not_run "WHAT DID NOT RUN (WHY)" "HOW TO GET WHAT IT NEEDS"
in_ci() {
  case "${CI:-}" in
    true | TRUE | True | 1 | yes) return 0 ;;
    *) return 1 ;;
  esac
}
not_run() {
  local rule="======================================================================" line
  if in_ci; then
    for line in "$rule" "CANNOT RUN: $1" "To run it: $2" \
      "Under CI=true a check that cannot run fails the run." "$rule"; do
      printf '%s: error: %s\n' "${log_prefix:-keygate}" "$line" >&2
    done
    exit 1
  fi
  for line in "$rule" "NOT RUN: $1" "To run it: $2" \
    "(This passes only outside CI: under CI=true it fails the run.)" "$rule"; do
    log "$line"
  done
  mkdir -p "$KEYGATE_RUN_DIR"
  printf '%s\n' "$1" >>"$KEYGATE_RUN_DIR/checks-not-run"
}
# checkov_venv: where install-tools.sh puts checkov (KEYGATE_CHECKOV_VERSION, local/env.sh).
checkov_venv() { printf '%s/checkov-%s\n' "$KEYGATE_TOOLS_DIR" "$KEYGATE_CHECKOV_VERSION"; }
is_root() { [ "$(id -u)" -eq 0 ]; }
# random_hex N: 2N random hex digits.
random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

# keygate_local ARGS: the local/bootstrap binary (create-table; services up|down|status),
# built first if a source changed.
keygate_local() {
  cargo run --quiet --manifest-path "$KEYGATE_ROOT/Cargo.toml" --package keygate-local -- "$@"
}
