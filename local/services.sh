#!/usr/bin/env bash
# Start/stop the services Keygate needs locally: DynamoDB Local and Redis.
#
# Usage: local/services.sh up|down|status [dynamodb] [redis]
#   (no service name = both)
#
#   up      Reuse whatever already answers at $AWS_ENDPOINT_URL_DYNAMODB and
#           $REDIS_URL; start the missing ones. With a usable Docker engine
#           (and KEYGATE_USE_DOCKER != 0) via local/docker-compose.yml,
#           otherwise natively (java -jar DynamoDBLocal.jar, redis-server),
#           installing the needed tool first (local/install-tools.sh).
#   down    Stop only what `up` started (pid files in $KEYGATE_RUN_DIR, or
#           the compose project); never touches a service it merely reused.
#   status  One line per service; exit 1 if any is unreachable.
#
# Settings (local/env.sh gives the defaults): AWS_ENDPOINT_URL_DYNAMODB,
# DYNAMODB_PORT, REDIS_URL, KEYGATE_RUN_DIR, KEYGATE_USE_DOCKER=0|1,
# KEYGATE_DYNAMODB_IN_MEMORY=1 (no data kept between restarts),
# KEYGATE_DYNAMODB_JAVA_OPTS (extra JVM options, e.g. -Xmx256m),
# KEYGATE_DYNAMODB_WAIT (seconds, default 60), KEYGATE_REDIS_WAIT (default 10).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

compose_file="$here/docker-compose.yml"
ddb_pidfile="$KEYGATE_RUN_DIR/dynamodb.pid"
ddb_logfile="$KEYGATE_RUN_DIR/dynamodb.log"
redis_pidfile="$KEYGATE_RUN_DIR/redis.pid"
redis_logfile="$KEYGATE_RUN_DIR/redis.log"

# ------------------------------------------------------------------ URL parsing
# parse_hostport URL DEFAULT_PORT -> sets url_host, url_port, url_user, url_pass
parse_hostport() {
  local rest="$1" default_port="$2" userinfo=""
  rest="${rest#*://}"     # scheme
  rest="${rest%%/*}"      # path (/db, /)
  rest="${rest%%\?*}"     # query
  if [[ "$rest" == *@* ]]; then
    userinfo="${rest%@*}"
    rest="${rest##*@}"
  fi
  url_user=""
  url_pass=""
  if [[ -n "$userinfo" ]]; then
    if [[ "$userinfo" == *:* ]]; then
      url_user="${userinfo%%:*}"
      url_pass="${userinfo#*:}"
    else
      # redis://password@host is accepted by most clients
      url_pass="$userinfo"
    fi
  fi
  if [[ "$rest" == \[*\]* ]]; then # [ipv6]:port
    url_host="${rest%%]*}"
    url_host="${url_host#[}"
    rest="${rest#*]}"
    url_port="${rest#:}"
  elif [[ "$rest" == *:* ]]; then
    url_host="${rest%%:*}"
    url_port="${rest##*:}"
  else
    url_host="$rest"
    url_port=""
  fi
  url_port="${url_port:-$default_port}"
  [[ -n "$url_host" ]] || die "cannot parse a host from '$1'"
  [[ "$url_port" =~ ^[0-9]+$ ]] || die "cannot parse a port from '$1'"
}

is_local_host() {
  case "$1" in
    127.0.0.1 | localhost | ::1 | 0.0.0.0) return 0 ;;
    *) return 1 ;;
  esac
}

case "$AWS_ENDPOINT_URL_DYNAMODB" in
  https://*) ddb_default_port=443 ;;
  *) ddb_default_port=80 ;;
esac
parse_hostport "$AWS_ENDPOINT_URL_DYNAMODB" "$ddb_default_port"
ddb_host="$url_host"
ddb_port="$url_port"

case "$REDIS_URL" in
  redis://*) redis_tls=0 ;;
  rediss://*) redis_tls=1 ;;
  *) die "REDIS_URL must start with redis:// or rediss:// (got '${REDIS_URL%%://*}://...')" ;;
esac
parse_hostport "$REDIS_URL" 6379
redis_host="$url_host"
redis_port="$url_port"
redis_user="$url_user"
redis_pass="$url_pass"
# REDIS_URL without credentials, for messages.
redis_shown="${REDIS_URL%%://*}://$redis_host:$redis_port"

# ---------------------------------------------------------------------- probes
# shellcheck disable=SC2016 # $1/$2 are expanded by the child bash
tcp_open() { # HOST PORT
  if have timeout; then
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
  else
    bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
  fi
}

# Any HTTP answer counts as reachable (DynamoDB Local answers 400 to an
# unsigned POST). Sets ddb_code (000 = no answer) and ddb_looks_aws (1 if the
# answer carries the x-amzn-RequestId header that DynamoDB always sends).
ddb_probe() {
  ddb_code=000
  ddb_looks_aws=0
  if have curl; then
    local out noproxy=()
    # A proxy from the environment must not answer for a local endpoint.
    if is_local_host "$ddb_host"; then noproxy=(--noproxy '*'); fi
    out="$(curl -s ${noproxy[@]+"${noproxy[@]}"} -o /dev/null -D - -w '\n%{http_code}' \
      --max-time 3 -X POST "$AWS_ENDPOINT_URL_DYNAMODB" 2>/dev/null || true)"
    ddb_code="$(printf '%s\n' "$out" | tail -n1 | tr -dc '0-9')"
    ddb_code="${ddb_code:-000}"
    if printf '%s\n' "$out" | grep -qi '^x-amzn-requestid:'; then ddb_looks_aws=1; fi
  elif tcp_open "$ddb_host" "$ddb_port"; then
    ddb_code=tcp
    ddb_looks_aws=1 # cannot tell without curl
  fi
  return 0
}
ddb_reachable() {
  ddb_probe
  [ "$ddb_code" != 000 ]
}
ddb_desc() {
  if [ "$ddb_looks_aws" = 1 ]; then
    printf 'HTTP %s' "$ddb_code"
  else
    printf 'HTTP %s, but no x-amzn-RequestId header: does not look like DynamoDB' "$ddb_code"
  fi
}

# Prints the reply of a PING: PONG, or an error such as NOAUTH; empty if none.
# shellcheck disable=SC2016 # the bash -c script is expanded by the child bash
redis_ping_reply() {
  if have redis-cli; then
    local args=(redis-cli -h "$redis_host" -p "$redis_port")
    if [ -n "$redis_user" ]; then args+=(--user "$redis_user"); fi
    if have timeout; then args=(timeout 3 "${args[@]}"); fi
    # The password goes through the environment, not argv (and only if set:
    # an empty REDISCLI_AUTH still makes redis-cli send AUTH).
    if [ -n "$redis_pass" ]; then args=(env "REDISCLI_AUTH=$redis_pass" "${args[@]}"); fi
    "${args[@]}" ping 2>/dev/null | head -n1 || true
  else
    # No redis-cli: speak RESP directly.
    bash -c '
      exec 3<>"/dev/tcp/$1/$2" || exit 0
      printf "PING\r\n" >&3
      IFS= read -r -t 3 reply <&3 || true
      reply="${reply%$'"'"'\r'"'"'}"
      printf "%s\n" "${reply#[+-]}"
    ' _ "$redis_host" "$redis_port" 2>/dev/null || true
  fi
}

# 0 = a Redis answers (or, for rediss://, the port is open).
redis_reachable() {
  if [ "$redis_tls" = 1 ]; then
    tcp_open "$redis_host" "$redis_port"
    return
  fi
  local reply
  reply="$(redis_ping_reply)"
  case "$reply" in
    PONG) return 0 ;;
    NOAUTH* | WRONGPASS* | *"AUTH"* | ERR*)
      log "warning: Redis at $redis_host:$redis_port answered '$reply' (check the credentials in REDIS_URL)"
      return 0
      ;;
    *) return 1 ;;
  esac
}

# -------------------------------------------------------------- pid bookkeeping
# pid_of PIDFILE PATTERN -> prints the pid if the file names a live process
# whose command line contains PATTERN; removes a stale pid file.
pid_of() {
  local file="$1" pattern="$2" pid args
  [ -f "$file" ] || return 1
  pid="$(tr -dc '0-9' <"$file")"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    args="$(ps -p "$pid" -o args= 2>/dev/null || true)"
    if [[ "$args" == *"$pattern"* ]]; then
      printf '%s\n' "$pid"
      return 0
    fi
  fi
  rm -f "$file"
  return 1
}

proc_args() { ps -p "$1" -o args= 2>/dev/null || true; }

# Pid and port of the DynamoDB Local / Redis that services.sh started, if any.
ddb_ours() { pid_of "$ddb_pidfile" DynamoDBLocal.jar; }
ddb_ours_port() { proc_args "$1" | sed -n 's/.*-port \([0-9][0-9]*\).*/\1/p'; }
redis_ours() { pid_of "$redis_pidfile" redis-server; }
# redis-server retitles itself "redis-server 127.0.0.1:PORT"
redis_ours_port() { proc_args "$1" | sed -n 's/.*:\([0-9][0-9]*\).*/\1/p'; }

# owner_note SERVICE -> text for messages about who started the service
# answering on the configured port.
owner_note() {
  local pid port want_port
  if [ "$1" = dynamodb ]; then
    pid="$(ddb_ours)" || return 0
    port="$(ddb_ours_port "$pid")"
    want_port="$ddb_port"
    is_local_host "$ddb_host" || want_port=""
  else
    pid="$(redis_ours)" || return 0
    port="$(redis_ours_port "$pid")"
    want_port="$redis_port"
    is_local_host "$redis_host" || want_port=""
  fi
  if [ -n "$want_port" ] && [ "$port" = "$want_port" ]; then
    printf 'started by services.sh, pid %s' "$pid"
  else
    printf 'note: services.sh also runs one on port %s, pid %s' "${port:-?}" "$pid"
  fi
}

stop_pid() { # NAME PID
  local name="$1" pid="$2" i
  log "stopping $name (pid $pid)..."
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "$name (pid $pid) did not stop in 10s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.2
}

# ----------------------------------------------------------------------- docker
compose_cmd=()
docker_mode() {
  [ "${KEYGATE_USE_DOCKER:-1}" != 0 ] || return 1
  have docker || return 1
  if have timeout; then
    timeout 15 docker info >/dev/null 2>&1 || return 1
  else
    docker info >/dev/null 2>&1 || return 1
  fi
  if docker compose version >/dev/null 2>&1; then
    compose_cmd=(docker compose -f "$compose_file")
  elif have docker-compose; then
    compose_cmd=(docker-compose -f "$compose_file")
  else
    log "a Docker engine is running but neither 'docker compose' nor 'docker-compose' is installed; running the services natively"
    return 1
  fi
  return 0
}

# ----------------------------------------------------------------------- waits
wait_for() { # NAME SECONDS PROBE_FN [PID]
  local name="$1" limit="$2" probe="$3" pid="${4:-}" start=$SECONDS next=5
  while ! "$probe"; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited during start-up"
      return 1
    fi
    if ((SECONDS - start >= limit)); then
      log "$name did not answer within ${limit}s"
      return 1
    fi
    if ((SECONDS - start >= next)); then
      log "still waiting for $name ($((SECONDS - start))s)..."
      next=$((next + 5))
    fi
    sleep 0.25
  done
}

show_log_tail() {
  if [ -f "$1" ]; then
    log "last lines of $1:"
    tail -n 30 "$1" | sed 's/^/    /' >&2
  fi
}

# ----------------------------------------------------------------- DynamoDB up
ddb_start_native() {
  local pid jar_dir
  if pid="$(ddb_ours)"; then
    local other_port
    other_port="$(ddb_ours_port "$pid")"
    die "DynamoDB Local started earlier by services.sh (pid $pid, port ${other_port:-?}) still runs, but nothing answers at $AWS_ENDPOINT_URL_DYNAMODB; run 'local/services.sh down' first"
  fi
  if tcp_open "$ddb_host" "$ddb_port"; then
    die "port $ddb_port on $ddb_host is taken by something that does not answer HTTP; pick another DYNAMODB_PORT"
  fi
  # Fast no-op when the jar and a Java 17+ are already there.
  bash "$here/install-tools.sh" dynamodb
  jar_dir="$(keygate_dynamodb_jar_dir)" || die "DynamoDB Local jar not found after install"

  local storage=(-sharedDb -dbPath "$KEYGATE_RUN_DIR/dynamodb")
  local where="data in $KEYGATE_RUN_DIR/dynamodb"
  if [ "${KEYGATE_DYNAMODB_IN_MEMORY:-0}" = 1 ]; then
    storage=(-inMemory -sharedDb)
    where="in memory"
  else
    mkdir -p "$KEYGATE_RUN_DIR/dynamodb"
  fi
  local java_opts=()
  if [ -n "${KEYGATE_DYNAMODB_JAVA_OPTS:-}" ]; then
    read -r -a java_opts <<<"$KEYGATE_DYNAMODB_JAVA_OPTS"
  fi
  local launcher=(nohup)
  if have setsid; then launcher=(setsid nohup); fi

  log "starting DynamoDB Local on port $ddb_port ($where; log: $ddb_logfile)..."
  local start=$SECONDS
  (
    cd "$jar_dir"
    exec "${launcher[@]}" java ${java_opts[@]+"${java_opts[@]}"} \
      -Djava.library.path="$jar_dir/DynamoDBLocal_lib" \
      -jar "$jar_dir/DynamoDBLocal.jar" "${storage[@]}" -port "$ddb_port" -disableTelemetry \
      </dev/null >"$ddb_logfile" 2>&1
  ) &
  pid=$!
  printf '%s\n' "$pid" >"$ddb_pidfile"
  if ! wait_for "DynamoDB Local" "${KEYGATE_DYNAMODB_WAIT:-60}" ddb_reachable "$pid"; then
    show_log_tail "$ddb_logfile"
    if kill -0 "$pid" 2>/dev/null; then stop_pid "DynamoDB Local" "$pid"; fi
    rm -f "$ddb_pidfile"
    exit 1
  fi
  log "dynamodb: started (pid $pid, ready in $((SECONDS - start))s) at $AWS_ENDPOINT_URL_DYNAMODB"
}

# -------------------------------------------------------------------- Redis up
redis_start_native() {
  local pid
  if pid="$(redis_ours)"; then
    die "a Redis started earlier by services.sh (pid $pid: $(proc_args "$pid")) still runs, but no Redis answers at $redis_host:$redis_port; run 'local/services.sh down' first"
  fi
  if [ "$redis_tls" = 1 ]; then
    die "nothing listens at $redis_host:$redis_port and services.sh cannot start a TLS (rediss://) Redis; use redis:// locally"
  fi
  if tcp_open "$redis_host" "$redis_port"; then
    die "port $redis_port on $redis_host is taken by something that does not answer a Redis PING; pick another port in REDIS_URL"
  fi
  have redis-server || bash "$here/install-tools.sh" redis

  local auth=()
  if [ -n "$redis_pass" ]; then
    if [ -z "$redis_user" ] || [ "$redis_user" = default ]; then
      auth=(--requirepass "$redis_pass")
    else
      auth=(--user "$redis_user" on ">$redis_pass" '~*' '&*' '+@all' --user default off)
    fi
  fi

  log "starting redis-server on 127.0.0.1:$redis_port (log: $redis_logfile)..."
  rm -f "$redis_pidfile"
  local start=$SECONDS
  redis-server --daemonize yes --bind 127.0.0.1 --port "$redis_port" \
    --save "" --appendonly no \
    --pidfile "$redis_pidfile" --logfile "$redis_logfile" --dir "$KEYGATE_RUN_DIR" \
    ${auth[@]+"${auth[@]}"} >/dev/null
  if ! wait_for "Redis" "${KEYGATE_REDIS_WAIT:-10}" redis_reachable; then
    show_log_tail "$redis_logfile"
    if pid="$(redis_ours)"; then stop_pid "Redis" "$pid"; fi
    rm -f "$redis_pidfile"
    exit 1
  fi
  # The daemon writes its pid file right after it forks; give it a moment.
  local i
  for ((i = 0; i < 20; i++)); do
    [ -s "$redis_pidfile" ] && break
    sleep 0.1
  done
  pid="$(redis_ours || echo '?')"
  log "redis: started (pid $pid, ready in $((SECONDS - start))s) at $redis_shown"
}

# ------------------------------------------------------------- docker compose
# compose_start START_DDB START_REDIS -> 1 if `compose up` itself failed
# (no image, no network...), so that the caller falls back to native.
compose_start() {
  local start_ddb="$1" start_redis="$2" svcs=()
  if [ "$start_ddb" = 1 ]; then svcs+=(dynamodb); fi
  if [ "$start_redis" = 1 ]; then svcs+=(redis); fi
  if [ -n "$redis_pass" ] && [ "$start_redis" = 1 ]; then
    log "warning: the docker Redis has no password; the credentials in REDIS_URL will be rejected"
  fi
  log "starting ${svcs[*]} with docker compose ($compose_file)..."
  if ! DYNAMODB_PORT="$ddb_port" REDIS_PORT="$redis_port" "${compose_cmd[@]}" up -d "${svcs[@]}" >&2; then
    log "docker compose up failed; starting the services natively instead"
    return 1
  fi
  local start=$SECONDS
  if [ "$start_ddb" = 1 ]; then
    if ! wait_for "DynamoDB Local (docker)" "${KEYGATE_DYNAMODB_WAIT:-60}" ddb_reachable; then
      "${compose_cmd[@]}" logs --tail 30 dynamodb >&2 || true
      exit 1
    fi
    log "dynamodb: started in docker (ready in $((SECONDS - start))s) at $AWS_ENDPOINT_URL_DYNAMODB"
  fi
  if [ "$start_redis" = 1 ]; then
    if ! wait_for "Redis (docker)" "${KEYGATE_REDIS_WAIT:-10}" redis_reachable; then
      "${compose_cmd[@]}" logs --tail 30 redis >&2 || true
      exit 1
    fi
    log "redis: started in docker at $redis_shown"
  fi
  return 0
}

# ------------------------------------------------------------------- commands
want_ddb=1
want_redis=1

cmd_up() {
  mkdir -p "$KEYGATE_RUN_DIR"
  local start_ddb=0 start_redis=0 note
  if [ "$want_ddb" = 1 ]; then
    if ddb_reachable; then
      note="$(owner_note dynamodb)"
      if [[ "$note" == started* ]]; then
        log "dynamodb: already running ($note) at $AWS_ENDPOINT_URL_DYNAMODB"
      else
        log "dynamodb: reusing the one answering at $AWS_ENDPOINT_URL_DYNAMODB ($(ddb_desc)${note:+; $note})"
      fi
      if [ "$ddb_looks_aws" != 1 ]; then
        log "warning: if that is not DynamoDB, point DYNAMODB_PORT (or AWS_ENDPOINT_URL_DYNAMODB) at a free port"
      fi
    elif is_local_host "$ddb_host"; then
      start_ddb=1
    else
      die "DynamoDB at $AWS_ENDPOINT_URL_DYNAMODB does not answer, and it is not a local address, so it cannot be started here"
    fi
  fi
  if [ "$want_redis" = 1 ]; then
    if redis_reachable; then
      note="$(owner_note redis)"
      if [[ "$note" == started* ]]; then
        log "redis: already running ($note) at $redis_shown"
      else
        log "redis: reusing the one answering at $redis_shown${note:+ ($note)}"
      fi
    elif is_local_host "$redis_host"; then
      start_redis=1
    else
      die "Redis at $redis_shown does not answer, and it is not a local address, so it cannot be started here"
    fi
  fi
  [ "$start_ddb" = 1 ] || [ "$start_redis" = 1 ] || return 0

  if docker_mode && compose_start "$start_ddb" "$start_redis"; then
    return 0
  fi

  if [ "$start_ddb" = 1 ]; then ddb_start_native; fi
  if [ "$start_redis" = 1 ]; then redis_start_native; fi
}

cmd_down() {
  local pid stopped=0
  if [ "$want_ddb" = 1 ] && pid="$(ddb_ours)"; then
    stop_pid "DynamoDB Local" "$pid"
    rm -f "$ddb_pidfile"
    log "dynamodb: stopped"
    stopped=1
  fi
  if [ "$want_redis" = 1 ] && pid="$(redis_ours)"; then
    stop_pid "Redis ($(proc_args "$pid"))" "$pid"
    rm -f "$redis_pidfile"
    log "redis: stopped"
    stopped=1
  fi
  if docker_mode; then
    local svcs=()
    if [ "$want_ddb" = 1 ]; then svcs+=(dynamodb); fi
    if [ "$want_redis" = 1 ]; then svcs+=(redis); fi
    if [ -n "$("${compose_cmd[@]}" ps -q "${svcs[@]}" 2>/dev/null || true)" ]; then
      log "stopping ${svcs[*]} in docker compose..."
      if [ "$want_ddb" = 1 ] && [ "$want_redis" = 1 ]; then
        "${compose_cmd[@]}" down >&2
      else
        "${compose_cmd[@]}" rm -s -f "${svcs[@]}" >&2
      fi
      stopped=1
    fi
  fi
  if [ "$stopped" = 0 ]; then
    log "nothing started by services.sh is running (reused services are left alone)"
  fi
}

cmd_status() {
  local ok=0 note
  if [ "$want_ddb" = 1 ]; then
    note="$(owner_note dynamodb)"
    if ddb_reachable; then
      log "dynamodb: reachable at $AWS_ENDPOINT_URL_DYNAMODB ($(ddb_desc)${note:+; $note})"
    else
      log "dynamodb: NOT reachable at $AWS_ENDPOINT_URL_DYNAMODB${note:+ ($note)}"
      ok=1
    fi
  fi
  if [ "$want_redis" = 1 ]; then
    note="$(owner_note redis)"
    if redis_reachable; then
      log "redis: reachable at $redis_shown${note:+ ($note)}"
    else
      log "redis: NOT reachable at $redis_shown${note:+ ($note)}"
      ok=1
    fi
  fi
  return "$ok"
}

usage() { # the comment block at the top of this file
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
if [ $# -gt 0 ]; then
  want_ddb=0
  want_redis=0
  for s in "$@"; do
    case "$s" in
      dynamodb) want_ddb=1 ;;
      redis) want_redis=1 ;;
      *) usage; die "unknown service '$s' (expected: dynamodb, redis)" ;;
    esac
  done
fi

case "$cmd" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  -h | --help | help) usage ;;
  *) usage; exit 2 ;;
esac
