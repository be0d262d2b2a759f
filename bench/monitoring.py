"""Monitoring benchmark: a snapshot of a busy server against the raw catalog reads.

In one run, on a generated database with --statements distinct statements (≈5,000)
over --tables tables (≈500):

* the floor: the raw reads of pg_stat_statements and of the tables' and indexes'
  statistics, fetched and nothing else;
* the engine's snapshot of the same (sample + deltas + catalog report), its time
  and peak Python memory;
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


def busy_server(spec, tables: int, statements: int) -> None:
    """``tables`` tables, then ``statements`` distinct statements run against them."""
    admin = connect(spec.for_database("postgres"))
    drop_database(admin, DATABASE)
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
        columns = ("a", "b", "c", "id")
        for s in range(statements):  # each (table, shape) pair normalizes to its own statement
            table, shape = s % tables, s // tables
            column = columns[shape % 4]
            cur.execute(
                f"SELECT count(*) FROM t{table} WHERE {column} IS NOT NULL"
                + " AND id > 0" * (shape // 4)
            )


def floor_and_engine(spec, t: dict) -> tuple[int, float]:
    with timed(t, "floor"), connection(spec.for_database(DATABASE)) as conn, conn.cursor() as cur:
        for statement in FLOOR_SQL:
            cur.execute(statement)
            cur.fetchall()
    previous = read_statements(spec, DATABASE)
    tracemalloc.start()
    with timed(t, "engine"):
        current = read_statements(spec, DATABASE, known=set(previous.texts))
        deltas = statement_deltas(previous, current)
        database_report(spec, DATABASE, limit=500)
        json.dumps(current.as_state())
    _size, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert deltas.rows is not None
    return len(current.counters), peak / 1024**2


def odoo_part(spec) -> dict | None:
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
    base = [sys.executable, f"{odoo_src}/odoo-bin", "--addons-path", addons,
            f"--db_host={spec.host}", f"--db_port={spec.port}", f"--db_user={spec.user}",
            "-d", control, "--log-level=warn", "--max-cron-threads=0"]  # fmt: skip
    env = {**os.environ, "PGPASSWORD": spec.password or "", "IPAI_BENCH_DB": DATABASE}
    subprocess.run([*base, "-i", "ipai_ops_monitoring", "--stop-after-init"], env=env, check=True,
                   capture_output=True)  # fmt: skip
    script = Path(__file__).with_name("monitoring_in_odoo.py").read_text()
    shell = [sys.executable, f"{odoo_src}/odoo-bin", "shell", *base[2:], "--no-http"]
    out = subprocess.run(shell, input=script, env=env, capture_output=True, text=True, check=True)
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
        count, peak_mb = floor_and_engine(spec, t)
        rows = [("engine snapshot (ms) vs raw catalog reads", t["engine"] * 1000, t["floor"] * 1000,
                 "<= 5.0")]  # fmt: skip
        odoo = odoo_part(spec)
        if odoo:
            rows.append(("Odoo snapshot run (ms) vs raw catalog reads", odoo["snapshot_ms"],
                         t["floor"] * 1000, "<= 5.0"))  # fmt: skip
            rows.append(
                ("top queries, 30 days (ms) vs target", odoo["top_30d_ms"], 300.0, "<= 1.0")
            )
        report(f"monitoring benchmark: {count} statements, {args.tables} tables", rows)
        print(f"(engine snapshot peak Python memory: {peak_mb:.1f} MiB)")
        if odoo:
            print(f"(30 days of this server's deltas: {odoo['delta_rows']} rows, "
                  f"{odoo['delta_mb']:.0f} MiB with indexes)")  # fmt: skip
    finally:
        admin = connect(spec.for_database("postgres"))
        drop_database(admin, DATABASE)
        admin.close()


if __name__ == "__main__":
    main()
