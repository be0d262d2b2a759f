#!/usr/bin/env bash
# The control plane's entrypoint (docker/Dockerfile, docker-compose.yml).
#
# Odoo and the engine reach PostgreSQL through libpq's PGHOST/PGPORT/PGUSER and a
# password file (PGPASSFILE), which Odoo 19 reads itself: no database setting and no
# password is on a command line or in the environment. The password comes from the file
# IPAI_OPS_PGPASSWORD_FILE names (a Docker secret); PGPASSWORD, if set, is moved there.
# On the first start the control-plane database (IPAI_OPS_DB) is created with every
# ipai_ops_* addon of the image installed (IPAI_OPS_ADDONS, comma-separated, to choose)
# and the admin user gets IPAI_OPS_ADMIN_PASSWORD; when the image's addons have changed
# since the database was last brought up to date, they are updated first. Then Odoo
# serves that one database with workers: IPAI_OPS_WORKERS HTTP workers on
# 127.0.0.1:IPAI_OPS_ODOO_PORT, its evented server (the web client's bus) on
# IPAI_OPS_GEVENT_PORT, and cron workers (the run executor) that its master respawns
# when PostgreSQL went away, with no time limit (long backups). The compose file's front
# gives the browser one address for both ports.
#
#   (no arguments)        serve
#   --some-option …       serve, with these Odoo options added
#   anything else         run it as given (e.g. `ipai-ops probe`, `odoo shell -d ipai_ops`)
set -euo pipefail

if [ $# -gt 0 ] && [ "${1:0:1}" != - ]; then
    exec "$@"
fi

DB=${IPAI_OPS_DB:-ipai_ops}
ADDONS_DIR=/opt/ipai-ops/addons
DATA_DIR=/var/lib/odoo
WANTED_DIGEST=$(cat /opt/ipai-ops/addons.digest)
DONE_DIGEST_FILE="$DATA_DIR/.ipai-ops-addons-$DB"
ADDONS=${IPAI_OPS_ADDONS:-$(find "$ADDONS_DIR" -mindepth 2 -maxdepth 2 -name __manifest__.py \
    -printf '%h\n' | xargs -n1 basename | LC_ALL=C sort | paste -sd, -)}

say() { printf '[ipai-ops] %s\n' "$*" >&2; }

# The server's password into the libpq password file PGPASSFILE names (only this user
# reads it; `docker-compose exec` commands find it there too), and out of the
# environment: a process's environment is readable as /proc/PID/environ.
password_file() {
    local password
    if [ -n "${IPAI_OPS_PGPASSWORD_FILE:-}" ]; then
        password=$(cat "$IPAI_OPS_PGPASSWORD_FILE")
    else
        password=${PGPASSWORD:-}
    fi
    unset PGPASSWORD
    [ -n "$password" ] || return 0
    export PGPASSFILE=${PGPASSFILE:-$HOME/.pgpass}
    (umask 077 && : >"$PGPASSFILE")
    password=${password//\\/\\\\}
    printf '*:*:*:*:%s\n' "${password//:/\\:}" >"$PGPASSFILE"
}
password_file
if [ -n "${IPAI_OPS_ADMIN_PASSWORD_FILE:-}" ]; then
    IPAI_OPS_ADMIN_PASSWORD=$(cat "$IPAI_OPS_ADMIN_PASSWORD_FILE")
fi

wait_for_postgres() {
    local deadline=$((SECONDS + ${IPAI_OPS_DB_WAIT:-60}))
    until pg_isready -q -d postgres; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            say "PostgreSQL at ${PGHOST:-?}:${PGPORT:-5432} does not answer"
            exit 1
        fi
        sleep 1
    done
}

# Whether the control-plane database exists with ipai_ops_core installed.
installed() {
    [ "$(psql -X -q -At -d "$DB" -c \
        "SELECT 1 FROM ir_module_module WHERE name = 'ipai_ops_core' AND state = 'installed'" \
        2>/dev/null)" = 1 ]
}

wait_for_postgres
if ! installed; then
    say "creating the control-plane database $DB with $ADDONS (first start)"
    odoo -d "$DB" -i "$ADDONS" --stop-after-init --no-http --log-level=warn
    if [ "${IPAI_OPS_ADMIN_PASSWORD:-admin}" != admin ]; then
        # through the ORM, which hashes it; the password on standard input, never argv
        printf '%s' "$IPAI_OPS_ADMIN_PASSWORD" | odoo shell -d "$DB" --no-http \
            --log-level=warn >/dev/null 3<&0 <<'PY'
import os

env.ref("base.user_admin").password = os.fdopen(3).read()
env.cr.commit()
PY
    fi
    unset IPAI_OPS_ADMIN_PASSWORD
    echo "$WANTED_DIGEST" >"$DONE_DIGEST_FILE"
elif [ "$(cat "$DONE_DIGEST_FILE" 2>/dev/null)" != "$WANTED_DIGEST" ]; then
    say "the image's addons changed: updating $DB"
    odoo -d "$DB" -u "$ADDONS" -i "$ADDONS" --stop-after-init --no-http \
        --log-level=warn
    echo "$WANTED_DIGEST" >"$DONE_DIGEST_FILE"
fi

say "Odoo's workers on 127.0.0.1:${IPAI_OPS_ODOO_PORT:-8070} (database $DB)"
exec odoo -d "$DB" --db-filter="^$DB\$" --http-port="${IPAI_OPS_ODOO_PORT:-8070}" \
    --gevent-port="${IPAI_OPS_GEVENT_PORT:-8072}" --workers="${IPAI_OPS_WORKERS:-2}" "$@"
