#!/usr/bin/env bash
# Replace the platform database with a backup, in one transaction, then check that the schema
# matches the code (deploy gate).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/ops-lib.sh
source "$SCRIPT_DIR/ops-lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/restore.sh [--yes] [--force] [--no-safety-backup] [--direct|--compose] FILE [ENV_FILE] [COMPOSE_FILE]

Restores FILE (a backup_*.sql.gz from scripts/backup.sh) over the live database:
  1. checks FILE (gzip -t and the dump's closing line),
  2. asks you to type the database name (skipped with --yes; without a terminal --yes is required),
  3. refuses while other clients are connected to the database; with --force they are terminated
     (better: stop them first: docker compose ... stop api worker relay),
  4. dumps the current database to BACKUP_DIR/pre-restore_<UTC time>.sql.gz first, so a wrong
     choice of FILE can be undone (--no-safety-backup skips it, e.g. when the database is broken),
  5. drops and recreates the schema "public" and loads FILE, all in one transaction: an error
     leaves the database exactly as it was,
  6. runs the deploy gate (python manage.py deploy_gate) to show whether the restored schema
     matches the code's migrations.

Modes: compose (default; ENV_FILE .env.production, COMPOSE_FILE docker-compose.production.yml;
psql runs in the service "postgres", the gate in `docker compose run --rm api`) or --direct /
NO_COMPOSE=1 (local psql against DATABASE_URL; the gate runs ${PYTHON:-.venv/bin/python}
manage.py deploy_gate).

Environment:
  BACKUP_DIR              where the safety backup goes (default: from ENV_FILE, else ./backups)
  SKIP_DEPLOY_GATE=1      do not run the deploy gate (e.g. the app is not installed here)
  RESTORE_LOCK_TIMEOUT    how long to wait for table locks (default 60s)

Example:
  scripts/restore.sh backups/backup_20240101T030000Z.sql.gz
EOF
}

check_connections() {
  local others
  others=$(db_psql -At -F ' ' -c "
    SELECT count(*), coalesce(string_agg(DISTINCT coalesce(nullif(application_name, ''), 'unnamed')
                                         || '@' || coalesce(host(client_addr), 'local'), ', '), '')
    FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()
      AND backend_type = 'client backend'")
  local count=${others%% *} who=${others#* }
  if ((count == 0)); then
    detail "no other connections"
  elif [[ $FORCE == 1 ]]; then
    db_psql -At -c "
      SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid()
        AND backend_type = 'client backend'" >/dev/null
    detail "terminated $count connection(s): $who"
  else
    step_fail "$count other connection(s): $who"
  fi
}

safety_backup() {
  if [[ $SAFETY == 0 ]]; then
    step_skip "--no-safety-backup"
  fi
  mkdir -p "$BACKUP_DIR"
  (
    umask 077
    db_dump | gzip -c >"$SAFETY_PARTIAL"
  )
  mv "$SAFETY_PARTIAL" "$SAFETY_TARGET"
  detail "$SAFETY_TARGET"
}

remove_safety_partial() {
  rm -f -- "$SAFETY_PARTIAL"
}

restore_target() {
  db_restore_file "$FILE"
  detail "$FILE -> $DB_NAME"
}

run_deploy_gate() {
  if [[ ${SKIP_DEPLOY_GATE:-0} == 1 ]]; then
    step_skip "SKIP_DEPLOY_GATE=1"
  fi
  if [[ $DB_MODE == compose ]]; then
    "${COMPOSE[@]}" run --rm --no-deps api python manage.py deploy_gate
  else
    "${PYTHON:-.venv/bin/python}" manage.py deploy_gate
  fi
}

confirm() {
  local answer
  [[ $YES == 1 ]] && return 0
  [[ -t 0 ]] || ops_die "no terminal to confirm on: pass --yes to restore without asking"
  printf 'This replaces every table in database "%s" with %s.\n' "$DB_NAME" "$FILE"
  read -r -p "Type the database name to continue: " answer
  [[ $answer == "$DB_NAME" ]] || ops_die "not confirmed; nothing was changed"
}

main() {
  YES=0
  FORCE=0
  SAFETY=1
  local arg rest=()
  for arg in "$@"; do
    case $arg in
      -h | --help)
        usage
        exit 0
        ;;
      -y | --yes) YES=1 ;;
      --force) FORCE=1 ;;
      --no-safety-backup) SAFETY=0 ;;
      *) rest+=("$arg") ;;
    esac
  done
  ops_mode_args "${rest[@]}"
  set -- "${OPS_ARGS[@]}"
  (($# >= 1 && $# <= 3)) || ops_die "expected FILE [ENV_FILE] [COMPOSE_FILE] (see --help)"
  FILE=$1
  local env_file=${2:-.env.production} compose_file=${3:-docker-compose.production.yml}

  local settings_file=$env_file
  [[ -f $settings_file ]] || settings_file=""
  BACKUP_DIR=$(setting BACKUP_DIR "$settings_file" ./backups)
  SAFETY_TARGET="$BACKUP_DIR/pre-restore_$(date -u +%Y%m%dT%H%M%SZ).sql.gz"
  SAFETY_PARTIAL="$BACKUP_DIR/.pre-restore_$$.sql.gz.partial"

  ops_init
  ops_on_exit remove_safety_partial
  OPS_HINT="pick another backup: ls -1 backups/" step file dump_check "$FILE"
  OPS_HINT="use --direct with DATABASE_URL, or check ENV_FILE/COMPOSE_FILE" \
    step target db_target "$env_file" "$compose_file"
  confirm
  OPS_HINT="stop the clients (docker compose --env-file $env_file -f $compose_file stop api worker relay) or pass --force to terminate them" \
    step connections check_connections
  OPS_HINT="nothing was changed; if the database cannot be dumped, re-run with --no-safety-backup" \
    step safety-backup safety_backup
  OPS_HINT="nothing was changed (one transaction); read the error above" \
    step restore restore_target
  OPS_HINT="the data is restored but schema and code disagree: deploy the release that matches this backup, or run migrations (python manage.py migrate)" \
    step deploy-gate run_deploy_gate
}

main "$@"
