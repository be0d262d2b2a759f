#!/usr/bin/env bash
# `make bench [BENCH=backup] [ARGS=…]`: run benchmarks against a PostgreSQL cluster
# with durable settings (fsync on) kept under var/bench-pg.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$PROJECT_ROOT"
"$PROJECT_ROOT/setup/bootstrap.sh"
# shellcheck disable=SC1090
source "$("$PROJECT_ROOT/setup/pg_cluster.sh" start "$PROJECT_ROOT/var/bench-pg")"
mkdir -p var/bench
ODOO_SRC=$(odoo_src)
export ODOO_SRC  # benchmarks with an Odoo part use it when set
for script in bench/${BENCH:-*}.py; do
    case "$(basename "$script")" in common.py | _*) continue ;; esac  # helpers, not benchmarks
    say "benchmark $(basename "$script" .py)"
    # shellcheck disable=SC2086
    (cd bench && "$PY" "$(basename "$script")" ${ARGS:-} --workdir "$PROJECT_ROOT/var/bench")
done
