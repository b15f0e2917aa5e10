#!/usr/bin/env bash
# Register-flow load against the merchant integration API: wrk at a fixed offered rate, one step at
# a time (customer lookup, calculate, and with LOAD_ALLOW_MUTATIONS=1 purchases), with p50/p95/p99,
# error rate and achieved rate per step; a missed threshold fails the step.
#
# How the figures are made (see scripts/load-test.lua for the details): each step is its own wrk
# run of <duration> seconds, so every figure on a step's line belongs to that step alone. wrk's
# Lua API has no per-request latency in response() and no fine clock, so the latencies are wrk's
# own histogram of that run (request written to response read, in C), and the pacing uses a
# monotonic clock through LuaJIT's ffi in delay(): one send slot every threads/<rps> seconds per
# thread; slots missed because every connection was busy are lost, not burst, so a server that
# cannot keep up shows as a low achieved rate. POST code is not loaded: a code works once.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/ops-lib.sh
source "$SCRIPT_DIR/ops-lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/load-test.sh <env> <rps> <duration>

Offers <rps> requests per second for <duration> seconds to each step in turn (base
/api/integrations/v1/), stopping at the first failure:
  config     the variables below make sense together; wrk is installed
  customer   one GET customers/{LOAD_CUSTOMER_ID} or GET customers?phone=LOAD_PHONE finds the
             customer (its id is used by the steps below)
  lookup     load: GET customers?phone=LOAD_PHONE (or customers/{id} without LOAD_PHONE)
  calculate  load: POST calculate (amount_minor 100, redeem_points 0); writes nothing
  purchase   load, only with LOAD_ALLOW_MUTATIONS=1: POST purchases (amount_minor 100, a fresh
             order_id and Idempotency-Key load-<run>-<thread>-<n> per request); WRITES REAL DATA
Each load step's line shows: requests, errors (non-2xx and socket errors) and their rate, the
achieved rate against the offered one, p50/p95/p99 latency. POST code is not loaded (a code works
once); each step is its own wrk run, so its figures are its own. The API's throttle
(API_THROTTLE_RATE, 50/s per key by default) answers 429 above its rate: those count as errors.

<env> selects .env.<env> (read, never sourced, if present): each variable below is taken from
the environment first, then from that file. BASE_URL defaults to http://127.0.0.1:$API_PORT
(API_PORT from the file, else 8080), as deploy.sh does.

Environment:
  BASE_URL               the API's base URL
  INTEGRATION_API_KEY    the merchant's API key, sent as "Authorization: Bearer" (never printed,
                         handed to wrk through its environment, not its argv)
  LOAD_CUSTOMER_ID       the load customer's id, or
  LOAD_PHONE             the load customer's phone (+7...); one of the two is needed
  LOAD_OUTLET_ID, LOAD_DEVICE_ID, LOAD_MANAGER_ID
                         where the purchase happens; one is needed with LOAD_ALLOW_MUTATIONS=1
  LOAD_ALLOW_MUTATIONS   1 to run the purchase step (default 0: read steps only)
  LOAD_CONNECTIONS       wrk connections (default 16), LOAD_THREADS wrk threads (default 2)
  LOAD_TIMEOUT           wrk's per-request timeout in seconds (default 5)
Thresholds (a missed one fails the step, naming it; exit 1):
  LOAD_MAX_P95_MS        p95 latency limit in ms (default 500); LOAD_MAX_P95_MS_LOOKUP,
                         LOAD_MAX_P95_MS_CALCULATE, LOAD_MAX_P95_MS_PURCHASE per step
  LOAD_MAX_P99_MS        p99 latency limit in ms (default 1000)
  LOAD_MAX_ERROR_RATE    largest share of failed requests, 0..1 (default 0.01)
  LOAD_MIN_RATE_RATIO    smallest achieved/offered rate, 0..1 (default 0.9)

Exit status: 0 all steps met their thresholds, 1 a step failed or missed a threshold, 2 bad
arguments, a missing variable or wrk not installed.

Example:
  INTEGRATION_API_KEY=... LOAD_PHONE=+79990000000 LOAD_OUTLET_ID=3 LOAD_ALLOW_MUTATIONS=1 \
  scripts/load-test.sh production 50 30
EOF
}

API=""
ENV_FILE=""
RPS=""
DURATION=""
CUSTOMER_ID=""
RUN_TOKEN=""
PLACE_FIELD=""
PLACE_ID=""

# conf NAME DEFAULT: NAME from the environment, else from .env.<env>, else DEFAULT.
conf() {
  setting "$1" "$ENV_FILE" "$2"
}

is_ratio() {
  [[ $1 =~ ^(0(\.[0-9]+)?|1(\.0+)?|\.[0-9]+)$ ]]
}

# configure: read and check every setting; a problem is one plain line and exit 2.
configure() {
  local name value
  BASE_URL=$(conf BASE_URL "http://127.0.0.1:$(conf API_PORT 8080)")
  BASE_URL=${BASE_URL%/}
  [[ $BASE_URL =~ ^https?://[^/]+ ]] || ops_die "BASE_URL must be an http(s) URL (got '$BASE_URL')"
  API="$BASE_URL/api/integrations/v1"
  INTEGRATION_API_KEY=$(conf INTEGRATION_API_KEY "")
  [[ -n $INTEGRATION_API_KEY ]] || ops_die "INTEGRATION_API_KEY is not set"
  LOAD_CUSTOMER_ID=$(conf LOAD_CUSTOMER_ID "")
  LOAD_PHONE=$(conf LOAD_PHONE "")
  [[ -n $LOAD_CUSTOMER_ID || -n $LOAD_PHONE ]] || ops_die "set LOAD_CUSTOMER_ID or LOAD_PHONE"
  LOAD_ALLOW_MUTATIONS=$(conf LOAD_ALLOW_MUTATIONS 0)
  [[ $LOAD_ALLOW_MUTATIONS == 0 || $LOAD_ALLOW_MUTATIONS == 1 ]] ||
    ops_die "LOAD_ALLOW_MUTATIONS must be 0 or 1"
  # The API wants exactly one place of sale; the first one set wins.
  for name in OUTLET DEVICE MANAGER; do
    value=$(conf "LOAD_${name}_ID" "")
    if [[ -n $value ]]; then
      PLACE_FIELD="${name,,}_id"
      PLACE_ID=$value
      break
    fi
  done
  if [[ $LOAD_ALLOW_MUTATIONS == 1 && -z $PLACE_FIELD ]]; then
    ops_die "LOAD_ALLOW_MUTATIONS=1 needs LOAD_OUTLET_ID, LOAD_DEVICE_ID or LOAD_MANAGER_ID"
  fi
  LOAD_CONNECTIONS=$(conf LOAD_CONNECTIONS 16)
  LOAD_THREADS=$(conf LOAD_THREADS 2)
  LOAD_TIMEOUT=$(conf LOAD_TIMEOUT 5)
  for name in LOAD_CONNECTIONS LOAD_THREADS LOAD_TIMEOUT; do
    [[ ${!name} =~ ^[0-9]+$ && ${!name} -gt 0 ]] || ops_die "$name must be a positive integer (got '${!name}')"
  done
  ((LOAD_THREADS <= LOAD_CONNECTIONS)) || ops_die "LOAD_THREADS must not exceed LOAD_CONNECTIONS"
  LOAD_MAX_P95_MS=$(conf LOAD_MAX_P95_MS 500)
  LOAD_MAX_P99_MS=$(conf LOAD_MAX_P99_MS 1000)
  require_ms LOAD_MAX_P95_MS "$LOAD_MAX_P95_MS"
  require_ms LOAD_MAX_P99_MS "$LOAD_MAX_P99_MS"
  for name in LOOKUP CALCULATE PURCHASE; do
    value=$(conf "LOAD_MAX_P95_MS_$name" "$LOAD_MAX_P95_MS")
    require_ms "LOAD_MAX_P95_MS_$name" "$value"
    printf -v "LOAD_MAX_P95_MS_$name" '%s' "$value"
  done
  LOAD_MAX_ERROR_RATE=$(conf LOAD_MAX_ERROR_RATE 0.01)
  LOAD_MIN_RATE_RATIO=$(conf LOAD_MIN_RATE_RATIO 0.9)
  is_ratio "$LOAD_MAX_ERROR_RATE" || ops_die "LOAD_MAX_ERROR_RATE must be a number from 0 to 1 (got '$LOAD_MAX_ERROR_RATE')"
  is_ratio "$LOAD_MIN_RATE_RATIO" || ops_die "LOAD_MIN_RATE_RATIO must be a number from 0 to 1 (got '$LOAD_MIN_RATE_RATIO')"
  command -v wrk >/dev/null || ops_die "wrk is not installed: apt-get install -y wrk"
}

check_config() {
  local mode="read steps only (LOAD_ALLOW_MUTATIONS=0: no purchases)"
  [[ $LOAD_ALLOW_MUTATIONS == 1 ]] && mode="with purchases (writes real data)"
  detail "$BASE_URL, $RPS/s for ${DURATION}s per step, $LOAD_CONNECTIONS connections, $mode"
}

check_customer() {
  local phone
  if [[ -n $LOAD_PHONE ]]; then
    phone=$(py -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$LOAD_PHONE")
    http_request GET "$API/customers?phone=$phone" 5000
    expect_status 200
    # The lookup answers a list ({"results": [...]}) or, on some versions, the customer itself.
    CUSTOMER_ID=$(json_get "$OPS_TMP/body" results.0.id 2>/dev/null) ||
      CUSTOMER_ID=$(json_get "$OPS_TMP/body" id 2>/dev/null) ||
      step_fail "no customer with LOAD_PHONE"
  else
    http_request GET "$API/customers/$LOAD_CUSTOMER_ID" 5000
    expect_status 200
    CUSTOMER_ID=$(json_get "$OPS_TMP/body" id)
  fi
  step_keep CUSTOMER_ID
  detail "customer $CUSTOMER_ID"
}

# load_step STEP: one paced wrk run of the step, its figures on the line, thresholds checked.
load_step() {
  local step=$1 out line max_p95_name
  out="$OPS_TMP/wrk.$step"
  # The key and the ids reach the Lua script through wrk's environment only.
  set +e
  INTEGRATION_API_KEY=$INTEGRATION_API_KEY LOAD_API_PREFIX="${API#"$BASE_URL"}" \
    LOAD_CUSTOMER_ID=$CUSTOMER_ID LOAD_PHONE=$LOAD_PHONE LOAD_PLACE_FIELD=$PLACE_FIELD \
    LOAD_PLACE_ID=$PLACE_ID LOAD_THREADS_TOTAL=$LOAD_THREADS \
    wrk -t "$LOAD_THREADS" -c "$LOAD_CONNECTIONS" -d "${DURATION}s" --timeout "${LOAD_TIMEOUT}s" \
    -s "$SCRIPT_DIR/load-test.lua" "$BASE_URL" -- "$step" "$RPS" "$RUN_TOKEN" >"$out" 2>&1
  local rc=$?
  set -e
  cat "$out"
  ((rc == 0)) || step_fail "wrk exited with status $rc"
  line=$(grep '^LOAD ' "$out" | tail -n 1) || step_fail "wrk printed no figures"
  max_p95_name="LOAD_MAX_P95_MS_${step^^}"
  LOAD_LINE=$line RPS=$RPS MAX_P95=${!max_p95_name} MAX_P95_NAME=$max_p95_name \
    MAX_P99=$LOAD_MAX_P99_MS MAX_ERR=$LOAD_MAX_ERROR_RATE MIN_RATIO=$LOAD_MIN_RATE_RATIO \
    py - >"$OPS_TMP/verdict" <<'PY'
import os

fields = dict(part.split("=", 1) for part in os.environ["LOAD_LINE"].split()[1:])
requests = int(fields["requests"])
socket_errors = int(fields["socket_errors"])
errors = int(fields["non2xx"]) + socket_errors
# Read/connect/write errors end a request without a response; timeouts are among the requests.
attempts = requests + int(fields["connect"]) + int(fields["read"]) + int(fields["write"])
error_rate = errors / attempts if attempts else 1.0
seconds = int(fields["duration_us"]) / 1e6
offered = float(os.environ["RPS"])
achieved = requests / seconds if seconds else 0.0
p50, p95, p99 = (float(fields[k]) for k in ("p50_ms", "p95_ms", "p99_ms"))
summary = (
    f"n={requests} errors={errors} ({error_rate:.2%}) rate={achieved:.1f}/s of {offered:g}/s"
    f" p50={p50:.1f}ms p95={p95:.1f}ms p99={p99:.1f}ms"
)
if errors and fields["first_error"]:
    summary += f" first error {fields['first_error'].replace('_', ' ')}"
missed = []
if requests == 0:
    missed.append("no request completed")
if error_rate > float(os.environ["MAX_ERR"]):
    missed.append(f"LOAD_MAX_ERROR_RATE {float(os.environ['MAX_ERR']):g} (got {error_rate:.4f})")
ratio = achieved / offered
if ratio < float(os.environ["MIN_RATIO"]):
    missed.append(f"LOAD_MIN_RATE_RATIO {float(os.environ['MIN_RATIO']):g} (got {ratio:.2f})")
if p95 > float(os.environ["MAX_P95"]):
    missed.append(f"{os.environ['MAX_P95_NAME']} {os.environ['MAX_P95']} (got {p95:.1f})")
if p99 > float(os.environ["MAX_P99"]):
    missed.append(f"LOAD_MAX_P99_MS {os.environ['MAX_P99']} (got {p99:.1f})")
print("ok" if not missed else "missed " + ", ".join(missed))
print(summary)
PY
  local verdict summary
  verdict=$(sed -n 1p "$OPS_TMP/verdict")
  summary=$(sed -n 2p "$OPS_TMP/verdict")
  [[ $verdict == ok ]] || step_fail "$summary; $verdict"
  detail "$summary"
}

load_purchase() {
  [[ $LOAD_ALLOW_MUTATIONS == 1 ]] || step_skip "LOAD_ALLOW_MUTATIONS=0: read steps only"
  load_step purchase
}

main() {
  case ${1:-} in
    -h | --help)
      usage
      exit 0
      ;;
  esac
  (($# == 3)) || ops_die "expected <env> <rps> <duration> (see --help)"
  [[ $1 =~ ^[A-Za-z0-9_.-]+$ ]] || ops_die "invalid env name '$1'"
  ENV_FILE=".env.$1"
  [[ -f $ENV_FILE ]] || ENV_FILE=""
  [[ $2 =~ ^[0-9]+$ && $2 -gt 0 ]] || ops_die "<rps> must be a positive integer (got '$2')"
  [[ $3 =~ ^[0-9]+$ && $3 -gt 0 ]] || ops_die "<duration> must be a positive number of seconds (got '$3')"
  RPS=$2
  DURATION=$3
  configure
  ops_init
  RUN_TOKEN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
  HTTP_HEADER_FILE=$(http_header_file auth "Authorization: Bearer $INTEGRATION_API_KEY")
  step config check_config
  OPS_HINT="is the load customer registered for this merchant's key?" step customer check_customer
  step lookup load_step lookup
  step calculate load_step calculate
  OPS_HINT="purchases of this run carry order ids load-$RUN_TOKEN-*" step purchase load_purchase
}

main "$@"
