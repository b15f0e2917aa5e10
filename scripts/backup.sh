#!/usr/bin/env bash
# Dump the platform database into BACKUP_DIR, keep the newest BACKUP_KEEP dumps, and record the
# time of success for the last_success_backup_timestamp_seconds metric.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/ops-lib.sh
source "$SCRIPT_DIR/ops-lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/backup.sh [--direct|--compose] [ENV_FILE] [COMPOSE_FILE]

Writes BACKUP_DIR/backup_<UTC time>.sql.gz, a plain-SQL pg_dump (no owners, no grants) compressed
with gzip, checks it (gzip -t and the dump's closing line), removes all but the newest BACKUP_KEEP
backups and records the time of success in BACKUP_DIR/last_success_backup_timestamp (epoch
seconds, read by the app for last_success_backup_timestamp_seconds) and
BACKUP_DIR/last_success_backup.prom (node_exporter textfile format).

Modes:
  compose (default)  pg_dump runs in the compose service "postgres" as POSTGRES_USER.
                     ENV_FILE defaults to .env.production, COMPOSE_FILE to
                     docker-compose.production.yml.
  --direct           (or NO_COMPOSE=1) the local pg_dump against DATABASE_URL from the
                     environment; ENV_FILE is then only read for BACKUP_DIR/BACKUP_KEEP.

Environment:
  BACKUP_DIR   where backups go (default: from ENV_FILE, else ./backups)
  BACKUP_KEEP  how many backups to keep, 0 keeps all (default: from ENV_FILE, else 14)

Example:
  scripts/backup.sh .env.production docker-compose.production.yml
  DATABASE_URL=postgres://... scripts/backup.sh --direct
EOF
}

write_dump() {
  mkdir -p "$BACKUP_DIR"
  (
    umask 077
    db_dump | gzip -c >"$PARTIAL"
  )
  detail "$(file_size "$PARTIAL")"
}

save_dump() {
  mv "$PARTIAL" "$TARGET"
  detail "$TARGET"
}

prune_old() {
  local backups=() removed=0 i
  if [[ $BACKUP_KEEP == 0 ]]; then
    step_skip "BACKUP_KEEP=0 keeps every backup"
  fi
  # Names carry a sortable UTC timestamp, so glob order is age order.
  shopt -s nullglob
  backups=("$BACKUP_DIR"/backup_*.sql.gz)
  for ((i = 0; i < ${#backups[@]} - BACKUP_KEEP; i++)); do
    rm -f -- "${backups[i]}"
    removed=$((removed + 1))
  done
  detail "kept $((${#backups[@]} - removed)), removed $removed"
}

record_success() {
  local now
  now=$(date +%s)
  # Written to a temporary name and renamed so a reader never sees a half-written file.
  printf '%s\n' "$now" >"$BACKUP_DIR/.last_success_backup_timestamp.tmp"
  {
    printf '# HELP last_success_backup_timestamp_seconds Unix time of the last successful database backup.\n'
    printf '# TYPE last_success_backup_timestamp_seconds gauge\n'
    printf 'last_success_backup_timestamp_seconds %s\n' "$now"
  } >"$BACKUP_DIR/.last_success_backup.prom.tmp"
  # Readable by the app container's user and by node_exporter; the dumps themselves stay 0600.
  chmod 0644 "$BACKUP_DIR/.last_success_backup_timestamp.tmp" "$BACKUP_DIR/.last_success_backup.prom.tmp"
  mv "$BACKUP_DIR/.last_success_backup_timestamp.tmp" "$BACKUP_DIR/last_success_backup_timestamp"
  mv "$BACKUP_DIR/.last_success_backup.prom.tmp" "$BACKUP_DIR/last_success_backup.prom"
  detail "last_success_backup_timestamp=$now"
}

remove_partial() {
  rm -f -- "$PARTIAL"
}

check_connection() {
  local version
  version=$(db_psql -At -c "SELECT current_setting('server_version')")
  detail "PostgreSQL ${version}"
}

main() {
  local arg
  for arg in "$@"; do
    [[ $arg == -h || $arg == --help ]] && {
      usage
      exit 0
    }
  done
  ops_mode_args "$@"
  set -- "${OPS_ARGS[@]}"
  (($# <= 2)) || ops_die "too many arguments (see --help)"
  local env_file=${1:-.env.production} compose_file=${2:-docker-compose.production.yml}
  local settings_file=$env_file
  [[ -f $settings_file ]] || settings_file=""

  BACKUP_DIR=$(setting BACKUP_DIR "$settings_file" ./backups)
  BACKUP_KEEP=$(setting BACKUP_KEEP "$settings_file" 14)
  [[ $BACKUP_KEEP =~ ^[0-9]+$ ]] || ops_die "BACKUP_KEEP must be a whole number (got '$BACKUP_KEEP')"

  local stamp
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  TARGET="$BACKUP_DIR/backup_${stamp}.sql.gz"
  [[ -e $TARGET ]] && TARGET="$BACKUP_DIR/backup_${stamp}_$$.sql.gz"
  PARTIAL="$BACKUP_DIR/.backup_${stamp}_$$.sql.gz.partial"

  ops_init
  ops_on_exit remove_partial
  OPS_HINT="use --direct with DATABASE_URL, or check ENV_FILE/COMPOSE_FILE" \
    step target db_target "$env_file" "$compose_file"
  OPS_HINT="is the database up? (scripts/deploy.sh <env> status)" step connect check_connection
  OPS_HINT="check free disk space in $BACKUP_DIR (df -h) and the database logs" step dump write_dump
  step check dump_check "$PARTIAL"
  step save save_dump
  step prune prune_old
  step record record_success
}

main "$@"
