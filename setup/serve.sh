#!/usr/bin/env bash
# serve.sh ODOO-BIN ARGUMENTS…: the control plane's server as `make run` starts it, and as
# the tests that need a running one start it (tests/odoo_server.py).
#
# Odoo runs in multi-process mode: its master respawns a cron worker that died, so the
# run executor outlives a restart of PostgreSQL (in threaded mode a cron thread that
# finds the database gone dies for good, and runs stay queued until Odoo is restarted).
# Crons get no time limit (a backup may take an hour). The web client's bus is served
# by Odoo's evented server on a port of its own; Caddy (setup/Caddyfile) gives the
# browser one address for both. The options below are added to the arguments given.
#
#   IPAI_OPS_HTTP_PORT    the address's port (8069)
#   IPAI_OPS_ODOO_PORT    Odoo's HTTP workers (the port + 1)
#   IPAI_OPS_GEVENT_PORT  Odoo's evented server (the port + 3)
#   IPAI_OPS_WORKERS      HTTP workers (2); IPAI_OPS_CRON_WORKERS cron workers (2)
#   IPAI_OPS_FRONT_DIR    Caddy's state (var/front)
#   IPAI_OPS_STOP_GRACE   seconds each part gets after SIGTERM before it is killed (20)
#
# One SIGTERM or Ctrl-C stops both. If either ends, the other is stopped too.
set -uo pipefail
source "$(dirname "$0")/common.sh"

export IPAI_OPS_HTTP_PORT=${IPAI_OPS_HTTP_PORT:-8069}
export IPAI_OPS_ODOO_PORT=${IPAI_OPS_ODOO_PORT:-$((IPAI_OPS_HTTP_PORT + 1))}
export IPAI_OPS_GEVENT_PORT=${IPAI_OPS_GEVENT_PORT:-$((IPAI_OPS_HTTP_PORT + 3))}
grace=${IPAI_OPS_STOP_GRACE:-20}
front_dir=${IPAI_OPS_FRONT_DIR:-$PROJECT_ROOT/var/front}
command -v caddy >/dev/null || die "caddy is not installed (setup/bootstrap.sh installs it)"
mkdir -p "$front_dir"

"$PROJECT_ROOT/setup/supervise.sh" "$grace" "$@" \
    --workers="${IPAI_OPS_WORKERS:-2}" --max-cron-threads="${IPAI_OPS_CRON_WORKERS:-2}" \
    --limit-time-real-cron=0 --proxy-mode \
    --http-port="$IPAI_OPS_ODOO_PORT" --gevent-port="$IPAI_OPS_GEVENT_PORT" &
odoo=$!
# Caddy keeps nothing of its own there (no certificates: plain HTTP on loopback)
XDG_DATA_HOME="$front_dir" XDG_CONFIG_HOME="$front_dir" \
    "$PROJECT_ROOT/setup/supervise.sh" "$grace" \
    caddy run --adapter caddyfile --config "$PROJECT_ROOT/setup/Caddyfile" &
front=$!

stop_all() {
    trap '' TERM INT
    kill -TERM "$odoo" "$front" 2>/dev/null
    wait "$odoo" "$front" 2>/dev/null
}
trap 'stop_all; exit 143' TERM INT
wait -n "$odoo" "$front"
status=$?
stop_all
exit "$status"
