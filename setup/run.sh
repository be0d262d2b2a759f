#!/usr/bin/env bash
# `make run`: Odoo 19 on 127.0.0.1:8069 with the ipai_ops_* addons installed in a
# control-plane database ("ipai_ops"), and a demo project whose production
# environment is a real Odoo database on the same PostgreSQL.
#
# PostgreSQL: the server in PGHOST/PGPORT/PGUSER(/PGPASSWORD) when PGHOST is set,
# otherwise a local cluster kept under var/pg (started, or reused if running).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$PROJECT_ROOT"

ODOO=$(odoo_src)
if [ -z "$ODOO" ]; then
    die "no Odoo 19 configured. Point the project at an Odoo 19.0 source tree with
    export ODOO_SRC=/path/to/odoo     (or: echo ODOO_SRC=/path/to/odoo >> $IPAI_OPS_CONFIG)
and run 'make run' again — or use 'docker compose up', the other way to try ipai-ops."
fi
"$PROJECT_ROOT/setup/bootstrap.sh"

if [ -z "${PGHOST:-}" ]; then
    # shellcheck disable=SC1090
    source "$("$PROJECT_ROOT/setup/pg_cluster.sh" start "$PROJECT_ROOT/var/pg")"
    say "local PostgreSQL on 127.0.0.1:$PGPORT (data in var/pg)"
fi

CONTROL_DB=${IPAI_OPS_DB:-ipai_ops}
DEMO_DB=${IPAI_OPS_DEMO_DB:-demo_production}
ADDONS=$(find addons -mindepth 1 -maxdepth 1 -type d -name 'ipai_ops_*' -printf '%f\n' | sort | paste -sd, -)
mkdir -p var/odoo-data var/log

# Lines Odoo prints that are not failures, dropped from the log so that what remains
# means something: the root warning (said once, below, in our words) and docutils'
# remarks on the RST of Odoo's own module descriptions (ours are checked by lint).
HARMLESS="^Running as user 'root' is a security risk\.$|^<string>:[0-9]+: \((WARNING/2|ERROR/3)\) "
if [ "$(id -u)" = 0 ]; then
    say "running as root: fine for a trial on this machine; run Odoo as its own user in production"
fi

# odoo_argv [server|shell] OPTIONS…: ODOO_ARGV is odoo-bin on this project's addons and
# PostgreSQL. The password stays in PGPASSWORD (libpq reads it), out of the argument list.
odoo_argv() {
    local command=server
    case "${1:-}" in server | shell) command=$1 && shift ;; esac
    ODOO_ARGV=("$PY" "$ODOO/odoo-bin" "$command"
        --addons-path="$ODOO/addons,$ODOO/odoo/addons,$PROJECT_ROOT/addons"
        --data-dir="$PROJECT_ROOT/var/odoo-data" --db_host="$PGHOST" --db_port="${PGPORT:-5432}"
        --db_user="${PGUSER:-$USER}" --http-interface=127.0.0.1 "$@")
}
odoo() {
    odoo_argv "$@"
    "${ODOO_ARGV[@]}" 2> >(grep --line-buffered -Ev "$HARMLESS" >&2)
}

database_exists() {
    [ "$("$PY" -c 'import sys, psycopg2
conn = psycopg2.connect(dbname="postgres")
cur = conn.cursor()
cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (sys.argv[1],))
print("yes" if cur.fetchone() else "no")' "$1")" = yes ]
}

# the copies' outgoing mail goes to this catcher, and is shown in their Mails tab
CATCHER=${IPAI_OPS_CATCHER:-127.0.0.1:2525}
"$VENV/bin/ipai-ops" mail-catcher --spool "$PROJECT_ROOT/var/mail" --listen "$CATCHER" &
CATCHER_PID=$!
trap 'kill "$CATCHER_PID" 2>/dev/null || true' EXIT

if ! database_exists "$DEMO_DB"; then
    say "creating the demo production database $DEMO_DB (Odoo with mail)"
    odoo -d "$DEMO_DB" -i mail --stop-after-init --log-level=warn
fi
if ! database_exists "$CONTROL_DB"; then
    say "creating the control-plane database $CONTROL_DB with $ADDONS"
    odoo -d "$CONTROL_DB" -i "$ADDONS" --stop-after-init --log-level=warn
    say "adding the demo project: a first backup and a staging copy"
    IPAI_OPS_DEMO_DB="$DEMO_DB" IPAI_OPS_DEMO_BACKUPS="$PROJECT_ROOT/var/backups" \
        IPAI_OPS_DEMO_CATCHER="$CATCHER" IPAI_OPS_DEMO_SPOOL="$PROJECT_ROOT/var/mail" \
        odoo shell -d "$CONTROL_DB" --log-level=warn --no-http \
        < "$PROJECT_ROOT/setup/demo_project.py"
else
    # -u updates the installed addons, -i installs those added since
    odoo -d "$CONTROL_DB" -u "$ADDONS" -i "$ADDONS" --stop-after-init --log-level=warn
fi

say "Odoo 19 on http://127.0.0.1:8069 — log in as admin / admin (database $CONTROL_DB)"
odoo_argv server -d "$CONTROL_DB" --db-filter="^$CONTROL_DB\$"
# multi-process Odoo behind Caddy (setup/serve.sh says why); one SIGTERM or Ctrl-C stops it
IPAI_OPS_HTTP_PORT=8069 "$PROJECT_ROOT/setup/serve.sh" "${ODOO_ARGV[@]}" \
    2> >(grep --line-buffered -Ev "$HARMLESS" >&2) &
SERVER=$!
trap 'kill -TERM "$SERVER" 2>/dev/null || true' TERM INT
wait "$SERVER" || true
wait "$SERVER" 2>/dev/null || true  # the first wait ends with the signal, not with Odoo
