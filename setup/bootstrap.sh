#!/usr/bin/env bash
# Install what the project needs on a fresh machine: PostgreSQL server packages
# and OpenSSH's server (Debian) when absent, a virtualenv with the engine and test tools,
# another with moto's S3 server for the off-site tests, and — when
# an Odoo 19 is configured — Odoo's Python packages, Chromium for tours and Caddy,
# the front of the control plane's server.
set -euo pipefail
source "$(dirname "$0")/common.sh"

# pip install -r FILE into VENV (the project's by default), skipped when FILE has
# not changed since the last success there.
pip_install() {
    local file=$1 venv=${2:-$VENV} stamp
    stamp="$venv/.stamp-$(basename "$file")-$(sha1sum "$file" "$PROJECT_ROOT/pyproject.toml" | sha1sum | cut -c1-12)"
    [ -f "$stamp" ] && return 0
    say "installing Python packages from ${file#"$PROJECT_ROOT"/} into ${venv#"$PROJECT_ROOT"/}"
    local log="$venv/pip-install.log"
    if ! (cd "$PROJECT_ROOT" && "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$file") >"$log" 2>&1; then
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
# moto's S3 server for the s3:// off-site tests, in a virtualenv of its own: its Flask
# needs a newer Werkzeug than Odoo's pin in the project's (setup/requirements-s3-server.txt)
[ -x "$S3_VENV/bin/python" ] || { mkdir -p "$(dirname "$S3_VENV")" && python3 -m venv "$S3_VENV"; }
pip_install "$PROJECT_ROOT/setup/requirements-s3-server.txt" "$S3_VENV"

if [ -n "$(odoo_src)" ]; then
    pip_install "$PROJECT_ROOT/setup/requirements-odoo.txt"
    command -v chromium >/dev/null || apt_install chromium
    # the front of the control plane's multi-process server (setup/serve.sh)
    command -v caddy >/dev/null || apt_install caddy
fi
