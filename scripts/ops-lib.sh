# shellcheck shell=bash
# Sourced by the operations scripts in scripts/: the step runner that prints one line per step,
# the .env file reader, HTTP and JSON helpers, and database access through docker compose or
# directly against DATABASE_URL.
#
# Secrets (passwords, tokens, API keys) never reach argv or stdout: they travel to tools through
# environment variables or header files with mode 0600 inside a private temporary directory, so
# neither `ps` nor a captured log shows them.

OPS_TMP=""
OPS_CLEANUP=()
OPS_FAILURES=0

#: Set to 1 to keep going after a failed step (used by `deploy.sh ENV status`).
OPS_CONTINUE=${OPS_CONTINUE:-0}

ops_init() {
  OPS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/loyalty-ops.XXXXXX")
  # Resolve the interpreter once: version-manager shims (pyenv) cost ~0.1 s per call.
  OPS_PYTHON=$(python3 -I -S -c 'import sys; print(sys.executable)' 2>/dev/null) ||
    ops_die "python3 is required"
  trap ops_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# ops_on_exit FUNCTION: run FUNCTION when the script ends, whatever the outcome (last in, first out).
ops_on_exit() {
  OPS_CLEANUP+=("$1")
}

ops_cleanup() {
  local i
  for ((i = ${#OPS_CLEANUP[@]} - 1; i >= 0; i--)); do
    "${OPS_CLEANUP[i]}" >/dev/null 2>&1 || true
  done
  [[ -n $OPS_TMP ]] && rm -rf "$OPS_TMP"
}

ops_die() {
  printf 'error: %s\n' "$*" >&2
  exit 2
}

# ops_now_ms VAR: milliseconds since the epoch into VAR, without a subshell.
ops_now_ms() {
  local micros=${EPOCHREALTIME//[!0-9]/}
  if [[ -n $micros ]]; then
    printf -v "$1" '%d' "$((10#$micros / 1000))"
  else
    printf -v "$1" '%s' "$(date +%s%3N)"
  fi
}

# --- steps -------------------------------------------------------------------------------------

# detail TEXT: the short note printed at the end of the current step's line.
detail() {
  printf '%s' "$*" >"$OPS_TMP/step.detail"
}

# step_skip REASON: end the current step as skipped.
step_skip() {
  detail "$*"
  : >"$OPS_TMP/step.skip"
  exit 0
}

# step_fail REASON: end the current step as failed with REASON on its line.
step_fail() {
  detail "$*"
  exit 1
}

# step_keep VAR...: hand the current values of VARs (scalars, arrays, exported or not) back to the
# script once the step has succeeded: step bodies run in a subshell.
step_keep() {
  local name
  for name in "$@"; do
    if declare -p "$name" >/dev/null 2>&1; then
      declare -p "$name" >>"$OPS_TMP/step.keep"
    else
      printf 'unset %s\n' "$name" >>"$OPS_TMP/step.keep"
    fi
  done
}

# step NAME COMMAND [ARGS...]
# Runs COMMAND in a subshell with errexit, its output captured, and prints one line:
#   [ok]   health                  42 ms  status=ok
# On failure the captured output follows (indented), then the hint from OPS_HINT, and the script
# exits with the command's status (with OPS_CONTINUE=1 it counts the failure in OPS_FAILURES and
# carries on). Never call `step` in a condition (`if step`, `step || ...`): bash would switch
# errexit off inside the step's body as well.
# OPS_SHOW_OUTPUT=1 (or VERBOSE=1) shows the captured output after a successful step too.
step() {
  local name=$1
  shift
  local log="$OPS_TMP/step.log" started finished rc note label
  : >"$log"
  : >"$OPS_TMP/step.detail"
  rm -f "$OPS_TMP/step.skip" "$OPS_TMP/step.keep"
  ops_now_ms started
  set +e
  (
    set -e
    "$@"
  ) >"$log" 2>&1 </dev/null
  rc=$?
  set -e
  ops_now_ms finished
  note=$(<"$OPS_TMP/step.detail")
  if ((rc == 0)); then
    label="[ok]"
    [[ -e $OPS_TMP/step.skip ]] && label="[skip]"
  else
    label="[fail]"
  fi
  printf '%-6s %-20s %6d ms%s\n' "$label" "$name" "$((finished - started))" "${note:+  $note}"
  if ((rc == 0)); then
    if [[ ${VERBOSE:-0} == 1 || ${OPS_SHOW_OUTPUT:-0} == 1 ]] && [[ -s $log ]]; then
      sed 's/^/       | /' "$log"
    fi
    if [[ -s $OPS_TMP/step.keep ]]; then
      # `declare` inside a function makes locals; -g keeps the values global.
      # shellcheck disable=SC1090
      source <(sed -e 's/^declare -- /declare -g /' -e 's/^declare -\([a-zA-Z]*\) /declare -g\1 /' "$OPS_TMP/step.keep")
    fi
    return 0
  fi
  if [[ -s $log ]]; then
    tail -n "${OPS_LOG_LINES:-40}" "$log" | sed 's/^/       | /' >&2
  fi
  [[ -n ${OPS_HINT:-} ]] && printf '       next: %s\n' "$OPS_HINT" >&2
  if [[ $OPS_CONTINUE == 1 ]]; then
    OPS_FAILURES=$((OPS_FAILURES + 1))
    return 0
  fi
  exit "$rc"
}

# --- values ------------------------------------------------------------------------------------

# env_file_value FILE KEY: print KEY's value from a docker-compose style .env file (the last
# assignment wins; surrounding quotes and unquoted trailing " # comments" are removed).
# Returns 1 when KEY is not assigned. The file is read, never sourced.
env_file_value() {
  local file=$1 key=$2 line value found=1
  [[ -r $file ]] || return 1
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%$'\r'}
    [[ $line =~ ^[[:space:]]*(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=(.*)$ ]] || continue
    [[ ${BASH_REMATCH[2]} == "$key" ]] || continue
    value=${BASH_REMATCH[3]}
    value=${value#"${value%%[![:space:]]*}"}
    if [[ $value =~ ^\"(.*)\"[[:space:]]*(#.*)?$ || $value =~ ^\'(.*)\'[[:space:]]*(#.*)?$ ]]; then
      value=${BASH_REMATCH[1]}
    else
      value=${value%%[[:space:]]#*}
      value=${value%"${value##*[![:space:]]}"}
    fi
    found=0
  done <"$file"
  ((found == 0)) || return 1
  printf '%s' "$value"
}

# setting NAME ENV_FILE DEFAULT: the process environment wins, then the env file, then DEFAULT
# (the same order docker compose uses for interpolation).
setting() {
  local name=$1 file=$2 default=$3 value
  if [[ -n ${!name:-} ]]; then
    printf '%s' "${!name}"
  elif [[ -n $file ]] && value=$(env_file_value "$file" "$name") && [[ -n $value ]]; then
    printf '%s' "$value"
  else
    printf '%s' "$default"
  fi
}

# require_ms NAME VALUE: VALUE must be a positive integer (milliseconds).
require_ms() {
  [[ $2 =~ ^[0-9]+$ && $2 -gt 0 ]] || ops_die "$1 must be a positive number of milliseconds (got '$2')"
}

# py ARGS...: python3 (isolated, no site packages: only the standard library is used).
py() {
  "${OPS_PYTHON:-python3}" -I -S "$@"
}

# --- HTTP and JSON -----------------------------------------------------------------------------

#: Header file sent with every request: secrets go here, never on curl's command line.
HTTP_HEADER_FILE=""

# http_header_file NAME [HEADER_LINE...]: write a 0600 header file in the private temp dir.
http_header_file() {
  local path="$OPS_TMP/$1.headers"
  shift
  (
    umask 077
    : >"$path"
    if (($# > 0)); then printf '%s\n' "$@" >"$path"; fi
  )
  printf '%s' "$path"
}

# http_request METHOD URL LIMIT_MS [BODY_FILE] [EXTRA_HEADER]
# Sends the request with a hard time limit; the body lands in $OPS_TMP/body, the status code in
# $OPS_TMP/status. Fails (with a step detail) on a transport error or when the limit is exceeded.
http_request() {
  local method=$1 url=$2 limit_ms=$3 body=${4:-} extra=${5:-} out rc ms
  local args=(-sS -X "$method" -o "$OPS_TMP/body" -w '%{http_code} %{time_total}'
    --max-time "$((limit_ms / 1000)).$(printf '%03d' "$((limit_ms % 1000))")")
  [[ -n $HTTP_HEADER_FILE ]] && args+=(-H "@$HTTP_HEADER_FILE")
  [[ -n $extra ]] && args+=(-H "$extra")
  [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "@$body")
  : >"$OPS_TMP/body"
  set +e
  out=$(curl "${args[@]}" "$url")
  rc=$?
  set -e
  if ((rc == 28)); then
    step_fail "no answer within the ${limit_ms} ms limit"
  elif ((rc != 0)); then
    step_fail "request failed (curl exit $rc)"
  fi
  printf '%s' "${out%% *}" >"$OPS_TMP/status"
  ms=$(awk -v t="${out#* }" 'BEGIN { printf "%d", t * 1000 }')
  if ((ms > limit_ms)); then
    step_fail "took ${ms} ms, limit ${limit_ms} ms"
  fi
}

# expect_status CODE: the last response's status must be CODE.
expect_status() {
  local got
  got=$(<"$OPS_TMP/status")
  if [[ $got != "$1" ]]; then
    head -c 2000 "$OPS_TMP/body"
    echo
    step_fail "HTTP $got, expected $1"
  fi
}

# json_get FILE PATH: print the value at a dotted PATH (list items by index: results.0.id).
# Strings print as they are, everything else as JSON. Exits 1 naming PATH when it is absent.
json_get() {
  py - "$1" "$2" <<'PY'
import json
import sys

path, dotted = sys.argv[1], sys.argv[2]
try:
    with open(path, encoding="utf-8") as fh:
        value = json.load(fh)
except (OSError, ValueError):
    sys.exit("the response is not JSON")
for part in dotted.split("."):
    if isinstance(value, list) and part.isdigit() and int(part) < len(value):
        value = value[int(part)]
    elif isinstance(value, dict) and part in value:
        value = value[part]
    else:
        sys.exit(f"the response has no {dotted}")
print(value if isinstance(value, str) else json.dumps(value))
PY
}

# json_object KEY=STRING | KEY:=JSON ...: print a JSON object (httpie's notation: "=" takes the
# value as a string, ":=" as JSON, e.g. amount_minor:=100).
json_object() {
  py - "$@" <<'PY'
import json
import sys

body = {}
for pair in sys.argv[1:]:
    key, _, value = pair.partition("=")
    if key.endswith(":"):
        body[key[:-1]] = json.loads(value)
    else:
        body[key] = value
print(json.dumps(body))
PY
}

# json_id VALUE: an id as JSON: a number when it is all digits, else a string.
json_id() {
  if [[ $1 =~ ^[0-9]+$ ]]; then
    printf '%s' "$1"
  else
    py -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"
  fi
}

# --- database access ---------------------------------------------------------------------------
# DB_MODE is "compose" (psql/pg_dump run inside the compose service `postgres`, as POSTGRES_USER,
# with the file streamed through `docker compose exec -T`) or "direct" (the local psql/pg_dump
# against DATABASE_URL, whose parts are handed to libpq as PG* environment variables).

DB_MODE=""
DB_NAME=""
DB_LABEL=""
COMPOSE=()

# ops_mode_args: consume --direct/--compose from "$@" into OPS_MODE_REQUEST; other words are left
# in OPS_ARGS. NO_COMPOSE=1 in the environment means --direct.
ops_mode_args() {
  OPS_MODE_REQUEST=compose
  [[ ${NO_COMPOSE:-0} == 1 ]] && OPS_MODE_REQUEST=direct
  OPS_ARGS=()
  local arg
  for arg in "$@"; do
    case $arg in
      --direct) OPS_MODE_REQUEST=direct ;;
      --compose) OPS_MODE_REQUEST=compose ;;
      *) OPS_ARGS+=("$arg") ;;
    esac
  done
}

# db_target ENV_FILE COMPOSE_FILE: set up DB_MODE from OPS_MODE_REQUEST (a step body).
db_target() {
  local env_file=$1 compose_file=$2
  if [[ $OPS_MODE_REQUEST == direct ]]; then
    db_use_direct
  else
    db_use_compose "$env_file" "$compose_file"
  fi
  step_keep DB_MODE DB_NAME DB_LABEL COMPOSE PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE \
    PGSERVICE PGSSLMODE PGSSLROOTCERT PGSSLCERT PGSSLKEY PGCONNECT_TIMEOUT PGOPTIONS
  detail "$DB_LABEL"
}

db_use_compose() {
  local env_file=$1 compose_file=$2
  DB_MODE=compose
  require_compose
  [[ -f $env_file ]] || step_fail "env file $env_file not found"
  [[ -f $compose_file ]] || step_fail "compose file $compose_file not found"
  COMPOSE=(docker compose --env-file "$env_file" -f "$compose_file")
  DB_NAME=$(setting POSTGRES_DB "$env_file" loyalty)
  DB_LABEL="compose: database $DB_NAME in service postgres ($compose_file)"
}

# require_compose: docker with the compose v2 plugin is there (a step body).
require_compose() {
  command -v docker >/dev/null || step_fail "docker not found (or use --direct with DATABASE_URL)"
  docker compose version >/dev/null 2>&1 ||
    step_fail "docker compose (v2 plugin) not found: apt-get install docker-compose-plugin"
}

db_use_direct() {
  local exports
  DB_MODE=direct
  [[ -n ${DATABASE_URL:-} ]] || step_fail "DATABASE_URL is not set (direct mode needs it)"
  command -v psql >/dev/null || step_fail "psql not found (apt-get install postgresql-client)"
  exports=$(py - <<'PY'
import os
import shlex
import sys
from urllib.parse import parse_qsl, unquote, urlsplit

url = urlsplit(os.environ["DATABASE_URL"])
if url.scheme not in ("postgres", "postgresql", "pgsql", "postgis"):
    sys.exit(f"DATABASE_URL is not a PostgreSQL URL (scheme {url.scheme!r})")
try:
    port = url.port
except ValueError:
    sys.exit("DATABASE_URL has an invalid port")
values = {
    "PGHOST": unquote(url.hostname or ""),
    "PGPORT": str(port or ""),
    "PGUSER": unquote(url.username or ""),
    "PGPASSWORD": unquote(url.password or ""),
    "PGDATABASE": unquote(url.path.lstrip("/")),
}
query_names = {"host": "PGHOST", "port": "PGPORT", "sslmode": "PGSSLMODE",
               "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
               "connect_timeout": "PGCONNECT_TIMEOUT", "options": "PGOPTIONS"}
for key, value in parse_qsl(url.query):
    if key in query_names:
        values[query_names[key]] = value
if not values["PGDATABASE"]:
    sys.exit("DATABASE_URL names no database")
print("unset PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE PGSERVICE PGSSLMODE PGSSLROOTCERT"
      " PGSSLCERT PGSSLKEY PGOPTIONS")
for name, value in values.items():
    if value:
        print(f"export {name}={shlex.quote(value)}")
PY
  ) || step_fail "DATABASE_URL could not be used"
  eval "$exports"
  export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10}
  DB_NAME=$PGDATABASE
  DB_LABEL="direct: database $DB_NAME on ${PGHOST:-local socket}:${PGPORT:-5432}"
}

# db_psql [PSQL ARGS...]: psql on the target database (DB_OVERRIDE=name picks another database on
# the same server), stopping at the first error. Standard input passes through.
db_psql() {
  if [[ $DB_MODE == compose ]]; then
    # shellcheck disable=SC2016 # expanded by the container's shell, from the container's env
    "${COMPOSE[@]}" exec -T -e "PGDB_OVERRIDE=${DB_OVERRIDE:-}" postgres \
      sh -c 'exec psql -X -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "${PGDB_OVERRIDE:-$POSTGRES_DB}" "$@"' \
      psql "$@"
  else
    PGDATABASE=${DB_OVERRIDE:-$PGDATABASE} psql -X -q -v ON_ERROR_STOP=1 "$@"
  fi
}

# db_dump: plain-SQL pg_dump of the target database to stdout. Owners and grants are left out so
# the dump restores as whichever role restores it (compose superuser or the DATABASE_URL role).
db_dump() {
  if [[ $DB_MODE == compose ]]; then
    # shellcheck disable=SC2016 # expanded by the container's shell, from the container's env
    "${COMPOSE[@]}" exec -T postgres \
      sh -c 'exec pg_dump --no-owner --no-privileges -U "$POSTGRES_USER" -d "$POSTGRES_DB"'
  else
    pg_dump --no-owner --no-privileges
  fi
}

# file_size FILE: its size for people (1.3K, 20M).
file_size() {
  numfmt --to=iec-i --suffix=B "$(stat -c %s "$1")"
}

#: Written as the last line of every complete plain-format pg_dump.
DUMP_COMPLETE_MARKER="-- PostgreSQL database dump complete"

# dump_check FILE: FILE is intact gzip and holds a complete dump (a step body).
dump_check() {
  local file=$1 tail_lines
  [[ -f $file ]] || step_fail "$file not found"
  gzip -t "$file" || step_fail "not a valid gzip file (truncated or corrupt)"
  tail_lines=$(gzip -dc "$file" | tail -n 5)
  [[ $tail_lines == *"$DUMP_COMPLETE_MARKER"* ]] ||
    step_fail "the dump does not end with '$DUMP_COMPLETE_MARKER' (cut short)"
  detail "$(file_size "$file"), gzip ok, dump complete"
}

# db_restore_file FILE: replace the public schema of the target database with FILE's contents in
# one transaction: on any error nothing changes.
db_restore_file() {
  local file=$1
  {
    # DROP SCHEMA takes every table lock first; give up instead of waiting forever on a stuck client.
    printf '%s\n' "SET lock_timeout = '${RESTORE_LOCK_TIMEOUT:-60s}';" \
      'DROP SCHEMA IF EXISTS public CASCADE;' \
      'CREATE SCHEMA public;' \
      "DO \$\$ BEGIN IF current_setting('server_version_num')::int >= 150000 THEN EXECUTE 'ALTER SCHEMA public OWNER TO pg_database_owner'; END IF; END \$\$;" \
      'GRANT USAGE ON SCHEMA public TO PUBLIC;'
    gzip -dc "$file"
  } | db_psql --single-transaction -f -
}
