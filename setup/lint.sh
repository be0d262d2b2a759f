#!/usr/bin/env bash
# Lint as the OCA does: ruff (+ format), pylint-odoo's mandatory checks, the
# OCA hooks for manifests, XML and CSV, and README.rst files generated from readme/.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$PROJECT_ROOT"

say "lint: ruff"
"$VENV/bin/ruff" check --quiet src tests bench addons setup docker
"$VENV/bin/ruff" format --check --quiet src tests bench addons setup docker
mapfile -t ADDONS < <(find addons -mindepth 1 -maxdepth 1 -type d -name 'ipai_ops_*' | sort)
if [ "${#ADDONS[@]}" -gt 0 ]; then
    say "lint: pylint-odoo mandatory checks"
    "$VENV/bin/pylint" --rcfile=.pylintrc-mandatory "${ADDONS[@]}"
    say "lint: OCA module checks (manifests, XML, CSV)"
    "$VENV/bin/oca-checks-odoo-module" "${ADDONS[@]}"
fi
say "lint: README.rst generated from readme/*.md (setup/gen_readme.py)"
"$PY" setup/gen_readme.py --check
