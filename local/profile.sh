#!/usr/bin/env bash
# `make profile`: the instructions Keygate spends on one request, counted by callgrind, and
# where they go. Repeatable where wall-clock figures are not: callgrind counts instructions,
# which do not depend on what else the machine is doing (see bench/PROFILE.md).
#
# Builds keygate-bench with symbols into its own target directory (release, but unstripped
# and without LTO, so the functions keep their names), then runs `keygate-bench profile`
# for each subject at 1,000 and 3,000 requests under callgrind; the difference over 2,000
# is the cost of one request, with set-up (keys issued, clients built) cancelled out.
# Writes the per-request figures and the top inclusive costs of test-protected to
# bench/PROFILE-RESULTS.md (or $PROFILE_OUTPUT).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
root="$(cd "$here/.." && pwd -P)"
export DYNAMODB_PORT="${KEYGATE_BENCH_DYNAMODB_PORT:-8002}"
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT"
export KEYGATE_DYNAMODB_IN_MEMORY=1
export KEYGATE_RUN_DIR="$root/local/.run/profile"
. "$here/lib.sh"
export KEYGATE_BENCH_TABLE=keygate-profile
export KEYGATE_BENCH_NAMESPACE="kgprofile-$$"
# The JSON lines Lambda writes (the request's line in the Embedded Metric Format).
export AWS_LAMBDA_LOG_FORMAT=JSON
output="${PROFILE_OUTPUT:-$root/bench/PROFILE-RESULTS.md}"
target="${KEYGATE_PROFILE_TARGET_DIR:-${CARGO_TARGET_DIR:-$root/target}-profile}"

cleanup() { bash "$here/services.sh" down >/dev/null 2>&1 || true; }
trap cleanup EXIT

have valgrind || die "valgrind not found; install it (e.g. sudo apt-get install valgrind)"
step "services (in-memory DynamoDB Local on $DYNAMODB_PORT, Redis at $REDIS_URL)"
bash "$here/services.sh" up

step "build (release with symbols, no LTO) into $target"
cd "$root"
CARGO_TARGET_DIR="$target" CARGO_PROFILE_RELEASE_STRIP=false \
  CARGO_PROFILE_RELEASE_DEBUG=line-tables-only CARGO_PROFILE_RELEASE_LTO=false \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 cargo build --release --quiet -p keygate-bench
bench="$target/release/keygate-bench"

work="$(mktemp -d)"
trap 'rm -rf "$work"; cleanup' EXIT
instructions() { # subject requests [callgrind output]
  # valgrind's report and the program's own errors share stderr: kept, so that a failed run
  # says why instead of only failing.
  local report="$work/$1-$2.stderr"
  if ! valgrind --tool=callgrind --callgrind-out-file="${3:-/dev/null}" "$bench" profile "$1" "$2" \
    2>"$report" >/dev/null; then
    grep -v '^==' "$report" | tail -n 5 >&2
    die "keygate-bench profile $1 $2 failed under valgrind (above)"
  fi
  sed -nE 's/.*I +refs: +([0-9,]+).*/\1/p' "$report" | tr -d ,
}
declare -A per
for subject in empty test-protected test-protected-limited verify; do
  log "callgrind: $subject, 1,000 and 3,000 requests"
  a="$(instructions "$subject" 1000)"
  b="$(instructions "$subject" 3000 "$work/$subject.out")"
  [ -n "$a" ] && [ -n "$b" ] || die "callgrind gave no count for $subject"
  per[$subject]=$(( (b - a) / 2000 ))
  log "$subject: ${per[$subject]} instructions per request"
done

{
  echo "# Keygate profile"
  echo
  echo "Measured by \`make profile\` (local/profile.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)."
  echo "Instructions counted by callgrind (valgrind $(valgrind --version | sed 's/valgrind-//')), per request: the difference between a 3,000- and a 1,000-request run of \`keygate-bench profile\`, over 2,000. See bench/PROFILE.md for the method."
  echo
  echo "| Subject | Instructions per request | Keygate's share (minus empty) |"
  echo "|---|---|---|"
  for subject in empty test-protected test-protected-limited; do
    echo "| $subject | ${per[$subject]} | $(( per[$subject] - per[empty] )) |"
  done
  # Row 1's path with nothing around it: its own figure, not a share of a request.
  echo "| verify (row 1's path alone: no request, span or log line) | ${per[verify]} | |"
  echo
  echo "## Where test-protected's instructions go (inclusive, whole 3,000-request run, set-up included)"
  echo
  echo '```'
  callgrind_annotate --inclusive=yes "$work/test-protected.out" 2>/dev/null \
    | grep -E 'keygate::|redis::|serde_json|sha2|tracing_subscriber::fmt' | awk 'NR <= 30' \
    | cut -c1-160
  echo '```'
} > "$output"
log "wrote $output"
