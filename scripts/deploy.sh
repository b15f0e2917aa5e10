#!/usr/bin/env bash
# Release, inspect and roll back one environment run with docker compose.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/ops-lib.sh
source "$SCRIPT_DIR/ops-lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/deploy.sh ENV COMMAND [ARGS]

Run from the repository root (the folder holding .env.ENV and docker-compose.ENV.yml).

Commands:
  status          containers, image tags (configured, running, previous), migration state
                  (showmigrations --plan summary) and /health
  preflight       env file present, required variables set (SECRET_KEY DATABASE_URL REDIS_URL
                  ALLOWED_HOSTS and DEPLOY_REQUIRED_VARS), compose file valid, image available
  deploy          preflight -> backup (scripts/backup.sh) -> migrate -> deploy gate -> start
                  (up -d --wait) -> smoke-check (scripts/smoke-check.sh); stops at the first
                  failing step and says what to do next. Records the replaced image tag in
                  .deploy/ENV.previous_tag and writes the new IMAGE_TAG into .env.ENV
  rollback        start the image tag recorded in .deploy/ENV.previous_tag again, then
                  smoke-check (migrations are not undone)
  logs [SERVICE] [DOCKER COMPOSE LOGS OPTIONS]
                  last LOG_TAIL (default 200) lines of SERVICE (all without), e.g. logs api -f

Environment:
  IMAGE_TAG             tag to deploy (default: IMAGE_TAG in .env.ENV, else latest)
  IMAGE_REPO            image repository (default: from .env.ENV, else loyalty-platform)
  BASE_URL              API base for the smoke check (default http://127.0.0.1:API_PORT)
  METRICS_TOKEN         default: from .env.ENV
  SKIP_BACKUP=1         deploy without the backup step (not for production)
  DEPLOY_WAIT_TIMEOUT   seconds to wait for healthy containers (default 180)
  DEPLOY_STATE_DIR      where tags and the lock live (default .deploy)
  DEPLOY_REQUIRED_VARS  more variables preflight must find set (space-separated)

Examples:
  scripts/deploy.sh production preflight
  IMAGE_TAG=2024-05-01-3f2c1a scripts/deploy.sh production deploy
  scripts/deploy.sh production rollback
  scripts/deploy.sh production logs worker --since 10m
EOF
}

#: Variables without which the app must not start in production.
REQUIRED_VARS=(SECRET_KEY DATABASE_URL REDIS_URL ALLOWED_HOSTS)

# --- state: .deploy/<env>.current_tag, .deploy/<env>.previous_tag ------------------------------

read_state() {
  local file="$STATE_DIR/$ENV_NAME.$1"
  [[ -f $file ]] && tr -d '[:space:]' <"$file"
  return 0
}

write_state() {
  mkdir -p "$STATE_DIR"
  printf '%s\n' "$2" >"$STATE_DIR/$ENV_NAME.$1"
}

# running_tag: the tag of the running api container, else the last one this script started.
running_tag() {
  local id image ref
  id=$("${COMPOSE[@]}" ps -q api 2>/dev/null | head -n 1) || true
  if [[ -n $id ]] && image=$(docker inspect --format '{{.Config.Image}}' "$id" 2>/dev/null) &&
    [[ -n $image ]]; then
    ref=${image##*/}
    if [[ $ref == *:* ]]; then printf '%s' "${ref##*:}"; else printf 'latest'; fi
    return 0
  fi
  read_state current_tag
}

# pin_tag TAG: write IMAGE_TAG=TAG into the env file so a plain `docker compose up -d` (after a
# variable change, say) keeps running this tag. The file is rewritten in place: mode and owner stay.
pin_tag() {
  local tmp="$OPS_TMP/env.pinned"
  awk -v tag="$1" '
    /^[[:space:]]*IMAGE_TAG[[:space:]]*=/ { if (!done) print "IMAGE_TAG=" tag; done = 1; next }
    { print }
    END { if (!done) print "IMAGE_TAG=" tag }
  ' "$ENV_FILE" >"$tmp"
  cat "$tmp" >"$ENV_FILE"
}

take_lock() {
  mkdir -p "$STATE_DIR"
  command -v flock >/dev/null || return 0
  exec 9>>"$STATE_DIR/$ENV_NAME.lock"
  flock -n 9 || ops_die "another deploy or rollback of $ENV_NAME is running ($STATE_DIR/$ENV_NAME.lock)"
}

# --- steps -------------------------------------------------------------------------------------

check_env_file() {
  [[ -f $ENV_FILE ]] || step_fail "$ENV_FILE not found"
  local mode
  mode=$(stat -c %a "$ENV_FILE")
  if [[ ${mode: -1} != 0 ]]; then
    detail "$ENV_FILE (warning: readable by every user, chmod 600 it)"
  else
    detail "$ENV_FILE"
  fi
}

check_env_vars() {
  local name value missing=() placeholder=()
  # shellcheck disable=SC2206 # a space-separated list by design
  local names=("${REQUIRED_VARS[@]}" ${DEPLOY_REQUIRED_VARS:-})
  for name in "${names[@]}"; do
    if ! value=$(env_file_value "$ENV_FILE" "$name") || [[ -z $value ]]; then
      missing+=("$name")
    fi
  done
  # Any value still holding the example's placeholder, required or not (POSTGRES_PASSWORD...).
  while IFS= read -r name; do
    placeholder+=("$name")
  done < <(sed -n 's/^[[:space:]]*\(export[[:space:]]\{1,\}\)\{0,1\}\([A-Za-z_][A-Za-z0-9_]*\)[[:space:]]*=.*change-me.*/\2/p' "$ENV_FILE")
  ((${#missing[@]} == 0)) || step_fail "not set in $ENV_FILE: ${missing[*]}"
  ((${#placeholder[@]} == 0)) || step_fail "still the example value (change-me): ${placeholder[*]}"
  detail "${names[*]}"
}

check_compose() {
  require_compose
  [[ -f $COMPOSE_FILE ]] || step_fail "$COMPOSE_FILE not found"
  # -q: validate only; a full `config` would print every secret from the env file.
  "${COMPOSE[@]}" config -q || step_fail "$COMPOSE_FILE is not valid with $ENV_FILE"
  detail "$COMPOSE_FILE"
}

check_image() {
  if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    detail "$IMAGE (local)"
    return 0
  fi
  "${COMPOSE[@]}" pull --quiet api || step_fail "$IMAGE is neither local nor pullable"
  detail "$IMAGE (pulled)"
}

run_backup() {
  if [[ ${SKIP_BACKUP:-0} == 1 ]]; then
    step_skip "SKIP_BACKUP=1"
  fi
  "$SCRIPT_DIR/backup.sh" --compose "$ENV_FILE" "$COMPOSE_FILE"
  local dir backups
  dir=$(setting BACKUP_DIR "$ENV_FILE" ./backups)
  shopt -s nullglob
  backups=("$dir"/backup_*.sql.gz)
  BACKUP_FILE=${backups[-1]}
  step_keep BACKUP_FILE
  detail "$BACKUP_FILE"
}

run_migrate() {
  "${COMPOSE[@]}" run --rm api python manage.py migrate --noinput
}

run_deploy_gate() {
  "${COMPOSE[@]}" run --rm api python manage.py deploy_gate
}

# start_tag TAG: record what runs now as the previous tag, pin TAG and start every service on it.
start_tag() {
  local tag=$1 replaced
  replaced=$(running_tag)
  if [[ -n $replaced && $replaced != "$tag" ]]; then
    write_state previous_tag "$replaced"
  fi
  write_state current_tag "$tag"
  pin_tag "$tag"
  # The Prometheus files of api, relay and workers (METRICS_SHARED_DIR, bind-mounted by the
  # compose file); the containers run as uid 10001, so the directory is writable like /tmp.
  mkdir -p var/metrics && chmod 1777 var/metrics
  "${COMPOSE[@]}" up -d --wait --wait-timeout "${DEPLOY_WAIT_TIMEOUT:-180}" --remove-orphans
  detail "$IMAGE${replaced:+ (replaced $replaced)}"
}

run_smoke() {
  BASE_URL=$SMOKE_BASE_URL METRICS_TOKEN=$(setting METRICS_TOKEN "$ENV_FILE" "") \
    "$SCRIPT_DIR/smoke-check.sh"
  detail "$SMOKE_BASE_URL"
}

show_containers() {
  require_compose
  "${COMPOSE[@]}" ps -a
  detail "$("${COMPOSE[@]}" ps -q --status running | wc -l | tr -d ' ') running"
}

show_image() {
  local configured running previous
  configured=$(setting IMAGE_TAG "$ENV_FILE" latest)
  running=$(running_tag)
  previous=$(read_state previous_tag)
  detail "configured $configured, running ${running:-none}, previous ${previous:-none}"
}

show_migrations() {
  local plan applied pending
  if [[ -n $("${COMPOSE[@]}" ps -q --status running api 2>/dev/null) ]]; then
    plan=$("${COMPOSE[@]}" exec -T api python manage.py showmigrations --plan)
  else
    plan=$("${COMPOSE[@]}" run --rm --no-deps api python manage.py showmigrations --plan)
  fi
  applied=$(grep -c '^\[X\]' <<<"$plan" || true)
  pending=$(grep -c '^\[ \]' <<<"$plan" || true)
  grep '^\[ \]' <<<"$plan" | head -n 20 || true
  detail "$applied applied, $pending pending"
}

show_health() {
  http_request GET "$SMOKE_BASE_URL/health" 3000
  local status
  status=$(json_get "$OPS_TMP/body" status 2>/dev/null || printf 'unknown')
  [[ $(<"$OPS_TMP/status") == 200 ]] || step_fail "HTTP $(<"$OPS_TMP/status"), status $status"
  detail "$SMOKE_BASE_URL: $status"
}

# --- commands ----------------------------------------------------------------------------------

preflight() {
  OPS_HINT="create it: cp .env.production.example $ENV_FILE, fill it in, chmod 600 $ENV_FILE" \
    step env-file check_env_file
  OPS_HINT="set them in $ENV_FILE (see .env.production.example)" step env-vars check_env_vars
  OPS_HINT="fix $COMPOSE_FILE or $ENV_FILE; details: docker compose --env-file $ENV_FILE -f $COMPOSE_FILE config -q" \
    step compose-config check_compose
  OPS_HINT="build it (docker build -t $IMAGE .), push it, or pick another IMAGE_TAG" \
    step image check_image
}

cmd_preflight() {
  preflight
  printf 'preflight %s: ready to deploy %s\n' "$ENV_NAME" "$IMAGE"
}

cmd_deploy() {
  take_lock
  preflight
  BACKUP_FILE=""
  OPS_SHOW_OUTPUT=1 OPS_HINT="nothing has changed yet; fix the backup (disk space? database up?) and deploy again" \
    step backup run_backup
  local restore_hint="scripts/restore.sh ${BACKUP_FILE:-<backup>} $ENV_FILE $COMPOSE_FILE"
  OPS_HINT="the old release still serves. Fix the migration and deploy again; if it left the schema half-changed, restore the backup: $restore_hint" \
    step migrate run_migrate
  OPS_HINT="the old release still serves; schema and code disagree (see above). Fix the migrations and deploy again, or restore: $restore_hint" \
    step deploy-gate run_deploy_gate
  OPS_HINT="see scripts/deploy.sh $ENV_NAME logs api; go back with scripts/deploy.sh $ENV_NAME rollback" \
    step start start_tag "$TARGET_TAG"
  OPS_SHOW_OUTPUT=1 OPS_HINT="the new release runs but fails its checks: scripts/deploy.sh $ENV_NAME rollback (logs: scripts/deploy.sh $ENV_NAME logs api)" \
    step smoke-check run_smoke
  printf 'deployed %s to %s; previous tag %s (scripts/deploy.sh %s rollback)\n' \
    "$IMAGE" "$ENV_NAME" "$(read_state previous_tag || true)" "$ENV_NAME"
}

check_previous() {
  [[ -n $TARGET_TAG ]] || step_fail "no previous tag in $STATE_DIR/$ENV_NAME.previous_tag"
  detail "$TARGET_TAG"
}

cmd_rollback() {
  take_lock
  TARGET_TAG=$(read_state previous_tag)
  IMAGE_TAG=$TARGET_TAG
  IMAGE="$IMAGE_REPO:$TARGET_TAG"
  OPS_HINT="nothing to roll back to: deploy a known good tag with IMAGE_TAG=<tag> scripts/deploy.sh $ENV_NAME deploy" \
    step previous-tag check_previous
  OPS_HINT="create it: cp .env.production.example $ENV_FILE" step env-file check_env_file
  OPS_HINT="fix $COMPOSE_FILE or $ENV_FILE" step compose-config check_compose
  OPS_HINT="the previous image is gone: build or pull $IMAGE" step image check_image
  OPS_HINT="see scripts/deploy.sh $ENV_NAME logs api" step start start_tag "$TARGET_TAG"
  OPS_SHOW_OUTPUT=1 OPS_HINT="the previous release fails its checks too: see logs, consider scripts/restore.sh with the pre-deploy backup" \
    step smoke-check run_smoke
  printf 'rolled %s back to %s; migrations the newer release applied stay applied\n' \
    "$ENV_NAME" "$IMAGE"
}

cmd_status() {
  OPS_HINT="create it: cp .env.production.example $ENV_FILE" step env-file check_env_file
  OPS_CONTINUE=1
  OPS_SHOW_OUTPUT=1 step containers show_containers
  step image show_image
  OPS_SHOW_OUTPUT=1 step migrations show_migrations
  step health show_health
  ((OPS_FAILURES == 0))
}

cmd_logs() {
  [[ -f $ENV_FILE ]] || ops_die "$ENV_FILE not found"
  exec "${COMPOSE[@]}" logs --tail "${LOG_TAIL:-200}" "$@"
}

main() {
  case ${1:-} in
    -h | --help | "")
      usage
      [[ -n ${1:-} ]] && exit 0
      exit 2
      ;;
  esac
  ENV_NAME=$1
  local command=${2:-}
  shift 2 || shift $#
  [[ $ENV_NAME =~ ^[A-Za-z0-9_-]+$ ]] || ops_die "bad environment name '$ENV_NAME'"
  ENV_FILE=".env.$ENV_NAME"
  COMPOSE_FILE="docker-compose.$ENV_NAME.yml"
  STATE_DIR=${DEPLOY_STATE_DIR:-.deploy}
  COMPOSE=(docker compose --env-file "$ENV_FILE" -f "$COMPOSE_FILE")
  IMAGE_REPO=$(setting IMAGE_REPO "$ENV_FILE" loyalty-platform)
  TARGET_TAG=$(setting IMAGE_TAG "$ENV_FILE" latest)
  IMAGE_TAG=$TARGET_TAG
  IMAGE="$IMAGE_REPO:$TARGET_TAG"
  SMOKE_BASE_URL=${BASE_URL:-http://127.0.0.1:$(setting API_PORT "$ENV_FILE" 8080)}
  # docker compose interpolates ${IMAGE_REPO}/${IMAGE_TAG}; the process environment wins over
  # the env file, so what is exported here is what starts.
  export IMAGE_REPO IMAGE_TAG

  case $command in
    status | preflight | deploy | rollback) ops_init ;;
  esac
  case $command in
    status) cmd_status ;;
    preflight) cmd_preflight ;;
    deploy) cmd_deploy ;;
    rollback) cmd_rollback ;;
    logs) cmd_logs "$@" ;;
    *) ops_die "unknown command '${command}': status, preflight, deploy, rollback or logs (see --help)" ;;
  esac
}

main "$@"
