#!/usr/bin/env bash
# Lint as the OCA does: ruff (+ format), pylint-odoo's mandatory checks, and the
# OCA hooks for manifests, XML and CSV.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$PROJECT_ROOT"

say "lint: ruff"
"$VENV/bin/ruff" check --quiet src tests bench addons
"$VENV/bin/ruff" format --check --quiet src tests bench addons
mapfile -t ADDONS < <(find addons -mindepth 1 -maxdepth 1 -type d -name 'ipai_ops_*' | sort)
if [ "${#ADDONS[@]}" -gt 0 ]; then
    say "lint: pylint-odoo mandatory checks"
    "$VENV/bin/pylint" --rcfile=.pylintrc-mandatory "${ADDONS[@]}"
    say "lint: OCA module checks (manifests, XML, CSV)"
    "$VENV/bin/oca-checks-odoo-module" "${ADDONS[@]}"
fi
