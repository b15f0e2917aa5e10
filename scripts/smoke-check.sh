#!/usr/bin/env bash
# Check the operations endpoints of a running API: /health, /ready, /live and /metrics.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/ops-lib.sh
source "$SCRIPT_DIR/ops-lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/smoke-check.sh

Checks, in order, stopping at the first failure:
  health        GET /health answers 200 with status "ok" or "degraded"
  ready         GET /ready answers 200
  live          GET /live answers 200
  metrics       GET /metrics answers 200 with Prometheus text (sends X-Metrics-Token when
                METRICS_TOKEN is set; a rejected token fails with HTTP 401)
  metrics-auth  only with METRICS_TOKEN: GET /metrics without the token must answer 401

Environment:
  BASE_URL             default http://127.0.0.1:8080
  METRICS_TOKEN        token for /metrics (never printed; of a list "NEW,OLD" the first)
  SMOKE_MAX_MS         time limit of each check in ms (default 3000)
  SMOKE_MAX_MS_HEALTH, SMOKE_MAX_MS_READY, SMOKE_MAX_MS_LIVE, SMOKE_MAX_MS_METRICS
                       per-check limits; a check that takes longer fails

Example:
  BASE_URL=https://api.example.com METRICS_TOKEN=... scripts/smoke-check.sh
EOF
}

# limit_ms CHECK: SMOKE_MAX_MS_<CHECK>, else SMOKE_MAX_MS, else 3000.
limit_ms() {
  local name="SMOKE_MAX_MS_$1" value
  value=${!name:-${SMOKE_MAX_MS:-3000}}
  require_ms "$name" "$value"
  printf '%s' "$value"
}

check_health() {
  http_request GET "$BASE_URL/health" "$(limit_ms HEALTH)"
  expect_status 200
  local summary
  summary=$(py - "$OPS_TMP/body" <<'PY'
import json
import sys

try:
    with open(sys.argv[1], encoding="utf-8") as fh:
        body = json.load(fh)
    status = body["status"]
except (OSError, ValueError, KeyError, TypeError):
    sys.exit("the answer is not health JSON with a status")
checks = body.get("checks") or {}
failing = [f"{name}: {check.get('status')}" for name, check in checks.items()
           if isinstance(check, dict) and check.get("status") != "ok"]
print(status, f"status={status}" + (f" ({', '.join(failing)})" if failing else ""))
PY
  ) || step_fail "the answer is not health JSON"
  case ${summary%% *} in
    ok | degraded) detail "${summary#* }" ;;
    *) step_fail "${summary#* }" ;;
  esac
}

check_ready() {
  http_request GET "$BASE_URL/ready" "$(limit_ms READY)"
  expect_status 200
}

check_live() {
  http_request GET "$BASE_URL/live" "$(limit_ms LIVE)"
  expect_status 200
}

check_metrics() {
  if [[ -n ${METRICS_TOKEN:-} ]]; then
    # During a rotation METRICS_TOKEN lists "NEW,OLD": send the first (the new) one.
    local token=${METRICS_TOKEN%%,*}
    HTTP_HEADER_FILE=$(http_header_file metrics "X-Metrics-Token: ${token// /}")
  fi
  http_request GET "$BASE_URL/metrics" "$(limit_ms METRICS)"
  if [[ $(<"$OPS_TMP/status") == 401 ]]; then
    if [[ -n ${METRICS_TOKEN:-} ]]; then
      step_fail "HTTP 401: METRICS_TOKEN was rejected"
    fi
    step_fail "HTTP 401: the server wants a token, set METRICS_TOKEN"
  fi
  expect_status 200
  local families
  families=$(grep -c '^# TYPE ' "$OPS_TMP/body" || true)
  ((families > 0)) || step_fail "the answer is not Prometheus text"
  detail "$families metric families"
}

check_metrics_auth() {
  [[ -n ${METRICS_TOKEN:-} ]] || step_skip "METRICS_TOKEN not set"
  http_request GET "$BASE_URL/metrics" "$(limit_ms METRICS)"
  [[ $(<"$OPS_TMP/status") == 401 ]] ||
    step_fail "HTTP $(<"$OPS_TMP/status") without a token: /metrics is not protected"
  detail "401 without a token"
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
  local check
  for check in HEALTH READY LIVE METRICS; do
    limit_ms "$check" >/dev/null
  done

  ops_init
  step health check_health
  step ready check_ready
  step live check_live
  step metrics check_metrics
  step metrics-auth check_metrics_auth
}

main "$@"
