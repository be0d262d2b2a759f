import io
import json
from datetime import datetime, timedelta

from odoo import fields, models
from odoo.tools import SQL

from odoo.addons.ipai_ops_core.models.ops_run import utc_naive

from ipai_ops.stats import Sample, read_statements, statement_deltas

SAMPLE_RETENTION = timedelta(days=14)  # per-sample rows; daily totals are kept
SNAPSHOT_LOCK_NAMESPACE = 0x1A2  # pg_advisory_xact_lock(int, int): "snapshots of ipai-ops"
ROLLUP_EVERY = timedelta(hours=1)  # samples are added to the daily totals this often
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


class IpaiOpsPgssDelta(models.Model):
    """What one statement did between two samples (``granularity = sample``), or in one
    day (``day``: kept after the samples are purged)."""

    _name = "ipai.ops.pgss.delta"
    _description = "Operations: statement statistics"
    _order = "taken_at desc"
    _log_access = False  # millions of rows: no create/write audit columns

    # no single-column indexes: every snapshot inserts thousands of rows, and the window
    # index below serves every read (by environment, granularity and time)
    environment_id = fields.Many2one("ipai.ops.environment", required=True, ondelete="cascade")
    project_id = fields.Many2one(related="environment_id.project_id", store=True)
    granularity = fields.Selection([("sample", "Sample"), ("day", "Day")], required=True)
    taken_at = fields.Datetime(required=True)
    queryid = fields.Char(required=True)
    calls = fields.Float(digits=(16, 0))
    total_ms = fields.Float(string="Total time (ms)")
    max_ms = fields.Float(string="Max time (ms)")
    rows = fields.Float(digits=(16, 0))
    shared_blks_hit = fields.Float(digits=(16, 0))
    shared_blks_read = fields.Float(digits=(16, 0))
    temp_blks_written = fields.Float(digits=(16, 0))

    _window_idx = models.Index("(environment_id, granularity, taken_at)")
    _day_uniq = models.UniqueIndex(
        "(environment_id, queryid, taken_at) WHERE granularity = 'day'",
        "One daily total per statement and day.",
    )

    # --- work of the "snapshot" run ---------------------------------------------

    def _run_snapshot(self, run) -> dict:
        """Ingest one pg_stat_statements sample of the run's environment, then alerts."""
        environment = run.environment_id
        server = environment.server_id._engine_spec()
        # Two snapshots of one environment at once (a click meeting the cron, two lanes)
        # would both subtract the same previous sample and count everything twice: the
        # second waits for the first to commit, then reads the state it left.
        self.env.cr.execute(
            SQL("SELECT pg_advisory_xact_lock(%s, %s)", SNAPSHOT_LOCK_NAMESPACE, environment.id)
        )
        environment.invalidate_recordset(["pgss_state", "pgss_rolled_up_until"])
        self.env.cr.execute(
            SQL("SELECT queryid FROM ipai_ops_pgss_query WHERE environment_id = %s", environment.id)
        )
        known = {int(row[0]) for row in self.env.cr.fetchall()}
        sample = read_statements(server, environment.database_name, known=known)
        previous = Sample.from_state(environment.pgss_state) if environment.pgss_state else None
        deltas = statement_deltas(previous, sample)
        taken_at = utc_naive(sample.taken_at)  # the server's now(), as Odoo stores times
        self._store_texts(environment, sample.texts)
        self._store_deltas(environment, taken_at, deltas.rows)
        self._roll_up_days(environment, taken_at)
        self._set_on_environment(environment, "pgss_state", json.dumps(sample.as_state()))
        size = self.env["ipai.ops.size.sample"]._take(environment, server, taken_at, deltas.rows)
        self.env["ipai.ops.module.change"]._note(environment, size.pop("modules_digest"), taken_at)
        self._purge_old_samples(environment, taken_at)
        self.env["ipai.ops.alert"]._evaluate(environment, size)
        if deltas.evicted:
            self._set_on_environment(environment, "pgss_evicted_at", taken_at)
        recreated = sum(1 for row in deltas.rows if row["recreated"])
        flags = [
            flag
            for flag, on in (
                (self.env._("stats reset"), deltas.reset),
                (self.env._("server restarted"), deltas.restart),
                (self.env._("entries evicted: figures are lower bounds"), deltas.evicted),
                (self.env._("%(n)s statement(s) reset or re-created", n=recreated), recreated),
            )
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
            self.env.cr.execute_values(
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
        self.env.cr.copy_expert(_COPY_SAMPLE, io.StringIO(data))  # COPY: the fastest way in

    def _roll_up_days(self, environment, now) -> None:
        """Add the samples since the last roll-up to the daily totals, once an hour: long
        windows read a few thousand daily rows instead of millions of samples."""
        since = environment.pgss_rolled_up_until
        if since and now - since < ROLLUP_EVERY:
            return
        self.env.cr.execute(
            SQL(_ROLL_UP_DAYS, env=environment.id, since=since or datetime.min, until=now)
        )
        self._set_on_environment(environment, "pgss_rolled_up_until", now)

    def _set_on_environment(self, environment, column: str, value) -> None:
        """One monitoring column of the environment, in one UPDATE: the system's own
        bookkeeping, and for the state of 5,000 statements the ORM's round trip costs
        more than the sample."""
        self.env.cr.execute(
            SQL(
                "UPDATE ipai_ops_environment SET %s = %s WHERE id = %s",
                SQL.identifier(column),
                value,
                environment.id,
            )
        )
        environment.invalidate_recordset([column])

    def _purge_old_samples(self, environment, now) -> None:
        self.env.cr.execute(
            SQL(
                "DELETE FROM ipai_ops_pgss_delta WHERE environment_id = %s"
                " AND granularity = 'sample' AND taken_at < %s",
                environment.id,
                now - SAMPLE_RETENTION,
            )
        )
