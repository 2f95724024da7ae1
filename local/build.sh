#!/usr/bin/env bash
# `make build`: cross-builds every function for Lambda on Graviton (arm64, provided.al2023)
# with cargo-lambda, which bundles Zig as the cross linker, and prints each zip's size.
#
# The functions are the workspace members under functions/, found with `cargo metadata`,
# so a new function is picked up without editing this file. Zips land in
# target/lambda/<function>/bootstrap.zip, ready for `aws lambda update-function-code`;
# `sam build` builds its own copies the same way.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
root="$(cd "$here/.." && pwd -P)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
cd "$root"

target=aarch64-unknown-linux-gnu
if ! rustup target list --installed | grep -qx "$target"; then
  rustup target add "$target"
fi

mapfile -t functions < <(
  cargo metadata --no-deps --format-version 1 |
    jq -r --arg dir "$root/functions/" \
      '.packages[] | select(.manifest_path | startswith($dir)) | .name' |
    sort
)
if [ "${#functions[@]}" -eq 0 ]; then
  die "no function packages found under functions/"
fi

package_args=()
for f in "${functions[@]}"; do
  package_args+=(--package "$f")
done
log "building ${functions[*]} for $target"
# One cargo invocation, so shared dependencies (the AWS SDK, rustls, aws-lc) compile once.
cargo lambda build --release --arm64 --output-format zip "${package_args[@]}"

printf '\n%-16s %12s %9s\n' function bytes MB
for f in "${functions[@]}"; do
  zip="${CARGO_TARGET_DIR:-target}/lambda/$f/bootstrap.zip"
  if [ ! -f "$zip" ]; then
    die "$zip is missing"
  fi
  bytes=$(stat -c %s "$zip")
  printf '%-16s %12d %9s\n' "$f" "$bytes" "$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1048576 }')"
done
