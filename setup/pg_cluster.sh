#!/usr/bin/env bash
# A PostgreSQL cluster of the project's own, on loopback, with pg_stat_statements preloaded.
#
#   setup/pg_cluster.sh start DIR [--throwaway]   create (once) and start; prints DIR/env.sh
#   setup/pg_cluster.sh stop DIR
#
# DIR/env.sh exports PGHOST/PGPORT/PGUSER/PGPASSWORD for a superuser role
# "ipai" (Odoo refuses the role "postgres"). --throwaway trades durability for
# speed (fsync off): only for the test cluster, which is deleted afterwards.
set -euo pipefail
source "$(dirname "$0")/common.sh"

ROLE=ipai
ROLE_PASSWORD=ipai-local-pw  # a throwaway local cluster on loopback; real servers are configured in Odoo

start() {
    local dir=$1 throwaway=${2:-} bindir port
    bindir=$(pg_bindir) || die "no PostgreSQL server installed (run setup/bootstrap.sh)"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir" && chmod 700 "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        port=$(free_port)
        as_pg_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth-local=trust \
            --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
        {
            echo "port = $port"
            echo "listen_addresses = '127.0.0.1'"
            echo "unix_socket_directories = '$dir'"
            echo "shared_preload_libraries = 'pg_stat_statements'"
            echo "pg_stat_statements.track = all"
            echo "pg_stat_statements.max = 10000"
            echo "max_connections = 200"
            if [ "$throwaway" = --throwaway ]; then
                echo "fsync = off"
                echo "synchronous_commit = off"
                echo "full_page_writes = off"
            fi
        } | as_pg_owner tee -a "$dir/data/postgresql.conf" >/dev/null
    fi
    port=$(sed -n 's/^port = //p' "$dir/data/postgresql.conf" | tail -n 1)
    if ! as_pg_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        as_pg_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
            || { tail -n 20 "$dir/server.log" >&2; die "PostgreSQL did not start"; }
    fi
    as_pg_owner psql -X -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 <<SQL >/dev/null
SET client_min_messages = warning;  -- no "already exists, skipping" on every start
SELECT format('CREATE ROLE %I LOGIN SUPERUSER PASSWORD %L', '$ROLE', '$ROLE_PASSWORD')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$ROLE') \gexec
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SQL
    as_pg_owner tee "$dir/env.sh" >/dev/null <<ENV
export PGHOST=127.0.0.1 PGPORT=$port PGUSER=$ROLE PGPASSWORD=$ROLE_PASSWORD PGDATABASE=postgres
export IPAI_OPS_PG_SOCKET_DIR='$dir' IPAI_OPS_PG_DATA='$dir/data' IPAI_OPS_PG_BINDIR='$bindir'
ENV
    echo "$dir/env.sh"
}

stop() {
    local dir=$1 bindir
    bindir=$(pg_bindir) || return 0
    [ -f "$dir/data/PG_VERSION" ] || return 0
    as_pg_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

case "${1:-}" in
    start) shift; start "$@" ;;
    stop) shift; stop "$@" ;;
    *) die "usage: $0 start DIR [--throwaway] | stop DIR" ;;
esac
