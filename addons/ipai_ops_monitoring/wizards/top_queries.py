from datetime import datetime, timedelta

from odoo import api, fields, models
from odoo.fields import Command
from odoo.tools import SQL

from ipai_ops.activity import read_activity
from ipai_ops.catalog import database_report

WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7),
           "30d": timedelta(days=30)}  # fmt: skip
TOP = 50  # statements listed

# daily totals for long windows, plus the samples not rolled up into them yet
_TOP_SQL = """
WITH rows AS (
    SELECT * FROM ipai_ops_pgss_delta
     WHERE environment_id = %(env)s AND granularity = %(grain)s
       AND taken_at >= %(prev_start)s AND taken_at < %(end)s
    UNION ALL
    SELECT * FROM ipai_ops_pgss_delta
     WHERE %(grain)s = 'day' AND environment_id = %(env)s AND granularity = 'sample'
       AND taken_at > %(rolled_up)s AND taken_at >= %(prev_start)s AND taken_at < %(end)s),
cur AS (
    SELECT queryid, sum(calls) AS calls, sum(total_ms) AS total_ms, max(max_ms) AS max_ms,
           sum(rows) AS rows, sum(shared_blks_hit) AS hit, sum(shared_blks_read) AS read,
           sum(temp_blks_written) AS temp
      FROM rows WHERE taken_at >= %(start)s
     GROUP BY queryid
     ORDER BY sum(total_ms) DESC
     LIMIT %(top)s),
prev AS (
    SELECT queryid, sum(calls) AS calls, sum(total_ms) AS total_ms
      FROM rows
     WHERE taken_at < %(start)s AND queryid IN (SELECT queryid FROM cur)
     GROUP BY queryid)
SELECT cur.queryid, cur.calls, cur.total_ms, cur.max_ms, cur.rows, cur.hit, cur.read, cur.temp,
       CASE WHEN prev.calls > 0 THEN prev.total_ms / prev.calls END AS prev_mean_ms
  FROM cur LEFT JOIN prev USING (queryid)
 ORDER BY cur.total_ms DESC
"""


class IpaiOpsTopQueries(models.TransientModel):
    """The statements that cost the most time in a window, beside the window before."""

    _name = "ipai.ops.top.queries"
    _description = "Operations: top queries"

    environment_id = fields.Many2one("ipai.ops.environment", required=True)
    window = fields.Selection(
        [("1h", "Last hour"), ("24h", "Last 24 hours"), ("7d", "Last 7 days"),
         ("30d", "Last 30 days")],
        default="24h",
        required=True,
    )  # fmt: skip
    line_ids = fields.One2many("ipai.ops.top.queries.line", "wizard_id")
    may_see_text = fields.Boolean(compute="_compute_may_see_text")

    @api.depends("environment_id")
    @api.depends_context("uid")
    def _compute_may_see_text(self):
        for wizard in self:
            role = wizard.environment_id.project_id._effective_role(self.env.user)
            wizard.may_see_text = role in ("tester", "admin")

    def action_refresh(self):
        self.ensure_one()
        self.environment_id.check_access("read")
        self.line_ids.unlink()
        self.env["ipai.ops.top.queries.line"].create(self._lines())
        return {"type": "ir.actions.act_window", "res_model": self._name, "res_id": self.id,
                "view_mode": "form", "target": "current"}  # fmt: skip

    def _lines(self) -> list[dict]:
        span = WINDOWS[self.window]
        end = fields.Datetime.now() + timedelta(seconds=1)  # now() drops the microseconds
        grain = "sample" if span < timedelta(days=1) else "day"
        if grain == "day":  # whole days, today included
            end = end.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        start = end - span
        self.env.cr.execute(
            SQL(_TOP_SQL, env=self.environment_id.id, grain=grain, start=start, end=end,
                prev_start=start - span, top=TOP,
                rolled_up=self.environment_id.pgss_rolled_up_until or datetime.min)
        )  # fmt: skip
        rows = self.env.cr.fetchall()
        texts = self._texts([row[0] for row in rows]) if self.may_see_text else {}
        lines = []
        for queryid, calls, total, max_ms, n_rows, hit, read, temp, prev_mean in rows:
            mean = total / calls if calls else 0.0
            lines.append(
                {
                    "wizard_id": self.id,
                    "queryid": queryid,
                    "query": texts.get(queryid, self.env._("(hidden: tester role needed)")),
                    "calls": calls,
                    "total_ms": total,
                    "mean_ms": mean,
                    "max_ms": max_ms,
                    "rows": n_rows,
                    "hit_pct": 100.0 * hit / (hit + read) if hit + read else 100.0,
                    "temp_blks": temp,
                    "prev_mean_ms": prev_mean or 0.0,
                    "change_pct": 100.0 * (mean / prev_mean - 1) if prev_mean else 0.0,
                }
            )
        return lines

    def _texts(self, queryids: list[str]) -> dict:
        queries = self.env["ipai.ops.pgss.query"].search(
            [("environment_id", "=", self.environment_id.id), ("queryid", "in", queryids)]
        )
        return {q.queryid: q.text for q in queries}


class IpaiOpsTopQueriesLine(models.TransientModel):
    _name = "ipai.ops.top.queries.line"
    _description = "Operations: top query"
    _order = "total_ms desc"

    wizard_id = fields.Many2one("ipai.ops.top.queries", required=True, ondelete="cascade")
    queryid = fields.Char()
    query = fields.Text()
    calls = fields.Float()
    total_ms = fields.Float(string="Total (ms)")
    mean_ms = fields.Float(string="Mean (ms)")
    max_ms = fields.Float(string="Max (ms)")
    rows = fields.Float()
    hit_pct = fields.Float(string="Cache hit (%)")
    temp_blks = fields.Float(string="Temp blocks")
    prev_mean_ms = fields.Float(string="Mean before (ms)")
    change_pct = fields.Float(string="Change (%)")


class IpaiOpsActivity(models.TransientModel):
    """Who is connected to an environment's server, what runs and what is blocked."""

    _name = "ipai.ops.activity"
    _description = "Operations: activity"

    environment_id = fields.Many2one("ipai.ops.environment", required=True)
    line_ids = fields.One2many("ipai.ops.activity.line", "activity_id")

    def action_refresh(self):
        self.ensure_one()
        self.line_ids.unlink()
        sessions = read_activity(self.environment_id.server_id._engine_spec())
        self.env["ipai.ops.activity.line"].create(
            [
                {
                    "activity_id": self.id,
                    "pid": s["pid"],
                    "database": s["datname"],
                    "role": s["usename"],
                    "application": s["application_name"],
                    "state": s["state"],
                    "wait": " / ".join(filter(None, [s["wait_event_type"], s["wait_event"]])),
                    "query_seconds": s["query_seconds"] or 0,
                    "blocked_by": ", ".join(map(str, s["blocked_by"])),
                    "waiting_for": s.get("waiting_for"),
                    "query": s["query"],
                }
                for s in sessions
            ]
        )
        return {"type": "ir.actions.act_window", "res_model": self._name, "res_id": self.id,
                "view_mode": "form", "target": "current"}  # fmt: skip


class IpaiOpsActivityLine(models.TransientModel):
    _name = "ipai.ops.activity.line"
    _description = "Operations: session"
    _order = "query_seconds desc"

    activity_id = fields.Many2one("ipai.ops.activity", required=True, ondelete="cascade")
    pid = fields.Integer()
    database = fields.Char()
    role = fields.Char()
    application = fields.Char()
    state = fields.Char()
    wait = fields.Char()
    query_seconds = fields.Float(string="Running for (s)")
    blocked_by = fields.Char()
    waiting_for = fields.Char()
    query = fields.Text()

    def _signal(self, terminate: bool):
        self.ensure_one()
        self.activity_id.environment_id._queue_run(
            "signal", {"pid": self.pid, "terminate": terminate}
        )
        return self.activity_id.action_refresh()

    def action_cancel(self):
        return self._signal(terminate=False)

    def action_terminate(self):
        return self._signal(terminate=True)


class IpaiOpsTablesReport(models.TransientModel):
    """Largest tables with their dead-row bloat, tables read mostly by sequential scans,
    and indexes never used — what to vacuum, index or drop."""

    _name = "ipai.ops.tables.report"
    _description = "Operations: tables and indexes"

    environment_id = fields.Many2one("ipai.ops.environment", required=True)
    database_mb = fields.Float(string="Database (MiB)", readonly=True)
    table_ids = fields.One2many("ipai.ops.tables.report.table", "report_id")
    index_ids = fields.One2many("ipai.ops.tables.report.index", "report_id")

    def action_refresh(self):
        self.ensure_one()
        self.environment_id.check_access("read")
        environment = self.environment_id.sudo()
        found = database_report(environment._engine_spec(), environment.database_name)
        seq_heavy = {t["name"] for t in found["seq_scan_heavy"]}
        self.table_ids.unlink()
        self.index_ids.unlink()
        self.write(
            {
                "database_mb": found["size_bytes"] / 1024**2,
                "table_ids": [
                    Command.create(
                        {
                            "name": f"{t['schema']}.{t['name']}",
                            "total_mb": t["total_bytes"] / 1024**2,
                            "live_rows": t["live_rows"],
                            "dead_rows": t["dead_rows"],
                            "bloat_pct": 100 * t["bloat_ratio"],
                            "seq_scan": t["seq_scan"],
                            "idx_scan": t["idx_scan"],
                            "seq_scan_heavy": t["name"] in seq_heavy,
                        }
                    )
                    for t in found["tables"]
                ],
                "index_ids": [
                    Command.create(
                        {
                            "name": i["name"],
                            "table": i["table_name"],
                            "size_mb": i["bytes"] / 1024**2,
                        }
                    )
                    for i in found["unused_indexes"]
                ],
            }
        )
        return {"type": "ir.actions.act_window", "res_model": self._name, "res_id": self.id,
                "view_mode": "form", "target": "current"}  # fmt: skip


class IpaiOpsTablesReportTable(models.TransientModel):
    _name = "ipai.ops.tables.report.table"
    _description = "Operations: table"
    _order = "total_mb desc"

    report_id = fields.Many2one("ipai.ops.tables.report", required=True, ondelete="cascade")
    name = fields.Char()
    total_mb = fields.Float(string="Size with indexes (MiB)")
    live_rows = fields.Float()
    dead_rows = fields.Float()
    bloat_pct = fields.Float(string="Dead rows (%)")
    seq_scan = fields.Float(string="Sequential scans")
    idx_scan = fields.Float(string="Index scans")
    seq_scan_heavy = fields.Boolean(string="Mostly sequential scans")


class IpaiOpsTablesReportIndex(models.TransientModel):
    _name = "ipai.ops.tables.report.index"
    _description = "Operations: unused index"
    _order = "size_mb desc"

    report_id = fields.Many2one("ipai.ops.tables.report", required=True, ondelete="cascade")
    name = fields.Char()
    table = fields.Char()
    size_mb = fields.Float(string="Size (MiB)")
