#!/usr/bin/env bash
# Throwaway PostgreSQL cluster under the repo, for development and tests.
#
#   scripts/pg.sh start    [DIR]        initdb if needed, start on 127.0.0.1:<free port>, write DIR/env
#   scripts/pg.sh stop     [DIR]        pg_ctl stop -m fast (this cluster only)
#   scripts/pg.sh restart  [DIR]        pg_ctl restart -m fast (same port)
#   scripts/pg.sh status   [DIR]        exit 0 when running
#   scripts/pg.sh env      [DIR]        print the exports (SCIM_PG_ADMIN_URL, SCIM_PG_APP_URL, ...)
#   scripts/pg.sh createdb DIR NAME     create database NAME owned by role scim (idempotent)
#
# DIR defaults to .pg/dev under the repo. The cluster trusts local connections and listens only
# on 127.0.0.1: it is for tests, never for real data.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
APP_ROLE=scim

die() { echo "pg.sh: $*" >&2; exit 1; }
note() { echo "pg.sh: $*" >&2; }

usage() {
    sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# The server bin dir: newest installed major under /usr/lib/postgresql, else dpkg's file list.
# PATH is not used on purpose: /usr/local/bin may hold shims pointing anywhere.
find_bin() {
    if [[ -n ${SCIM_PG_BIN:-} && -x ${SCIM_PG_BIN}/initdb ]]; then echo "$SCIM_PG_BIN"; return; fi
    local d best=""
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n); do
        [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]] && best=$d
    done
    if [[ -z $best ]] && command -v dpkg >/dev/null; then
        local initdb
        initdb=$(dpkg -L postgresql-15 2>/dev/null | grep 'bin/initdb$' | head -n1 || true)
        [[ -n $initdb ]] && best=$(dirname "$initdb")
    fi
    [[ -n $best ]] || die "no PostgreSQL server binaries found under /usr/lib/postgresql/*/bin; run scripts/deps.sh"
    echo "$best"
}

IS_ROOT=0
[[ $(id -u) -eq 0 ]] && IS_ROOT=1

# Runs a server-side command as the cluster owner: PostgreSQL refuses to run as root.
as_owner() {
    if [[ $IS_ROOT -eq 1 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# chown to the cluster owner when we are root (no-op otherwise).
own() {
    if [[ $IS_ROOT -eq 1 ]]; then chown postgres: "$@"; fi
}

resolve_dir() {
    local d=${1:-$REPO/.pg/dev}
    [[ $d == /* ]] || d=$PWD/$d
    d=${d%/}
    # start may create DIR as a symlink (see prepare_dir); keep its own path for that step.
    if [[ ${2:-} == keep ]]; then echo "$d"; else realpath -m "$d"; fi
}

# When root, DIR must be reachable by the postgres user. A repo under /root (mode 700) is not,
# so the cluster then lives under /tmp (unique per DIR path) and DIR becomes a symlink to it.
prepare_dir() {
    local dir=$1
    if [[ -L $dir ]]; then
        [[ -d $dir ]] || { rm -f "$dir"; }
    fi
    if [[ -d $dir ]]; then
        :
    else
        mkdir -p "$dir"
    fi
    [[ $IS_ROOT -eq 1 ]] || return 0
    id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user to own the cluster"
    local real
    real=$(readlink -f "$dir")
    chown postgres: "$real"
    if ! runuser -u postgres -- test -w "$real" -a -x "$real"; then
        [[ -L $dir ]] && die "postgres user cannot use $real"
        local tmp
        tmp=/tmp/scim-pg-$(printf '%s' "$dir" | sha256sum | cut -c1-16)
        mkdir -p "$tmp"
        chown postgres: "$tmp"
        chmod 700 "$tmp"
        rmdir "$dir" 2>/dev/null || die "postgres user cannot reach $dir and it is not empty; remove it"
        ln -s "$tmp" "$dir"
        note "postgres user cannot reach $dir; cluster lives in $tmp (symlinked)"
    fi
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_port() {
    local p i
    for i in $(seq 1 50); do
        p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        port_in_use "$p" || { echo "$p"; return; }
    done
    die "could not find a free TCP port on 127.0.0.1"
}

# Unix sockets have a ~107-byte path limit; a deep DIR falls back to a short /tmp path.
socket_dir() {
    local dir=$1 real
    real=$(readlink -f "$dir")
    if (( ${#real} + 20 < 100 )); then
        echo "$real/sock"
    else
        echo "/tmp/scim-pg-sock-$(printf '%s' "$real" | sha256sum | cut -c1-12)"
    fi
}

write_settings() {
    local dir=$1 port=$2 sock
    sock=$(socket_dir "$dir")
    mkdir -p "$sock"
    own "$sock"
    # Rewritten on every start (port may change); postgresql.conf includes it once.
    cat >"$dir/data/scim.conf" <<CONF
# Written by scripts/pg.sh; rewritten on every start.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
max_connections = 200
shared_buffers = 128MB
# Durability stays on: later tests check it. Only the dev-irrelevant knobs are relaxed.
fsync = on
synchronous_commit = on
max_wal_size = 1GB
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
CONF
    own "$dir/data/scim.conf"
    echo "$port" >"$dir/port"
}

write_env() {
    local dir=$1 port=$2 bin=$3 real
    real=$(readlink -f "$dir")
    {
        echo "export SCIM_PG_ADMIN_URL=postgresql://postgres@127.0.0.1:$port/postgres"
        echo "export SCIM_PG_APP_URL=postgresql://$APP_ROLE@127.0.0.1:$port/postgres"
        echo "export SCIM_PG_PORT=$port"
        echo "export SCIM_PG_BIN=$bin"
        echo "export SCIM_PG_DATA=$real/data"
        echo "export SCIM_PG_LOG=$real/log/server.log"
        if [[ $IS_ROOT -eq 1 ]]; then echo "export SCIM_PG_OWNER=postgres"; fi
    } >"$dir/env"
}

is_running() {
    local dir=$1 bin=$2
    [[ -f $dir/data/PG_VERSION ]] || return 1
    as_owner "$bin/pg_ctl" status -D "$dir/data" >/dev/null 2>&1
}

log_tail() {
    local dir=$1
    if [[ -f $dir/log/server.log ]]; then
        echo "---- last lines of $dir/log/server.log ----" >&2
        tail -n 25 "$dir/log/server.log" >&2
    fi
}

psql_admin() {
    local port=$1; shift
    "$BIN/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"
}

wait_ready() {
    local dir=$1 port=$2 i
    for i in $(seq 1 100); do
        if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; then return 0; fi
        sleep 0.2
    done
    log_tail "$dir"
    die "server in $dir did not become ready on port $port within 20 s"
}

# The app role is NOT a superuser and does not bypass RLS: row-level security must apply to it. It may switch
# triggers off for a transaction (session_replication_role), which moving a tenant between regions needs: rows are
# copied as logical replication copies them (docs/residency.md). Idempotent; run on every start.
ensure_role() {
    local dir=$1 port=$2
    psql_admin "$port" -v role="$APP_ROLE" >/dev/null <<'SQL' || { log_tail "$dir"; die "could not create role"; }
SELECT format('CREATE ROLE %I LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('GRANT SET ON PARAMETER session_replication_role TO %I', :'role')
WHERE current_setting('server_version_num')::int >= 150000 \gexec
SQL
}

cmd_start() {
    local dir=$1
    prepare_dir "$dir"
    # Server-side paths must not go through a symlink inside a directory postgres cannot traverse.
    dir=$(realpath -m "$dir")
    if is_running "$dir" "$BIN"; then
        local port
        port=$(cat "$dir/port")
        ensure_role "$dir" "$port"
        write_env "$dir" "$port" "$BIN"
        cat "$dir/env"
        return
    fi
    mkdir -p "$dir/log"
    own "$dir/log"
    if [[ ! -f $dir/data/PG_VERSION ]]; then
        rm -rf "$dir/data"
        mkdir -p "$dir/data"
        own "$dir/data"
        chmod 700 "$dir/data"
        if ! as_owner "$BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C \
                >"$dir/log/initdb.log" 2>&1; then
            tail -n 25 "$dir/log/initdb.log" >&2
            die "initdb failed in $dir/data"
        fi
        echo "include_if_exists = 'scim.conf'" >>"$dir/data/postgresql.conf"
    fi
    local port attempt
    port=$(cat "$dir/port" 2>/dev/null || true)
    if [[ -z $port ]] || port_in_use "$port"; then port=$(pick_port); fi
    for attempt in 1 2 3 4 5; do
        write_settings "$dir" "$port"
        if as_owner setsid --wait "$BIN/pg_ctl" start -D "$dir/data" -l "$dir/log/server.log" -w -t 20 >/dev/null 2>&1; then
            break
        fi
        # Another process may have taken the port between the probe and the bind: try another.
        if tail -n 20 "$dir/log/server.log" 2>/dev/null | grep -q -e 'could not bind' -e 'Address already in use' \
                && [[ $attempt -lt 5 ]]; then
            port=$(pick_port)
            continue
        fi
        log_tail "$dir"
        die "pg_ctl start failed for $dir/data"
    done
    wait_ready "$dir" "$port"
    ensure_role "$dir" "$port"
    write_env "$dir" "$port" "$BIN"
    cat "$dir/env"
}

cmd_stop() {
    local dir=$1
    if ! is_running "$dir" "$BIN"; then
        echo "pg.sh: not running ($dir)"
        return
    fi
    as_owner "$BIN/pg_ctl" stop -D "$dir/data" -m fast -w -t 30 >/dev/null \
        || { log_tail "$dir"; die "pg_ctl stop failed for $dir/data"; }
    echo "pg.sh: stopped ($dir)"
}

cmd_restart() {
    local dir=$1
    is_running "$dir" "$BIN" || die "not running ($dir); use start"
    as_owner setsid --wait "$BIN/pg_ctl" restart -D "$dir/data" -l "$dir/log/server.log" -m fast -w -t 30 >/dev/null \
        || { log_tail "$dir"; die "pg_ctl restart failed for $dir/data"; }
    wait_ready "$dir" "$(cat "$dir/port")"
    echo "pg.sh: restarted ($dir)"
}

cmd_status() {
    local dir=$1
    if is_running "$dir" "$BIN"; then
        echo "pg.sh: running on 127.0.0.1:$(cat "$dir/port") ($dir)"
    else
        echo "pg.sh: not running ($dir)"
        return 3
    fi
}

cmd_env() {
    local dir=$1
    [[ -f $dir/env ]] || die "no $dir/env; run: scripts/pg.sh start $dir"
    cat "$dir/env"
}

cmd_createdb() {
    local dir=$1 name=${2:-}
    [[ -n $name ]] || die "usage: pg.sh createdb DIR NAME"
    is_running "$dir" "$BIN" || die "not running ($dir); run: scripts/pg.sh start $dir"
    psql_admin "$(cat "$dir/port")" -v name="$name" -v role="$APP_ROLE" >/dev/null <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'name') \gexec
SQL
    echo "pg.sh: database $name ready (owner $APP_ROLE)"
}

[[ $# -ge 1 ]] || usage
cmd=$1; shift
BIN=$(find_bin)
case $cmd in
    start) cmd_start "$(resolve_dir "${1:-}" keep)" ;;
    stop) cmd_stop "$(resolve_dir "${1:-}")" ;;
    restart) cmd_restart "$(resolve_dir "${1:-}")" ;;
    status) cmd_status "$(resolve_dir "${1:-}")" ;;
    env) cmd_env "$(resolve_dir "${1:-}")" ;;
    createdb) cmd_createdb "$(resolve_dir "${1:-}")" "${2:-}" ;;
    -h|--help|help) usage ;;
    *) echo "pg.sh: unknown command '$cmd'" >&2; usage ;;
esac
