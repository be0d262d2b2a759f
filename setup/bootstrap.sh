#!/usr/bin/env bash
# Install what the project needs on a fresh machine: PostgreSQL server packages
# and OpenSSH's server (Debian) when absent, a virtualenv with the engine and test tools, and — when
# an Odoo 19 is configured — Odoo's Python packages and Chromium for tours.
set -euo pipefail
source "$(dirname "$0")/common.sh"

# pip install -r FILE, skipped when FILE has not changed since the last success.
pip_install() {
    local file=$1 stamp
    stamp="$VENV/.stamp-$(basename "$file")-$(sha1sum "$file" "$PROJECT_ROOT/pyproject.toml" | sha1sum | cut -c1-12)"
    [ -f "$stamp" ] && return 0
    say "installing Python packages from ${file#"$PROJECT_ROOT"/}"
    local log="$VENV/pip-install.log"
    if ! (cd "$PROJECT_ROOT" && "$PY" -m pip install -q --disable-pip-version-check -r "$file") >"$log" 2>&1; then
        grep -v '^WARNING: Location' "$log" >&2 || true
        die "pip could not install ${file#"$PROJECT_ROOT"/}"
    fi
    touch "$stamp"
}

[ -n "$(pg_bindir)" ] || apt_install postgresql postgresql-contrib
# a real OpenSSH server on loopback for the SFTP off-site tests
[ -x /usr/sbin/sshd ] || apt_install openssh-server
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
pip_install "$PROJECT_ROOT/requirements.txt"

if [ -n "$(odoo_src)" ]; then
    pip_install "$PROJECT_ROOT/setup/requirements-odoo.txt"
    command -v chromium >/dev/null || apt_install chromium
fi
