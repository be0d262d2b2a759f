# Fed to `odoo-bin shell` by bench/monitoring.py: `env` is Odoo's. Prints one JSON line.
import json
import os
import sys
import time

from odoo import fields

sys.path.insert(0, os.environ["IPAI_BENCH_DIR"])
from monitoring import run_statements

database = os.environ["IPAI_BENCH_DB"]
server = env["ipai.ops.db.server"].create(
    {
        "name": "bench",
        "host": os.environ.get("PGHOST"),
        "port": int(os.environ.get("PGPORT", "5432")),
        "login": os.environ.get("PGUSER"),
        "password": os.environ.get("PGPASSWORD"),
        "sslmode": "disable",
    }
)
project = env["ipai.ops.project"].create({"name": "Bench", "code": "bench"})
environment = env["ipai.ops.environment"].create(
    {
        "name": "Bench",
        "project_id": project.id,
        "stage": "production",
        "server_id": server.id,
        "database_name": database,
    }
)
Deltas = env["ipai.ops.pgss.delta"].sudo()
Deltas._run_snapshot(environment._queue_system_run("snapshot", {}))
tables, statements = int(os.environ["IPAI_BENCH_TABLES"]), int(os.environ["IPAI_BENCH_STATEMENTS"])
run_statements(server._engine_spec(), tables, statements)  # a busy interval: every one ran again
Deltas._run_snapshot(environment._queue_system_run("snapshot", {}))  # learns the texts
run_statements(server._engine_spec(), tables, statements)  # steady state: texts are known
second = environment._queue_system_run("snapshot", {})
started = time.perf_counter()
if os.environ.get("IPAI_BENCH_PROFILE"):
    import cProfile
    import pstats

    profile = cProfile.Profile()
    outcome = profile.runcall(Deltas._run_snapshot, second)
    pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
else:
    outcome = Deltas._run_snapshot(second)
snapshot_ms = (time.perf_counter() - started) * 1000

# 30 days of history: 14 days of 5-minute samples (200 statements active in each) and
# 30 days of daily totals for 5,000 statements
env.cr.execute(
    "SELECT queryid FROM ipai_ops_pgss_query WHERE environment_id = %s", [environment.id]
)
queryids = [row[0] for row in env.cr.fetchall()] or [str(i) for i in range(5000)]
now = fields.Datetime.now()
env.cr.execute(
    """
    INSERT INTO ipai_ops_pgss_delta (environment_id, project_id, granularity, taken_at, queryid,
        calls, total_ms, max_ms, rows, shared_blks_hit, shared_blks_read, temp_blks_written)
    SELECT %(env)s, %(project)s, 'sample', %(now)s - s * interval '5 minutes',
           (%(ids)s)[1 + (s * 7 + q) %% array_length(%(ids)s, 1)], 10, 12.5, 3, 10, 100, 1, 0
      FROM generate_series(1, 14 * 288) s, generate_series(1, 200) q
    """,
    {"env": environment.id, "project": project.id, "now": now, "ids": queryids},
)
env.cr.execute(
    """
    INSERT INTO ipai_ops_pgss_delta (environment_id, project_id, granularity, taken_at, queryid,
        calls, total_ms, max_ms, rows, shared_blks_hit, shared_blks_read, temp_blks_written)
    SELECT %(env)s, %(project)s, 'day',
           date_trunc('day', %(now)s::timestamp) - d * interval '1 day',
           q, 1000, 1000 * random(), 5, 1000, 10000, 10, 0
      FROM generate_series(1, 30) d, unnest(%(ids)s::varchar[]) q
    ON CONFLICT DO NOTHING
    """,
    {"env": environment.id, "project": project.id, "now": now, "ids": queryids},
)
env.cr.execute("ANALYZE ipai_ops_pgss_delta")
env.cr.execute(
    "SELECT count(*), pg_total_relation_size('ipai_ops_pgss_delta') FROM ipai_ops_pgss_delta"
)
delta_rows, delta_bytes = env.cr.fetchone()
wizard = env["ipai.ops.top.queries"].create({"environment_id": environment.id, "window": "30d"})
wizard.action_refresh()  # warm
started = time.perf_counter()
wizard.action_refresh()
top_ms = (time.perf_counter() - started) * 1000
env.cr.rollback()
print(
    json.dumps(
        {
            "snapshot_ms": snapshot_ms,
            "deltas": outcome["result"]["statements"],
            "new_texts": outcome["result"]["new_texts"],
            "top_30d_ms": top_ms,
            "delta_rows": delta_rows,
            "delta_mb": delta_bytes / 1024**2,
            "lines": len(wizard.line_ids),
        }
    )
)
