#!/usr/bin/env bash
# Exercise the merchant integration API end to end with one smoke customer: look the customer up,
# quote a purchase, and (only when allowed) commit a tiny purchase and refund it in full.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/ops-lib.sh
source "$SCRIPT_DIR/ops-lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/smoke-integrations.sh

Checks, in order, stopping at the first failure (base /api/integrations/v1/):
  config     the variables below make sense together
  code       POST code {"code": SMOKE_USER_TOKEN} answers 200 with the customer (skipped
             without SMOKE_USER_TOKEN)
  customer   GET customers/{id} (id from code, else SMOKE_CUSTOMER_ID) or
             GET customers?phone=SMOKE_PHONE answers 200; remembers balance_points
  calculate  POST calculate (amount_minor 100, redeem_points 0) answers 200; writes nothing
  purchase   only with SMOKE_ALLOW_MUTATIONS=1: POST purchases (amount_minor 100, order_id and
             Idempotency-Key smoke-<random>) answers 201
  refund     only with SMOKE_ALLOW_MUTATIONS=1: POST refunds {"purchase_id"} (the whole purchase)
             answers 201
  balance    only with SMOKE_ALLOW_MUTATIONS=1: the customer's balance_points is back where it began

Environment:
  BASE_URL               default http://127.0.0.1:8080
  INTEGRATION_API_KEY    the merchant's API key, sent as "Authorization: Bearer" (never printed)
  SMOKE_USER_TOKEN       a one-time customer code (python manage.py issue_customer_code)
  SMOKE_CUSTOMER_ID      the smoke customer's id, or
  SMOKE_PHONE            the smoke customer's phone (+7...)
  SMOKE_ALLOW_MUTATIONS  1 to run purchase/refund/balance (default 0)
  SMOKE_OUTLET_ID, SMOKE_DEVICE_ID, SMOKE_MANAGER_ID
                         where the purchase happens; one is needed with SMOKE_ALLOW_MUTATIONS=1
  SMOKE_MAX_MS           time limit of each call in ms (default 1500)
  SMOKE_MAX_MS_CODE, SMOKE_MAX_MS_CUSTOMER, SMOKE_MAX_MS_CALCULATE, SMOKE_MAX_MS_PURCHASE,
  SMOKE_MAX_MS_REFUND    per-call limits (balance uses CUSTOMER); a slower answer fails

Example:
  BASE_URL=https://api.example.com INTEGRATION_API_KEY=... SMOKE_USER_TOKEN=... \
  SMOKE_OUTLET_ID=... SMOKE_ALLOW_MUTATIONS=1 scripts/smoke-integrations.sh
EOF
}

API=""
CUSTOMER_ID=""
START_BALANCE=""
PURCHASE_ID=""
PLACE=()

limit_ms() {
  local name="SMOKE_MAX_MS_$1" value
  value=${!name:-${SMOKE_MAX_MS:-1500}}
  require_ms "$name" "$value"
  printf '%s' "$value"
}

# random_token: 12 hex characters for order ids and idempotency keys.
random_token() {
  od -An -N6 -tx1 /dev/urandom | tr -d ' \n'
}

check_config() {
  local problems=() check
  [[ -n ${INTEGRATION_API_KEY:-} ]] || problems+=("INTEGRATION_API_KEY is not set")
  if [[ -z ${SMOKE_USER_TOKEN:-} && -z ${SMOKE_CUSTOMER_ID:-} && -z ${SMOKE_PHONE:-} ]]; then
    problems+=("set SMOKE_USER_TOKEN, SMOKE_CUSTOMER_ID or SMOKE_PHONE")
  fi
  case ${SMOKE_ALLOW_MUTATIONS:-0} in
    0 | 1) ;;
    *) problems+=("SMOKE_ALLOW_MUTATIONS must be 0 or 1") ;;
  esac
  if [[ ${SMOKE_ALLOW_MUTATIONS:-0} == 1 && ${#PLACE[@]} -eq 0 ]]; then
    problems+=("SMOKE_ALLOW_MUTATIONS=1 needs SMOKE_OUTLET_ID, SMOKE_DEVICE_ID or SMOKE_MANAGER_ID")
  fi
  for check in CODE CUSTOMER CALCULATE PURCHASE REFUND; do
    (limit_ms "$check" >/dev/null 2>&1) || problems+=("SMOKE_MAX_MS_$check must be a positive number")
  done
  if ((${#problems[@]} > 0)); then
    local joined
    printf -v joined '%s; ' "${problems[@]}"
    step_fail "${joined%; }"
  fi
  local mode="read-only"
  [[ ${SMOKE_ALLOW_MUTATIONS:-0} == 1 ]] && mode="with mutations"
  detail "$BASE_URL, $mode"
}

check_code() {
  [[ -n ${SMOKE_USER_TOKEN:-} ]] || step_skip "SMOKE_USER_TOKEN not set"
  json_object "code=$SMOKE_USER_TOKEN" >"$OPS_TMP/request.json"
  http_request POST "$API/code" "$(limit_ms CODE)" "$OPS_TMP/request.json"
  expect_status 200
  CUSTOMER_ID=$(json_get "$OPS_TMP/body" customer.id)
  json_get "$OPS_TMP/body" customer.balance_points >/dev/null
  step_keep CUSTOMER_ID
  detail "customer $CUSTOMER_ID"
}

# step_hinted NAME COMMAND HINT: like `step` with OPS_HINT=HINT, except that when the failing
# answer was 401/403 the hint points at the API key, not at what the step looks up.
step_hinted() {
  local name=$1 command=$2 hint=$3 failures=$OPS_FAILURES continue=$OPS_CONTINUE status
  : >"$OPS_TMP/status"
  OPS_CONTINUE=1 OPS_HINT="" step "$name" "$command"
  ((OPS_FAILURES > failures)) || return 0
  status=$(<"$OPS_TMP/status")
  if [[ $status == 401 || $status == 403 ]]; then
    hint="the API key was refused (HTTP $status): check INTEGRATION_API_KEY (wrong, revoked, expired or read-only), not the customer"
  fi
  printf '       next: %s\n' "$hint" >&2
  [[ $continue == 1 ]] || exit 1
}

check_customer() {
  local id=${CUSTOMER_ID:-${SMOKE_CUSTOMER_ID:-}} phone
  if [[ -n $id ]]; then
    http_request GET "$API/customers/$id" "$(limit_ms CUSTOMER)"
    expect_status 200
    CUSTOMER_ID=$(json_get "$OPS_TMP/body" id)
    START_BALANCE=$(json_get "$OPS_TMP/body" balance_points)
  else
    phone=$(py -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$SMOKE_PHONE")
    http_request GET "$API/customers?phone=$phone" "$(limit_ms CUSTOMER)"
    expect_status 200
    # The lookup answers a list ({"results": [...]}) or, on some versions, the customer itself.
    if CUSTOMER_ID=$(json_get "$OPS_TMP/body" results.0.id 2>/dev/null); then
      START_BALANCE=$(json_get "$OPS_TMP/body" results.0.balance_points)
    else
      CUSTOMER_ID=$(json_get "$OPS_TMP/body" id) || step_fail "no customer with SMOKE_PHONE"
      START_BALANCE=$(json_get "$OPS_TMP/body" balance_points)
    fi
  fi
  [[ $START_BALANCE =~ ^-?[0-9]+$ ]] || step_fail "balance_points is not an integer"
  step_keep CUSTOMER_ID START_BALANCE
  detail "customer $CUSTOMER_ID, balance $START_BALANCE"
}

check_calculate() {
  json_object "customer_id:=$(json_id "$CUSTOMER_ID")" amount_minor:=100 redeem_points:=0 "${PLACE[@]}" \
    >"$OPS_TMP/request.json"
  http_request POST "$API/calculate" "$(limit_ms CALCULATE)" "$OPS_TMP/request.json"
  expect_status 200
  local earned
  if earned=$(json_get "$OPS_TMP/body" earned_points 2>/dev/null); then
    detail "quote: earn $earned for 100"
  else
    py -c 'import json, sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$OPS_TMP/body" ||
      step_fail "the answer is not JSON"
  fi
}

mutations_allowed() {
  [[ ${SMOKE_ALLOW_MUTATIONS:-0} == 1 ]] || step_skip "SMOKE_ALLOW_MUTATIONS=0"
}

check_purchase() {
  mutations_allowed
  local token
  token=$(random_token)
  json_object "customer_id:=$(json_id "$CUSTOMER_ID")" amount_minor:=100 redeem_points:=0 "order_id=smoke-$token" \
    "${PLACE[@]}" >"$OPS_TMP/request.json"
  http_request POST "$API/purchases" "$(limit_ms PURCHASE)" "$OPS_TMP/request.json" \
    "Idempotency-Key: smoke-$token"
  expect_status 201
  PURCHASE_ID=$(json_get "$OPS_TMP/body" id)
  local earned balance
  earned=$(json_get "$OPS_TMP/body" earned_points)
  balance=$(json_get "$OPS_TMP/body" balance_points)
  step_keep PURCHASE_ID
  detail "purchase $PURCHASE_ID (order smoke-$token), earned $earned, balance $balance"
}

check_refund() {
  mutations_allowed
  local token
  token=$(random_token)
  json_object "purchase_id:=$(json_id "$PURCHASE_ID")" >"$OPS_TMP/request.json"
  http_request POST "$API/refunds" "$(limit_ms REFUND)" "$OPS_TMP/request.json" \
    "Idempotency-Key: smoke-refund-$token"
  expect_status 201
  detail "purchase $PURCHASE_ID refunded in full"
}

check_balance() {
  mutations_allowed
  local balance
  http_request GET "$API/customers/$CUSTOMER_ID" "$(limit_ms CUSTOMER)"
  expect_status 200
  balance=$(json_get "$OPS_TMP/body" balance_points)
  [[ $balance == "$START_BALANCE" ]] ||
    step_fail "balance $balance after the refund, expected $START_BALANCE"
  detail "back to $balance"
}

main() {
  case ${1:-} in
    -h | --help)
      usage
      exit 0
      ;;
    "") ;;
    *) ops_die "unexpected argument '$1' (see --help)" ;;
  esac
  BASE_URL=${BASE_URL:-http://127.0.0.1:8080}
  BASE_URL=${BASE_URL%/}
  API="$BASE_URL/api/integrations/v1"
  # The API wants exactly one place of sale; the first one set wins.
  if [[ -n ${SMOKE_OUTLET_ID:-} ]]; then
    PLACE=("outlet_id:=$(json_id "$SMOKE_OUTLET_ID")")
  elif [[ -n ${SMOKE_DEVICE_ID:-} ]]; then
    PLACE=("device_id:=$(json_id "$SMOKE_DEVICE_ID")")
  elif [[ -n ${SMOKE_MANAGER_ID:-} ]]; then
    PLACE=("manager_id:=$(json_id "$SMOKE_MANAGER_ID")")
  fi

  ops_init
  HTTP_HEADER_FILE=$(http_header_file auth "Authorization: Bearer ${INTEGRATION_API_KEY:-}")
  step config check_config
  step code check_code
  step_hinted customer check_customer "is the smoke customer registered for this merchant's key?"
  step calculate check_calculate
  step purchase check_purchase
  OPS_HINT="a smoke purchase ($PURCHASE_ID) is committed without its refund: refund it by hand" \
    step refund check_refund
  step balance check_balance
}

main "$@"
