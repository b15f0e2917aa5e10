#!/usr/bin/env bash
# Prove that a backup restores: load it into a scratch database on the same server, count the rows
# of every table, and drop the scratch database again.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/ops-lib.sh
source "$SCRIPT_DIR/ops-lib.sh"

usage() {
  cat <<'EOF'
Usage: scripts/backup-verify.sh [--direct|--compose] [--keep] FILE [ENV_FILE] [COMPOSE_FILE]

Checks FILE (a backup_*.sql.gz from scripts/backup.sh) without touching the live database:
  1. gzip -t and the dump's closing line (a truncated or corrupt file fails here),
  2. creates a scratch database loyalty_verify_<time>_<pid> on the same server,
  3. restores FILE into it in one transaction with ON_ERROR_STOP (any SQL error fails),
  4. prints the row count of every table,
  5. drops the scratch database (also when a step fails), unless --keep: then the scratch
     database stays for inspection (also after a failed restore): the scratch-db line names
     it, the drop-scratch line says how to drop it.

Modes: compose (default; ENV_FILE .env.production, COMPOSE_FILE docker-compose.production.yml,
psql runs in the service "postgres") or --direct / NO_COMPOSE=1 (local psql against DATABASE_URL;
its role needs CREATEDB).

Example:
  scripts/backup-verify.sh backups/backup_20240101T030000Z.sql.gz
EOF
}

create_scratch() {
  DB_OVERRIDE="" db_psql -c "CREATE DATABASE \"$SCRATCH\""
  : >"$OPS_TMP/scratch.created"
  detail "$SCRATCH"
}

drop_scratch() {
  [[ -e $OPS_TMP/scratch.created ]] || return 0
  DB_OVERRIDE="" db_psql -c "DROP DATABASE IF EXISTS \"$SCRATCH\" WITH (FORCE)"
  rm -f "$OPS_TMP/scratch.created"
}

restore_scratch() {
  DB_OVERRIDE=$SCRATCH db_restore_file "$FILE"
}

count_rows() {
  local tables=0 rows=0 name count
  # One query counts every table: query_to_xml runs a count(*) per row of the catalogue.
  DB_OVERRIDE=$SCRATCH db_psql -At -F $'\t' -c "
    SELECT format('%I.%I', n.nspname, c.relname),
           (xpath('/row/n/text()', query_to_xml(
              format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg_toast%'
    ORDER BY 1" >"$OPS_TMP/counts.tsv"
  while IFS=$'\t' read -r name count; do
    [[ -n $name ]] || continue
    tables=$((tables + 1))
    rows=$((rows + count))
  done <"$OPS_TMP/counts.tsv"
  ((tables > 0)) || step_fail "the dump restored no tables"
  detail "$tables tables, $rows rows"
}

drop_step() {
  if ((KEEP)); then
    step_skip "kept (--keep): $SCRATCH; drop it with: DROP DATABASE \"$SCRATCH\" WITH (FORCE)"
  fi
  drop_scratch
  detail "$SCRATCH"
}

main() {
  local arg
  for arg in "$@"; do
    [[ $arg == -h || $arg == --help ]] && {
      usage
      exit 0
    }
  done
  KEEP=0
  local rest=()
  for arg in "$@"; do
    if [[ $arg == --keep ]]; then KEEP=1; else rest+=("$arg"); fi
  done
  ops_mode_args "${rest[@]+"${rest[@]}"}"
  set -- "${OPS_ARGS[@]+"${OPS_ARGS[@]}"}"
  (($# >= 1 && $# <= 3)) || ops_die "expected FILE [ENV_FILE] [COMPOSE_FILE] (see --help)"
  FILE=$1
  local env_file=${2:-.env.production} compose_file=${3:-docker-compose.production.yml}
  SCRATCH="loyalty_verify_$(date -u +%Y%m%d%H%M%S)_$$"

  ops_init
  step file dump_check "$FILE"
  OPS_HINT="use --direct with DATABASE_URL, or check ENV_FILE/COMPOSE_FILE" \
    step target db_target "$env_file" "$compose_file"
  # --keep: the scratch database stays whatever happens (the scratch-db line names it).
  ((KEEP)) || ops_on_exit drop_scratch
  OPS_HINT="the role needs CREATEDB (direct mode), and the server must be up" \
    step scratch-db create_scratch
  OPS_HINT="this backup does not restore; use an older one (ls -1 \$BACKUP_DIR)" \
    step restore restore_scratch
  step row-counts count_rows
  awk -F '\t' '{ printf "       %-48s %12s\n", $1, $2 }' "$OPS_TMP/counts.tsv"
  step drop-scratch drop_step
}

main "$@"
