#!/usr/bin/env bash
# Throwaway PostgreSQL + Redis for the test suite (used by `make test` and CI).
#
#   .ci/services.sh start DIR        provision both services under DIR, print env
#   .ci/services.sh stop DIR         stop both services and remove DIR
#   .ci/services.sh pg-stop DIR      stop only PostgreSQL (data and port kept)
#   .ci/services.sh pg-start DIR     start PostgreSQL again on the same port
#   .ci/services.sh redis-stop DIR   stop only Redis (port kept)
#   .ci/services.sh redis-start DIR  start Redis again on the same port
#
# Run `.ci/services.sh --help` for details.
set -euo pipefail

PROG=${0##*/}
WAIT_SECS=30
PG_USER_OS=postgres           # OS user that runs postgres when we are root
MARKER=.loyalty-services      # marks DIR as ours; `stop` only deletes such dirs

usage() {
    cat <<EOF
Usage: $PROG COMMAND DIR

Provision a throwaway PostgreSQL cluster and Redis server for the tests.
Everything lives in DIR (created if needed); nothing is installed system-wide
except the redis-server package (apt-get, only when missing and run as root).

Commands:
  start DIR        initdb DIR/pg, start PostgreSQL and Redis on free ports of
                   127.0.0.1, create role/database "loyalty" (password
                   "loyalty", superuser), write DIR/env and print it:
                     export DATABASE_URL=postgres://loyalty:loyalty@127.0.0.1:PORT/loyalty
                     export REDIS_URL=redis://127.0.0.1:PORT/0
                     export PG_BIN=... PG_DATA=DIR/pg PG_PORT=... REDIS_PORT=...
                     export SERVICES_DIR=DIR
                   Use:  eval "\$($PROG start DIR)"   or   . DIR/env
  stop DIR         stop both services and remove DIR (idempotent; also safe
                   after a failed or partial start)
  pg-stop DIR      stop PostgreSQL only; data and port kept. Fast mode by
                   default (sessions killed, committed data kept); set
                   SERVICES_PG_STOP_MODE=immediate to simulate a crash (recent
                   commits are then lost: synchronous_commit is off)
  pg-start DIR     start PostgreSQL again on the same port
  redis-stop DIR   stop Redis only
  redis-start DIR  start Redis again on the same port (Redis keeps no data)
  -h, --help       show this help

Progress goes to stderr, the env lines of "start" to stdout. Each service
must answer within ${WAIT_SECS}s or the command fails with one error line.
As root, PostgreSQL runs as the "$PG_USER_OS" user (via runuser); otherwise it
runs as the current user.
EOF
}

log() { printf '%s: %s\n' services "$*" >&2; }
die() { printf '%s: ERROR: %s\n' services "$*" >&2; exit 1; }

now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# True if process $1 exists and is not a zombie waiting to be reaped.
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# Environment that would silently redirect libpq / redis-cli elsewhere.
sanitize_env() {
    local v
    while read -r v; do
        case $v in PG[A-Z]*) [[ $v == *_* ]] || unset "$v" ;; esac
    done < <(compgen -e)
    unset REDISCLI_AUTH REDISCLI_CLUSTER_YES 2>/dev/null || true
}

# Close inherited descriptors above stderr (make jobserver pipes, a test
# runner's pipes...) so the daemons we spawn never hold them open.
close_fds() {
    local f fd
    for f in /proc/"$BASHPID"/fd/*; do
        fd=${f##*/}
        if [[ $fd =~ ^[0-9]+$ ]] && [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
}

# Run a PostgreSQL command as the cluster owner (postgres when we are root).
as_pg() {
    if is_root; then
        (cd / && runuser -u "$PG_USER_OS" -- env LC_ALL=C "$@")
    else
        (cd / && env LC_ALL=C "$@")
    fi
}

find_pg_bin() {
    local c d
    if [ -n "${PG_BIN:-}" ] && [ -x "$PG_BIN/pg_ctl" ] && [ -x "$PG_BIN/postgres" ]; then
        printf '%s\n' "$PG_BIN"; return 0
    fi
    if c=$(command -v pg_ctl 2>/dev/null); then
        d=$(dirname "$(readlink -f "$c")")
        if [ -x "$d/postgres" ] && [ -x "$d/initdb" ]; then printf '%s\n' "$d"; return 0; fi
    fi
    c=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/pg_ctl' 2>/dev/null \
        | sort -V | tail -n 1)
    [ -n "$c" ] || return 1
    dirname "$c"
}

# Print a free TCP port on 127.0.0.1, outside the kernel's ephemeral range (so
# that client connections cannot grab it while a service is stopped for an
# outage test).  Extra arguments are ports to avoid.
pick_port() {
    local lo=32768 hi=60999 p i
    if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
        read -r lo hi < /proc/sys/net/ipv4/ip_local_port_range || true
    fi
    if command -v python3 >/dev/null 2>&1; then
        python3 - "$lo" "$hi" "$@" <<'PY' && return 0
import random, socket, sys
lo, hi = int(sys.argv[1]), int(sys.argv[2])
avoid = {int(a) for a in sys.argv[3:]} | {5432, 6379}
cands = [p for p in range(15000, 65536) if not lo <= p <= hi and p not in avoid]
if len(cands) < 1000:
    cands = [p for p in range(1024, 65536) if p not in avoid]
for _ in range(1000):
    p = random.choice(cands)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    sys.exit(0)
sys.exit(1)
PY
    fi
    # Fallback without python3: probe for a port nobody is listening on.
    for ((i = 0; i < 1000; i++)); do
        if [ "$lo" -gt 20000 ]; then p=$((15000 + RANDOM % (lo - 15000)))
        else p=$((hi + 1 + RANDOM % (65535 - hi))); fi
        [[ " $* 5432 6379 " == *" $p "* ]] && continue
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then printf '%s\n' "$p"; return 0; fi
    done
    return 1
}

# Absolute path of DIR (without requiring it to exist).
abs_dir() {
    local d=$1
    [ -n "$d" ] || die "missing DIR argument (see --help)"
    case $d in /*) ;; *) d=$PWD/$d ;; esac
    d=$(realpath -m -- "$d")
    [ "$d" != / ] || die "refusing to use / as DIR"
    printf '%s\n' "$d"
}

# First ancestor of $1 (inclusive) that the postgres user cannot search.
pg_blocker() {
    local d=$1 path=""
    local IFS=/
    local parts
    read -ra parts <<<"${d#/}"
    for part in "${parts[@]}"; do
        path+=/$part
        if ! runuser -u "$PG_USER_OS" -- test -x "$path" 2>/dev/null; then
            printf '%s\n' "$path"; return 0
        fi
    done
    return 1
}

load_env() {
    [ -f "$DIR/env" ] || die "$DIR/env not found (did '$PROG start $DIR' succeed?)"
    # shellcheck source=/dev/null
    . "$DIR/env"
    if [ -z "${PG_PORT:-}" ] || [ -z "${REDIS_PORT:-}" ]; then die "$DIR/env is incomplete"; fi
}

tail_log() { # file: show the end of a service log on stderr (start failures)
    [ -f "$1" ] || return 0
    tail -n 15 "$1" 2>/dev/null | sed 's/^/services:   | /' >&2 || true
}

# ----------------------------------------------------------------- redis ---

apt_install() { # apt_install PACKAGE: install one OS package (root only), update and retry once
    local package=$1 t0 apt_log="$DIR/apt-get.log"
    is_root || die "$package is not installed (install the $package package)"
    command -v apt-get >/dev/null 2>&1 || die "$package is not installed and apt-get is unavailable"
    t0=$(now)
    log "$package not found, installing it with apt-get (log: $apt_log)"
    local apt=(apt-get -o DPkg::Lock::Timeout=600 -y -q)
    if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install --no-install-recommends --no-upgrade \
            "$package" >>"$apt_log" 2>&1; then
        log "apt-get install failed, running apt-get update and retrying"
        if ! { DEBIAN_FRONTEND=noninteractive "${apt[@]}" update \
               && DEBIAN_FRONTEND=noninteractive "${apt[@]}" install --no-install-recommends --no-upgrade \
                    "$package"; } >>"$apt_log" 2>&1; then
            tail_log "$apt_log"
            die "could not install $package with apt-get (see $apt_log)"
        fi
    fi
    hash -r
    log "$package installed in $(elapsed "$t0")"
}

ensure_redis() {
    if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
        return 0
    fi
    apt_install redis-server
    command -v redis-server >/dev/null 2>&1 || die "redis-server still not found after apt-get install"
}

redis_pid() { # pid of our redis-server, if it is running
    local pid
    [ -f "$DIR/redis/redis.pid" ] || return 1
    read -r pid < "$DIR/redis/redis.pid" 2>/dev/null || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    alive "$pid" || return 1
    grep -q redis "/proc/$pid/comm" 2>/dev/null || [ ! -e "/proc/$pid" ] || return 1
    printf '%s\n' "$pid"
}

redis_ping() {
    [ "$(timeout 3 redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]
}

# Start redis on port $1; returns 0 ok, 2 port in use, 3 no answer in time,
# 1 redis-server failed/exited.
redis_launch() {
    local port=$1 deadline
    mkdir -p "$DIR/redis"
    rm -f "$DIR/redis/redis.pid"
    : > "$DIR/redis/redis.log"
    (close_fds; exec redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
        --daemonize yes --dir "$DIR/redis" --pidfile "$DIR/redis/redis.pid" \
        --logfile "$DIR/redis/redis.log" --protected-mode yes \
        </dev/null >/dev/null 2>&1) || return 1
    deadline=$((SECONDS + WAIT_SECS))
    while [ "$SECONDS" -le "$deadline" ]; do
        redis_ping "$port" && return 0
        if grep -q 'Address already in use' "$DIR/redis/redis.log" 2>/dev/null; then
            return 2
        fi
        if [ -f "$DIR/redis/redis.pid" ]; then
            redis_pid >/dev/null || return 1   # daemon exited
        elif [ "$SECONDS" -gt $((deadline - WAIT_SECS + 5)) ]; then
            return 1   # daemon never wrote its pid file
        fi
        sleep 0.05
    done
    return 3
}

redis_fail() { # rc from redis_launch
    if [ "$1" -eq 3 ]; then
        die "redis did not answer PING on 127.0.0.1:$REDIS_PORT within ${WAIT_SECS}s (see $DIR/redis/redis.log)"
    fi
    die "redis-server failed to start on 127.0.0.1:$REDIS_PORT (see $DIR/redis/redis.log)"
}

redis_stop() {
    local pid port=${1:-} i
    pid=$(redis_pid) || pid=""
    if [ -z "$pid" ]; then return 0; fi
    if [ -n "$port" ]; then
        timeout 5 redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        alive "$pid" || { rm -f "$DIR/redis/redis.pid"; return 0; }
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.1
    if alive "$pid"; then
        log "ERROR: could not stop redis-server (pid $pid)"; return 1
    fi
    rm -f "$DIR/redis/redis.pid"
}

# -------------------------------------------------------------- postgres ---

pg_write_conf() { # port [socket_dir]
    local port=$1 sockdir=${2-}
    cat > "$DIR/pg/postgresql.services.conf" <<EOF
# written by .ci/services.sh -- throwaway test cluster, NOT durable
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sockdir'
max_connections = 300
shared_buffers = 128MB
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    if is_root; then chown "$PG_USER_OS": "$DIR/pg/postgresql.services.conf"; fi
}

pg_running() {
    [ -f "$DIR/pg/postmaster.pid" ] || return 1
    as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg" status >/dev/null 2>&1
}

# Start postgres with the current config; returns 0 ok, 2 port in use, 1 other.
pg_launch() {
    local port=$1 logf="$DIR/pg-run/postgres.log"
    : > "$logf"
    if is_root; then chown "$PG_USER_OS": "$logf"; fi
    if ! (close_fds; as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg" -l "$logf" -w -t "$WAIT_SECS" start \
            </dev/null >/dev/null 2>&1); then
        if grep -q 'Address already in use' "$logf" 2>/dev/null; then return 2; fi
        return 1
    fi
    local deadline=$((SECONDS + WAIT_SECS))
    until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1 >/dev/null 2>&1; do
        [ "$SECONDS" -le "$deadline" ] || return 1
        sleep 0.1
    done
}

pg_stop() { # [mode]: immediate (default) or fast
    local mode=${1:-immediate}
    [ -d "$DIR/pg" ] || return 0
    [ -f "$DIR/pg/postmaster.pid" ] || return 0
    if as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg" -m "$mode" -w -t "$WAIT_SECS" stop \
            >/dev/null 2>&1; then
        return 0
    fi
    if [ "$mode" != immediate ] \
            && as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg" -m immediate -w -t "$WAIT_SECS" stop \
                >/dev/null 2>&1; then
        return 0
    fi
    # pg_ctl failed (stale pid file or wedged server): signal the postmaster.
    local pid i
    read -r pid < "$DIR/pg/postmaster.pid" 2>/dev/null || pid=""
    if [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" \
            && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$DIR/pg"; then
        kill -QUIT "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            alive "$pid" || break
            sleep 0.05
        done
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
        if alive "$pid"; then
            log "ERROR: could not stop postgres (pid $pid)"; return 1
        fi
    fi
    rm -f "$DIR/pg/postmaster.pid"
}

# ------------------------------------------------------------- commands ---

write_env() {
    local tmp="$DIR/env.tmp"
    {
        printf 'export DATABASE_URL=%q\n' "postgres://loyalty:loyalty@127.0.0.1:$PG_PORT/loyalty"
        printf 'export REDIS_URL=%q\n' "redis://127.0.0.1:$REDIS_PORT/0"
        printf 'export PG_BIN=%q\n' "$PG_BIN"
        printf 'export PG_DATA=%q\n' "$DIR/pg"
        printf 'export PG_PORT=%q\n' "$PG_PORT"
        printf 'export REDIS_PORT=%q\n' "$REDIS_PORT"
        printf 'export SERVICES_DIR=%q\n' "$DIR"
    } > "$tmp"
    chmod 644 "$tmp"
    mv -f "$tmp" "$DIR/env"
}

START_OK=0
on_start_exit() {
    local rc=$?
    [ "$START_OK" = 1 ] && return 0
    # Half-started: do not leave daemons behind; keep DIR for the logs.
    redis_stop "${REDIS_PORT:-}" >/dev/null 2>&1 || true
    if [ -n "${PG_BIN:-}" ]; then pg_stop >/dev/null 2>&1 || true; fi
    exit "$rc"
}

cmd_start() {
    local t_all t0 rc attempt sockdir missing=() d
    t_all=$(now)
    if [ -f "$DIR/env" ] || [ -e "$DIR/pg/PG_VERSION" ]; then
        die "$DIR already holds services; run '$PROG stop $DIR' first"
    fi
    trap on_start_exit EXIT

    # Create DIR, making directories we create (and DIR) world-traversable.
    d=$DIR
    while [ ! -e "$d" ]; do missing+=("$d"); d=$(dirname "$d"); done
    mkdir -p -- "$DIR" || die "cannot create $DIR"
    for d in "${missing[@]}"; do chmod 755 "$d"; done
    chmod 755 "$DIR"
    : > "$DIR/$MARKER"

    # PostgreSQL from the OS packages when its binaries are missing (the package also creates
    # the unprivileged 'postgres' user the cluster runs as).
    find_pg_bin >/dev/null || apt_install postgresql
    if is_root; then
        id -u "$PG_USER_OS" >/dev/null 2>&1 \
            || die "running as root but there is no '$PG_USER_OS' user to run PostgreSQL"
        command -v runuser >/dev/null 2>&1 || die "runuser not found (util-linux)"
    fi
    PG_BIN=$(find_pg_bin) || die "PostgreSQL binaries (pg_ctl, initdb) not found"
    ensure_redis

    # ---- postgres
    mkdir -p "$DIR/pg" "$DIR/pg-run" "$DIR/redis"
    chmod 700 "$DIR/pg"
    chmod 755 "$DIR/pg-run"
    if is_root; then
        chown "$PG_USER_OS": "$DIR/pg" "$DIR/pg-run"
        if ! runuser -u "$PG_USER_OS" -- test -w "$DIR/pg" 2>/dev/null; then
            local blk
            blk=$(pg_blocker "$DIR/pg") || blk=$DIR/pg
            die "user '$PG_USER_OS' cannot reach $DIR (no access to $blk); use a DIR under /tmp"
        fi
    fi
    t0=$(now)
    if ! as_pg "$PG_BIN/initdb" -D "$DIR/pg" -U postgres --auth=trust --encoding=UTF8 \
            --locale=C --no-sync --no-instructions >"$DIR/pg-run/initdb.log" 2>&1; then
        tail_log "$DIR/pg-run/initdb.log"
        die "initdb failed (see $DIR/pg-run/initdb.log)"
    fi
    cat > "$DIR/pg/pg_hba.conf" <<'EOF'
# written by .ci/services.sh: trust, loopback only
local   all   all                  trust
host    all   all   127.0.0.1/32   trust
EOF
    printf "\ninclude 'postgresql.services.conf'\n" >> "$DIR/pg/postgresql.conf"
    if is_root; then chown "$PG_USER_OS": "$DIR/pg/pg_hba.conf"; fi
    log "postgres initdb done in $(elapsed "$t0")"

    # Unix socket inside DIR, unless the path would exceed sun_path (107 bytes).
    sockdir=$DIR/pg-run
    if [ $(( ${#sockdir} + 18 )) -gt 107 ]; then
        log "DIR path too long for a unix socket; postgres will listen on TCP only"
        sockdir=""
    fi
    t0=$(now)
    PG_PORT=""
    for attempt in 1 2 3 4 5; do
        PG_PORT=$(pick_port) || die "no free TCP port found for postgres"
        pg_write_conf "$PG_PORT" "$sockdir"
        rc=0; pg_launch "$PG_PORT" || rc=$?
        [ "$rc" -eq 2 ] || break
        log "port $PG_PORT taken meanwhile, retrying postgres (attempt $attempt)"
        pg_stop >/dev/null 2>&1 || true
    done
    if [ "$rc" -ne 0 ]; then
        tail_log "$DIR/pg-run/postgres.log"
        die "postgres failed to start on 127.0.0.1:$PG_PORT (see $DIR/pg-run/postgres.log)"
    fi
    if ! "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres \
            -d postgres -c "CREATE ROLE loyalty LOGIN SUPERUSER PASSWORD 'loyalty'" \
            -c "CREATE DATABASE loyalty OWNER loyalty" >"$DIR/pg-run/setup.log" 2>&1; then
        tail_log "$DIR/pg-run/setup.log"
        die "could not create role/database loyalty (see $DIR/pg-run/setup.log)"
    fi
    log "postgres started on 127.0.0.1:$PG_PORT in $(elapsed "$t0")"

    # ---- redis
    t0=$(now)
    REDIS_PORT=""
    for attempt in 1 2 3 4 5; do
        REDIS_PORT=$(pick_port "$PG_PORT") || die "no free TCP port found for redis"
        rc=0; redis_launch "$REDIS_PORT" || rc=$?
        [ "$rc" -eq 2 ] || break
        log "port $REDIS_PORT taken meanwhile, retrying redis (attempt $attempt)"
        redis_stop >/dev/null 2>&1 || true
    done
    if [ "$rc" -ne 0 ]; then
        tail_log "$DIR/redis/redis.log"
        redis_fail "$rc"
    fi
    log "redis started on 127.0.0.1:$REDIS_PORT in $(elapsed "$t0")"

    write_env
    START_OK=1
    trap - EXIT
    cat "$DIR/env"
    log "ready in $(elapsed "$t_all") (env: $DIR/env)"
}

cmd_stop() {
    local rc=0
    if [ ! -e "$DIR" ]; then
        log "nothing to stop in $DIR"; return 0
    fi
    if [ -f "$DIR/env" ]; then
        # shellcheck source=/dev/null
        . "$DIR/env" || true
    fi
    redis_stop "${REDIS_PORT:-}" || rc=1
    if [ -e "$DIR/pg/postmaster.pid" ]; then
        if PG_BIN=$(find_pg_bin); then pg_stop || rc=1
        else log "ERROR: pg_ctl not found, cannot stop postgres in $DIR/pg"; rc=1; fi
    fi
    [ "$rc" -eq 0 ] || die "some services in $DIR could not be stopped; $DIR kept"
    if [ -e "$DIR/$MARKER" ] || [ -z "$(ls -A -- "$DIR" 2>/dev/null)" ]; then
        rm -rf -- "$DIR"
        log "stopped services and removed $DIR"
    else
        die "$DIR was not created by $PROG; not removing it"
    fi
}

cmd_pg_stop() {
    # "fast" by default: clients are disconnected at once but every committed
    # transaction survives.  "immediate" is a crash: with synchronous_commit=off
    # the last ~0.6s of commits are lost on restart.
    local mode=${SERVICES_PG_STOP_MODE:-fast}
    case $mode in fast | immediate) ;; *) die "SERVICES_PG_STOP_MODE must be fast or immediate" ;; esac
    load_env
    if ! pg_running; then log "postgres already stopped"; return 0; fi
    pg_stop "$mode" || die "could not stop postgres in $DIR/pg"
    log "postgres stopped (127.0.0.1:$PG_PORT, $mode mode)"
}

cmd_pg_start() {
    local t0 rc=0
    load_env
    if pg_running; then log "postgres already running on 127.0.0.1:$PG_PORT"; return 0; fi
    t0=$(now)
    pg_launch "$PG_PORT" || rc=$?
    if [ "$rc" -eq 2 ]; then
        die "postgres cannot restart: 127.0.0.1:$PG_PORT is now used by another process"
    elif [ "$rc" -ne 0 ]; then
        tail_log "$DIR/pg-run/postgres.log"
        die "postgres failed to start on 127.0.0.1:$PG_PORT (see $DIR/pg-run/postgres.log)"
    fi
    log "postgres started on 127.0.0.1:$PG_PORT in $(elapsed "$t0")"
}

cmd_redis_stop() {
    load_env
    if ! redis_pid >/dev/null; then log "redis already stopped"; return 0; fi
    redis_stop "$REDIS_PORT" || die "could not stop redis in $DIR/redis"
    log "redis stopped (127.0.0.1:$REDIS_PORT)"
}

cmd_redis_start() {
    local t0 rc=0
    load_env
    if redis_pid >/dev/null && redis_ping "$REDIS_PORT"; then
        log "redis already running on 127.0.0.1:$REDIS_PORT"; return 0
    fi
    command -v redis-server >/dev/null 2>&1 || die "redis-server not found"
    t0=$(now)
    redis_launch "$REDIS_PORT" || rc=$?
    if [ "$rc" -eq 2 ]; then
        die "redis cannot restart: 127.0.0.1:$REDIS_PORT is now used by another process"
    elif [ "$rc" -ne 0 ]; then
        redis_stop >/dev/null 2>&1 || true
        tail_log "$DIR/redis/redis.log"
        redis_fail "$rc"
    fi
    log "redis started on 127.0.0.1:$REDIS_PORT in $(elapsed "$t0")"
}

main() {
    local cmd=${1:-}
    case $cmd in
        -h | --help | help) usage; return 0 ;;
        start | stop | pg-stop | pg-start | redis-stop | redis-start) ;;
        "") usage >&2; exit 2 ;;
        *) printf '%s: unknown command %s (see --help)\n' "$PROG" "$cmd" >&2; exit 2 ;;
    esac
    [ $# -eq 2 ] || { printf 'usage: %s %s DIR (see --help)\n' "$PROG" "$cmd" >&2; exit 2; }
    sanitize_env
    DIR=$(abs_dir "$2")
    case $cmd in
        start) cmd_start ;;
        stop) cmd_stop ;;
        pg-stop) PG_BIN=$(find_pg_bin) || die "PostgreSQL binaries not found"; cmd_pg_stop ;;
        pg-start) PG_BIN=$(find_pg_bin) || die "PostgreSQL binaries not found"; cmd_pg_start ;;
        redis-stop) cmd_redis_stop ;;
        redis-start) cmd_redis_start ;;
    esac
}

main "$@"
