# Shared helpers for the scripts behind `make test` and `make run`. Source it.
# shellcheck shell=bash

PROJECT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$PROJECT_ROOT/.venv"
PY="$VENV/bin/python"
S3_VENV="$PROJECT_ROOT/var/s3-venv"  # moto's S3 server; tests/s3_server.py looks here
USER_HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
IPAI_OPS_CONFIG=${IPAI_OPS_CONFIG:-${XDG_CONFIG_HOME:-$USER_HOME/.config}/ipai-ops/config}

say() { printf '[ipai-ops] %s\n' "$*" >&2; }
die() { printf '[ipai-ops] ERROR: %s\n' "$*" >&2; exit 1; }

# Where Odoo 19 is: $ODOO_SRC, else ODOO_SRC=… in the user's ipai-ops config file.
# Prints nothing when none is configured; dies when one is configured but is not Odoo 19.
odoo_src() {
    local src=${ODOO_SRC:-}
    if [ -z "$src" ] && [ -f "$IPAI_OPS_CONFIG" ]; then
        src=$(sed -n 's/^ODOO_SRC=//p' "$IPAI_OPS_CONFIG" | tail -n 1)
    fi
    [ -n "$src" ] || return 0
    [ -f "$src/odoo-bin" ] || die "ODOO_SRC=$src has no odoo-bin: point it at an Odoo 19.0 source tree."
    grep -q '^version_info = (19, 0,' "$src/odoo/release.py" 2>/dev/null \
        || die "ODOO_SRC=$src is not Odoo 19.0 (odoo/release.py says otherwise)."
    printf '%s\n' "$src"
}

# Install Debian packages (as root), updating the package lists only when there are none.
apt_install() {
    [ "$(id -u)" = 0 ] || die "missing system packages ($*): install them or rerun as root."
    say "installing Debian packages: $*"
    if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ]; then
        apt-get update -q >/dev/null
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
}

# The newest PostgreSQL server binaries installed from Debian packages.
pg_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] && printf '%s\n' "$dir"
}

# Run a command as the PostgreSQL system user when we are root (initdb refuses root).
as_pg_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    "$PY" - "$@" <<'PYEOF'
import socket
for port in range(55432, 55532):
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break
PYEOF
}
