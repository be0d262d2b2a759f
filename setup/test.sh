#!/usr/bin/env bash
# `make test`: install what is missing, lint, start a throwaway PostgreSQL with
# pg_stat_statements preloaded, run the engine tests, then — when an Odoo 19 is
# configured — install every ipai_ops_* addon in a fresh database and run their
# tests (ODOO_TESTS=0 leaves them out). Ends with one line "N passed, N failed" over both.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$PROJECT_ROOT"

"$PROJECT_ROOT/setup/bootstrap.sh"
"$PROJECT_ROOT/setup/lint.sh"

PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ipai-ops-test-pg.XXXXXX")
DOCKER_DIR=
cleanup() {
    "$PROJECT_ROOT/setup/pg_cluster.sh" stop "$PG_DIR" || true
    rm -rf "$PG_DIR"
    if [ -n "$DOCKER_DIR" ]; then
        "$PROJECT_ROOT/setup/docker_engine.sh" stop "$DOCKER_DIR" || true
        rm -rf "$DOCKER_DIR" || true
    fi
}
trap cleanup EXIT
# shellcheck disable=SC1090
source "$("$PROJECT_ROOT/setup/pg_cluster.sh" start "$PG_DIR" --throwaway)"
say "test PostgreSQL cluster on 127.0.0.1:$PGPORT"

# The runtime tests (tests/test_runtime.py) run under a Docker engine of their own, with the
# stand-in images loaded from the per-user cache (built there on the first run only).
if [ "$(id -u)" != 0 ]; then
    export IPAI_OPS_RUNTIME_SKIP="starting a Docker engine of the tests' own needs root"
    echo "!!!!! RUNTIME TESTS SKIPPED: $IPAI_OPS_RUNTIME_SKIP !!!!!"
elif ! command -v dockerd >/dev/null && ! command -v apt-get >/dev/null; then
    export IPAI_OPS_RUNTIME_SKIP="no dockerd here and no apt-get to install docker.io"
    echo "!!!!! RUNTIME TESTS SKIPPED: $IPAI_OPS_RUNTIME_SKIP !!!!!"
elif [ -z "$(odoo_src)" ]; then
    export IPAI_OPS_RUNTIME_SKIP="no Odoo 19 configured to build the odoo:19 stand-in from"
    echo "!!!!! RUNTIME TESTS SKIPPED: $IPAI_OPS_RUNTIME_SKIP !!!!!"
else
    DOCKER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ipai-ops-test-docker.XXXXXX")
    # shellcheck disable=SC1090
    source "$("$PROJECT_ROOT/setup/docker_engine.sh" start "$DOCKER_DIR")" \
        || die "the Docker engine did not start: the runtime tests cannot run"
    "$PROJECT_ROOT/setup/docker_images.sh" || die "the stand-in images are not available"
    export IPAI_OPS_DOCKER_HOST=$DOCKER_HOST
    say "test Docker engine at $DOCKER_HOST"
fi

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
elif [ "${ODOO_TESTS:-1}" = 0 ]; then
    echo "!!!!! ODOO TESTS SKIPPED: ODOO_TESTS=0 (engine and runtime tests only) !!!!!"
    ODOO=
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
