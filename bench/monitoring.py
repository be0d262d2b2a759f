"""Monitoring benchmark: a snapshot of a busy server against the raw catalog reads.

In one run, on a generated database with --statements distinct statements (≈5,000)
over --tables tables (≈500), each statement run again between two samples:

* the floor: the raw reads of pg_stat_statements and of the tables' and indexes'
  statistics, fetched and nothing else;
* the engine's snapshot of the same (sample + deltas + state + catalog report), its
  time and peak Python memory;
* with an Odoo 19 configured (ODOO_SRC), the whole snapshot run inside Odoo (deltas
  and daily totals written) and the time to render the top-queries list over 30
  days of snapshots (generated: 14 days of 5-minute samples, 30 days of daily totals).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

from common import ROOT, report, spec_from_env, timed

from ipai_ops.catalog import database_report
from ipai_ops.connection import connect, connection
from ipai_ops.guards import drop_database
from ipai_ops.stats import read_statements, statement_deltas

DATABASE = "bench_mon"
FLOOR_SQL = [
    "SELECT * FROM pg_stat_statements",
    "SELECT * FROM pg_stat_user_tables",
    "SELECT * FROM pg_stat_user_indexes",
    "SELECT pg_database_size(current_database())",
]
COLUMNS = ("a", "b", "c", "id")


def busy_server(spec, tables: int, statements: int) -> None:
    """``tables`` tables, then ``statements`` distinct statements run against them."""
    admin = connect(spec.for_database("postgres"))
    drop_database(admin, DATABASE, allow_production=True)  # the benchmark's own
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {DATABASE}")
        cur.execute("SELECT pg_stat_statements_reset()")
    admin.close()
    with connection(spec.for_database(DATABASE)) as conn, conn.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        for t in range(tables):
            cur.execute(f"CREATE TABLE t{t} (id serial PRIMARY KEY, a int, b text, c int)")
            cur.execute(f"CREATE INDEX ON t{t} (a)")
            cur.execute(
                f"INSERT INTO t{t} (a, b, c)"
                " SELECT i, md5(i::text), i % 7 FROM generate_series(1, 20) i"
            )
    run_statements(spec, tables, statements)


def run_statements(spec, tables: int, statements: int) -> None:
    """Each of the ``statements`` distinct statements once (one per table and shape)."""
    with connection(spec.for_database(DATABASE)) as conn, conn.cursor() as cur:
        for s in range(statements):
            table, shape = s % tables, s // tables
            cur.execute(
                f"SELECT count(*) FROM t{table} WHERE {COLUMNS[shape % 4]} IS NOT NULL"
                + " AND id > 0" * (shape // 4)
            )


def floor_and_engine(spec, t: dict, tables: int, statements: int) -> tuple[int, float]:
    with timed(t, "floor"), connection(spec.for_database(DATABASE)) as conn, conn.cursor() as cur:
        for statement in FLOOR_SQL:
            cur.execute(statement)
            cur.fetchall()
    previous = read_statements(spec, DATABASE)
    run_statements(spec, tables, statements)  # a busy interval: every statement ran again
    with timed(t, "engine"):
        current = engine_snapshot(spec, previous)
    run_statements(spec, tables, statements)
    tracemalloc.start()  # a second pass for memory: tracing slows Python down several times
    engine_snapshot(spec, current)
    _size, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return len(current.counters), peak / 1024**2


def engine_snapshot(spec, previous):
    current = read_statements(spec, DATABASE, known=set(previous.texts))
    statement_deltas(previous, current)
    json.dumps(current.as_state())
    database_report(spec, DATABASE)
    return current


def odoo_part(spec, tables: int, statements: int) -> dict | None:
    """The snapshot run and the 30-day top-queries list, measured inside a real Odoo."""
    odoo_src = os.environ.get("ODOO_SRC")
    if not odoo_src:
        print("!!!!! Odoo part skipped: no Odoo 19 configured (ODOO_SRC) !!!!!")
        return None
    control = "bench_mon_control"
    admin = connect(spec.for_database("postgres"))
    drop_database(admin, control)
    admin.close()
    addons = f"{odoo_src}/addons,{odoo_src}/odoo/addons,{ROOT / 'addons'}"
    options = ["--addons-path", addons, f"--db_host={spec.host}", f"--db_port={spec.port}",
               f"--db_user={spec.user}", "-d", control, "--log-level=warn",
               "--max-cron-threads=0"]  # fmt: skip
    env = {**os.environ, "PGPASSWORD": spec.password or "", "IPAI_BENCH_DB": DATABASE,
           "IPAI_BENCH_TABLES": str(tables), "IPAI_BENCH_STATEMENTS": str(statements),
           "IPAI_BENCH_DIR": str(Path(__file__).resolve().parent)}  # fmt: skip
    odoo_bin = [sys.executable, f"{odoo_src}/odoo-bin"]
    subprocess.run([*odoo_bin, *options, "-i", "ipai_ops_monitoring", "--stop-after-init"],
                   env=env, check=True, capture_output=True)  # fmt: skip
    script = Path(__file__).with_name("_monitoring_in_odoo.py").read_text()
    out = subprocess.run([*odoo_bin, "shell", *options, "--no-http"], input=script, env=env,
                         capture_output=True, text=True, check=True)  # fmt: skip
    if os.environ.get("IPAI_BENCH_PROFILE"):
        print(out.stderr[-6000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    admin = connect(spec.for_database("postgres"))
    drop_database(admin, control)
    admin.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=500)
    parser.add_argument("--statements", type=int, default=5000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    spec = spec_from_env()
    busy_server(spec, args.tables, args.statements)
    t: dict[str, float] = {}
    try:
        count, peak_mb = floor_and_engine(spec, t, args.tables, args.statements)
        floor_ms = t["floor"] * 1000
        rows = [
            ("engine snapshot (ms) vs raw catalog reads", t["engine"] * 1000, floor_ms, "<= 5.0")
        ]
        odoo = odoo_part(spec, args.tables, args.statements)
        if odoo:
            rows.append(("Odoo snapshot run (ms) vs raw catalog reads", odoo["snapshot_ms"],
                         floor_ms, "<= 5.0"))  # fmt: skip
            rows.append(
                ("top queries, 30 days (ms) vs target", odoo["top_30d_ms"], 300.0, "<= 1.0")
            )
        report(f"monitoring benchmark: {count} statements, {args.tables} tables", rows)
        print(f"(engine snapshot peak Python memory: {peak_mb:.1f} MiB)")
        if odoo:
            rows, size = odoo["delta_rows"], odoo["delta_mb"]
            print(
                f"(Odoo snapshot stored {odoo['deltas']} deltas and {odoo['new_texts']} new texts;"
            )
            print(" 30 days of this server's")
            print(f" deltas: {rows} rows, {size:.0f} MiB with indexes)")
    finally:
        admin = connect(spec.for_database("postgres"))
        drop_database(admin, DATABASE, allow_production=True)  # the benchmark's own
        admin.close()


if __name__ == "__main__":
    main()
