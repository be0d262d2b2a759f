import io
import json
from datetime import datetime, timedelta, timezone

from psycopg2.extras import execute_values

from odoo import fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from ipai_ops.activity import max_connections, read_activity, signal_backend, summarize
from ipai_ops.catalog import filestore_bytes
from ipai_ops.check import check_database
from ipai_ops.stats import Sample, read_statements, statement_deltas

SAMPLE_RETENTION = timedelta(days=14)  # per-sample rows; daily totals are kept
SNAPSHOT_LOCK_NAMESPACE = 0x1A2  # pg_advisory_xact_lock(int, int): "snapshots of ipai-ops"
ROLLUP_EVERY = timedelta(hours=1)  # samples are added to the daily totals this often
REGRESSION_MIN_CALLS = 10  # a statement must run this often in both periods to be compared
_DELTA_COLUMNS = (
    "calls", "total_ms", "max_ms", "rows", "shared_blks_hit", "shared_blks_read",
    "temp_blks_written",
)  # fmt: skip


_COPY_SAMPLE = """
COPY ipai_ops_pgss_delta (environment_id, project_id, queryid, calls, total_ms, max_ms, rows,
    shared_blks_hit, shared_blks_read, temp_blks_written, taken_at, granularity) FROM STDIN
"""
_ROLL_UP_DAYS = """
INSERT INTO ipai_ops_pgss_delta AS d (environment_id, project_id, queryid, taken_at, calls,
    total_ms, max_ms, rows, shared_blks_hit, shared_blks_read, temp_blks_written, granularity)
SELECT environment_id, project_id, queryid, date_trunc('day', taken_at), sum(calls),
       sum(total_ms), max(max_ms), sum(rows), sum(shared_blks_hit), sum(shared_blks_read),
       sum(temp_blks_written), 'day'
  FROM ipai_ops_pgss_delta
 WHERE environment_id = %(env)s AND granularity = 'sample'
   AND taken_at > %(since)s AND taken_at <= %(until)s
 GROUP BY environment_id, project_id, queryid, date_trunc('day', taken_at)
    ON CONFLICT (environment_id, queryid, taken_at) WHERE granularity = 'day'
    DO UPDATE SET calls = d.calls + EXCLUDED.calls, total_ms = d.total_ms + EXCLUDED.total_ms,
                  max_ms = GREATEST(d.max_ms, EXCLUDED.max_ms), rows = d.rows + EXCLUDED.rows,
                  shared_blks_hit = d.shared_blks_hit + EXCLUDED.shared_blks_hit,
                  shared_blks_read = d.shared_blks_read + EXCLUDED.shared_blks_read,
                  temp_blks_written = d.temp_blks_written + EXCLUDED.temp_blks_written
"""


class IpaiOpsRun(models.Model):
    _inherit = "ipai.ops.run"

    kind = fields.Selection(
        selection_add=[("snapshot", "Monitoring snapshot"), ("signal", "Cancel or terminate")],
        ondelete={"snapshot": "cascade", "signal": "cascade"},
    )

    def _run_kinds(self) -> dict:
        kinds = super()._run_kinds()
        kinds["snapshot"] = {
            "label": self.env._("Monitoring snapshot"),
            "min_role": "developer",
            "method": "_execute_snapshot",
            "max_attempts": 1,  # the next sample comes in minutes anyway
            "retention_days": 14,
            "in_operations_log": False,
        }
        kinds["signal"] = {
            "label": self.env._("Cancel or terminate a backend"),
            "min_role": "admin",
            "method": "_execute_signal",
            "max_attempts": 1,  # a pid means nothing minutes later
            "retention_days": 365,
        }
        return kinds

    # --- snapshot ----------------------------------------------------------------

    def _execute_snapshot(self) -> dict:
        environment = self.environment_id
        server = environment.server_id._engine_spec()
        # Two snapshots of one environment at once (a click meeting the cron, two lanes)
        # would both subtract the same previous sample and count everything twice: the
        # second waits for the first to commit, then reads the state it left.
        self.env.cr.execute(
            SQL("SELECT pg_advisory_xact_lock(%s, %s)", SNAPSHOT_LOCK_NAMESPACE, environment.id)
        )
        environment.invalidate_recordset(["pgss_state", "pgss_rolled_up_until"])
        self.env.cr.execute(
            "SELECT queryid FROM ipai_ops_pgss_query WHERE environment_id = %s", [environment.id]
        )
        known = {int(row[0]) for row in self.env.cr.fetchall()}
        sample = read_statements(server, environment.database_name, known=known)
        previous = Sample.from_state(environment.pgss_state) if environment.pgss_state else None
        deltas = statement_deltas(previous, sample)
        taken_at = (
            sample.taken_at.astimezone().replace(tzinfo=None)
            if sample.taken_at.tzinfo
            else sample.taken_at
        )
        taken_at = fields.Datetime.now() if taken_at.tzinfo else _utc_naive(sample.taken_at)
        self._store_texts(environment, sample.texts)
        self._store_deltas(environment, taken_at, deltas.rows)
        self._roll_up_days(environment, taken_at)
        # raw jsonb write: the state of 5,000 statements is large, the ORM round trip costly
        self.env.cr.execute(
            "UPDATE ipai_ops_environment SET pgss_state = %s::jsonb WHERE id = %s",
            [json.dumps(sample.as_state()), environment.id],
        )
        environment.invalidate_recordset(["pgss_state"])
        size = self._sample_size_and_activity(environment, server, taken_at, deltas.rows)
        self._purge_old_samples(environment, taken_at)
        self._evaluate_alerts(environment, size)
        flags = [
            f
            for f, on in (("stats reset", deltas.reset), ("server restarted", deltas.restart))
            if on
        ]
        summary = self.env._(
            "%(count)s statements ran since the previous sample%(flags)s.",
            count=len(deltas.rows),
            flags=f" ({', '.join(flags)})" if flags else "",
        )
        result = {"statements": len(deltas.rows), "new_texts": len(sample.texts), **size}
        return {"summary": summary, "result": result}

    def _store_texts(self, environment, texts: dict) -> None:
        if texts:
            execute_values(
                self.env.cr._obj,
                "INSERT INTO ipai_ops_pgss_query (environment_id, project_id, queryid, text)"
                " VALUES %s ON CONFLICT (environment_id, queryid) DO NOTHING",
                [(environment.id, environment.project_id.id, str(q), t) for q, t in texts.items()],
            )

    def _store_deltas(self, environment, taken_at, rows: list[dict]) -> None:
        """The sample's rows, in one COPY."""
        if not rows:
            return
        head = f"{environment.id}\t{environment.project_id.id}\t"
        tail = f"\t{taken_at.isoformat()}\tsample\n"
        data = "".join(
            head + str(r["queryid"]) + "\t" + "\t".join(repr(float(r[c])) for c in _DELTA_COLUMNS)
            + tail
            for r in rows
        )  # fmt: skip
        self.env.cr._obj.copy_expert(_COPY_SAMPLE, io.StringIO(data))  # COPY: the fastest way in

    def _roll_up_days(self, environment, now) -> None:
        """Add the samples since the last roll-up to the daily totals, once an hour: long
        windows read a few thousand daily rows instead of millions of samples."""
        since = environment.pgss_rolled_up_until
        if since and now - since < ROLLUP_EVERY:
            return
        self.env.cr.execute(
            _ROLL_UP_DAYS, {"env": environment.id, "since": since or datetime.min, "until": now}
        )
        self.env.cr.execute(
            "UPDATE ipai_ops_environment SET pgss_rolled_up_until = %s WHERE id = %s",
            [now, environment.id],
        )
        environment.invalidate_recordset(["pgss_rolled_up_until"])

    def _sample_size_and_activity(self, environment, server, taken_at, rows) -> dict:
        report = check_database(environment._engine_spec(), environment.database_name)
        filestore = environment._filestore_dir()
        sessions = read_activity(server, with_text=False)  # the server's load, all databases
        summary = summarize(sessions, max_connections(server))
        mine = [s for s in sessions if s["datname"] == environment.database_name]
        hit = sum(r["shared_blks_hit"] for r in rows)
        read = sum(r["shared_blks_read"] for r in rows)
        size = {
            "database_mb": report.size_bytes / 1024**2,
            "filestore_mb": filestore_bytes(filestore) / 1024**2 if filestore else 0.0,
            "connections": summary["connections"],
            "max_connections": summary["max_connections"],
            "blocked": sum(1 for s in mine if s["blocked_by"]),
            "longest_query_seconds": max(
                (s["query_seconds"] or 0 for s in mine if s["state"] == "active"), default=0
            ),
            "cache_hit_pct": 100.0 * hit / (hit + read) if hit + read else 100.0,
        }
        self.env["ipai.ops.size.sample"].create(
            {
                "environment_id": environment.id,
                "taken_at": taken_at,
                "database_mb": size["database_mb"],
                "filestore_mb": size["filestore_mb"],
                "connections": size["connections"],
                "cache_hit_pct": size["cache_hit_pct"],
            }
        )
        return size

    def _purge_old_samples(self, environment, now) -> None:
        self.env.cr.execute(
            "DELETE FROM ipai_ops_pgss_delta WHERE environment_id = %s"
            " AND granularity = 'sample' AND taken_at < %s",
            [environment.id, now - SAMPLE_RETENTION],
        )

    # --- alerts ------------------------------------------------------------------

    def _evaluate_alerts(self, environment, size: dict) -> None:
        Alert = self.env["ipai.ops.alert"]
        growth = self._growth_per_day(environment, size["database_mb"])
        checks = [
            ("growth", growth is not None and growth > environment.alert_growth_mb_day, growth or 0,
             self.env._("%(env)s grew by %(mb).0f MiB in a day.", env=environment.name,
                        mb=growth or 0)),
            ("long_query", size["longest_query_seconds"] > environment.alert_long_query_s,
             size["longest_query_seconds"],
             self.env._("A query on %(env)s has run for %(s).0f s.", env=environment.name,
                        s=size["longest_query_seconds"])),
            ("blocked", size["blocked"] >= environment.alert_blocked_sessions > 0, size["blocked"],
             self.env._("%(n)s session(s) of %(env)s are blocked.", n=size["blocked"],
                        env=environment.name)),
            ("cache_hit", size["cache_hit_pct"] < environment.alert_cache_hit_pct,
             size["cache_hit_pct"],
             self.env._("Cache hit ratio of %(env)s is %(pct).2f %%.", env=environment.name,
                        pct=size["cache_hit_pct"])),
        ]  # fmt: skip
        used = 100.0 * size["connections"] / size["max_connections"]
        checks.append(
            ("connections", used > environment.alert_connections_pct, used,
             self.env._("%(pct).0f %% of max_connections are in use.", pct=used))
        )  # fmt: skip
        slower = self._regression(environment)
        checks.append(
            ("regression", slower is not None, slower[1] if slower else 0,
             self.env._("Statement %(q)s is %(pct).0f %% slower than last week.",
                        q=slower[0] if slower else "", pct=slower[1] if slower else 0))
        )  # fmt: skip
        late = environment._backup_staleness(fields.Datetime.now())
        checks.append(("no_backup", bool(late), 0, late or ""))
        for condition, active, value, message in checks:
            Alert._update(environment, condition, bool(active), value, message)

    def _growth_per_day(self, environment, current_mb: float) -> float | None:
        day_ago = fields.Datetime.now() - timedelta(days=1)
        before = self.env["ipai.ops.size.sample"].search(
            [("environment_id", "=", environment.id), ("taken_at", "<=", day_ago)],
            order="taken_at desc",
            limit=1,
        )
        return current_mb - before.database_mb if before else None

    def _regression(self, environment):
        """The top statement of the last day whose mean time grew most against the week before."""
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """
                WITH recent AS (
                    SELECT queryid, sum(total_ms) AS total, sum(calls) AS calls
                      FROM ipai_ops_pgss_delta
                     WHERE environment_id = %(env)s AND granularity = 'sample'
                       AND taken_at >= %(day)s
                     GROUP BY queryid ORDER BY sum(total_ms) DESC LIMIT 10),
                before AS (
                    SELECT queryid, sum(total_ms) AS total, sum(calls) AS calls
                      FROM ipai_ops_pgss_delta
                     WHERE environment_id = %(env)s AND granularity = 'day'
                       AND taken_at >= %(week)s AND taken_at < %(start_of_day)s
                     GROUP BY queryid)
                SELECT r.queryid, 100.0 * ((r.total / r.calls) / (b.total / b.calls) - 1)
                  FROM recent r JOIN before b USING (queryid)
                 WHERE r.calls >= %(min)s AND b.calls >= %(min)s AND b.total > 0
                 ORDER BY 2 DESC LIMIT 1
                """,
                env=environment.id,
                day=now - timedelta(days=1),
                week=now - timedelta(days=8),
                start_of_day=(now - timedelta(days=1)).replace(hour=0, minute=0, second=0),
                min=REGRESSION_MIN_CALLS,
            )
        )
        row = self.env.cr.fetchone()
        return row if row and row[1] > environment.alert_regression_pct else None

    # --- signal ------------------------------------------------------------------

    def _execute_signal(self) -> dict:
        params = self.params or {}
        if not self.requester_id.has_group("ipai_ops_core.group_ops_admin"):
            raise AccessError(self.env._("Only operations administrators may stop a backend."))
        done = signal_backend(
            self.environment_id.server_id._engine_spec(),
            int(params["pid"]),
            database=self.environment_id.database_name,
            terminate=bool(params.get("terminate")),
        )
        what = self.env._("terminated") if params.get("terminate") else self.env._("cancelled")
        return {
            "summary": self.env._("Backend %(pid)s %(what)s.", pid=params["pid"], what=what)
            if done
            else self.env._("Backend %(pid)s could not be signalled.", pid=params["pid"])
        }


def _utc_naive(moment):
    return moment.astimezone(timezone.utc).replace(tzinfo=None)
