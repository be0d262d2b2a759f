#!/usr/bin/env bash
# `make test`: install what is missing, lint, start a throwaway PostgreSQL with
# pg_stat_statements preloaded, run the engine tests, then — when an Odoo 19 is
# configured — install every ipai_ops_* addon in a fresh database and run their
# tests. Ends with one line "N passed, N failed" over both.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$PROJECT_ROOT"

"$PROJECT_ROOT/setup/bootstrap.sh"
"$PROJECT_ROOT/setup/lint.sh"

PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ipai-ops-test-pg.XXXXXX")
cleanup() {
    "$PROJECT_ROOT/setup/pg_cluster.sh" stop "$PG_DIR" || true
    rm -rf "$PG_DIR"
}
trap cleanup EXIT
# shellcheck disable=SC1090
source "$("$PROJECT_ROOT/setup/pg_cluster.sh" start "$PG_DIR" --throwaway)"
say "test PostgreSQL cluster on 127.0.0.1:$PGPORT"

mkdir -p var/log
say "engine tests (pytest)"
set +e
"$VENV/bin/pytest" -q -p no:cacheprovider tests --junitxml=var/log/engine-tests.xml
engine_rc=$?
set -e
read -r engine_passed engine_failed < <("$PY" setup/junit_counts.py var/log/engine-tests.xml)

odoo_passed=0 odoo_failed=0 odoo_rc=0
ODOO=$(odoo_src)
if [ -z "$ODOO" ]; then
    echo "!!!!! ODOO TESTS SKIPPED: no Odoo 19 configured (set ODOO_SRC or write ODOO_SRC=… to $IPAI_OPS_CONFIG) !!!!!"
else
    say "Odoo tests under $ODOO"
    set +e
    "$PY" setup/odoo_tests.py --odoo-src "$ODOO" --log var/log/odoo-tests.log > var/log/odoo-tests.counts
    odoo_rc=$?
    set -e
    read -r odoo_passed odoo_failed < var/log/odoo-tests.counts || true
fi

echo "engine tests: $engine_passed passed, $engine_failed failed"
[ -n "$ODOO" ] && echo "odoo tests: $odoo_passed passed, $odoo_failed failed"
echo "$((engine_passed + odoo_passed)) passed, $((engine_failed + odoo_failed)) failed"
[ "$engine_rc" = 0 ] && [ "$odoo_rc" = 0 ]
