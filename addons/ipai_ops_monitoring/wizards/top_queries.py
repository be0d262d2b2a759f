from datetime import datetime, timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from ipai_ops.stats import statement_text, top_statements

from ..models.ops_alert import REGRESSION_MIN_CALLS
from .reopen import reopen, titled

WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7),
           "30d": timedelta(days=30)}  # fmt: skip
TOP = 50  # statements listed
REGRESSION_MIN_TOTAL_MS = 1000  # a statement costing less in a window is not called slower

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
    HAVING coalesce(sum(total_ms) / nullif(sum(calls), 0), 0) >= %(slower)s
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

# each statement's mean time before and after a module change, from the samples around it
# (the sample that saw the change mixes both and is left out)
_AROUND_SQL = """
SELECT queryid,
       sum(total_ms) FILTER (WHERE taken_at < %(at)s)
         / nullif(sum(calls) FILTER (WHERE taken_at < %(at)s), 0),
       sum(total_ms) FILTER (WHERE taken_at > %(at)s)
         / nullif(sum(calls) FILTER (WHERE taken_at > %(at)s), 0)
  FROM ipai_ops_pgss_delta
 WHERE environment_id = %(env)s AND granularity = 'sample' AND queryid = ANY(%(ids)s)
   AND taken_at >= %(since)s AND taken_at < %(end)s
 GROUP BY queryid
"""


class IpaiOpsTopQueries(models.TransientModel):
    """The statements that cost the most time in a window, beside the window before."""

    _name = "ipai.ops.top.queries"
    _inherit = ["ipai.ops.wizard.access"]
    _description = "Operations: top queries"

    environment_id = fields.Many2one("ipai.ops.environment", required=True)

    @api.depends("environment_id")
    def _compute_display_name(self):
        titled(self, self.env._("Top queries"), "environment_id")

    window = fields.Selection(
        [("1h", "Last hour"), ("24h", "Last 24 hours"), ("7d", "Last 7 days"),
         ("30d", "Last 30 days"), ("live", "Now: the server's counters since their reset")],
        default="24h",
        required=True,
    )  # fmt: skip
    slower_than_ms = fields.Float(
        string="Slower than (ms)",
        help="Only the statements whose mean time is at least this (PgHero's slow queries). "
        "pg_stat_statements keeps no percentiles: there is no p95 to filter by.",
    )
    explain_values = fields.Text(
        string="Explain with values",
        help="One value per line, for $1, $2…: Explain then plans the statement for these "
        "values. Empty: the generic plan, good for any values.",
    )
    line_ids = fields.One2many("ipai.ops.top.queries.line", "wizard_id")
    may_see_text = fields.Boolean(compute="_compute_may_see_text")
    lower_bound_note = fields.Char(compute="_compute_lower_bound_note")

    @api.depends("environment_id", "window")
    def _compute_lower_bound_note(self):
        for wizard in self:
            evicted = wizard.environment_id.pgss_evicted_at
            span = WINDOWS.get(wizard.window or "24h")
            start = fields.Datetime.now() - span if span else datetime.min
            wizard.lower_bound_note = (
                self.env._(
                    "pg_stat_statements evicted entries in this window (last on %(when)s UTC): "
                    "the figures are lower bounds. Raise pg_stat_statements.max.",
                    when=fields.Datetime.to_string(evicted),
                )
                if evicted and evicted >= start
                else False
            )

    @api.depends("environment_id")
    @api.depends_context("uid")
    def _compute_may_see_text(self):
        for wizard in self:
            wizard.may_see_text = wizard.environment_id._sees_statements()

    def action_refresh(self):
        self.ensure_one()
        self.environment_id.check_access("read")
        self.line_ids.unlink()
        self.env["ipai.ops.top.queries.line"].create(self._lines())
        return reopen(self)

    def _lines(self) -> list[dict]:
        if self.window == "live":
            return self._live_lines()
        span = WINDOWS[self.window]
        end = fields.Datetime.now() + timedelta(seconds=1)  # now() drops the microseconds
        # samples (kept 14 days) for the last hour and day: "24 hours" means the last 24
        # hours, not the calendar days that daily totals would round it to
        grain = "sample" if span <= timedelta(days=1) else "day"
        if grain == "day":  # whole days, today included
            end = end.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        start = end - span
        self.env.cr.execute(
            SQL(_TOP_SQL, env=self.environment_id.id, grain=grain, start=start, end=end,
                prev_start=start - span, top=TOP, slower=self.slower_than_ms or 0.0,
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
                    "hit_pct": _hit_pct(hit, read),
                    "temp_blks": temp,
                    "prev_mean_ms": prev_mean or 0.0,
                    "change_pct": 100.0 * (mean / prev_mean - 1) if prev_mean else 0.0,
                }
            )
            lines[-1]["regressed"] = self._regressed(lines[-1])
        self._tie_to_module_change(lines, start, end)
        return lines

    def _tie_to_module_change(self, lines: list[dict], start, end) -> None:
        """A regressed statement is tied to the window's last module change when it is
        slower after the change than before it, by the environment's threshold."""
        regressed = {line["queryid"]: line for line in lines if line["regressed"]}
        environment = self.environment_id
        change = self.env["ipai.ops.module.change"]._latest_between(environment, start, end)
        if not regressed or not change:
            return
        self.env.cr.execute(
            SQL(_AROUND_SQL, env=environment.id, at=change.changed_at, ids=list(regressed),
                since=start - (end - start), end=end)
        )  # fmt: skip
        factor = 1 + environment.alert_regression_pct / 100
        for queryid, before, after in self.env.cr.fetchall():
            if before and after and after > before * factor:
                regressed[queryid]["module_change_id"] = change.id

    def _live_lines(self) -> list[dict]:
        """pg_stat_statements of the environment's own database, on its own server, now."""
        environment = self.environment_id.sudo()
        # through the server's maintenance database, where the extension is installed
        server = environment.server_id._engine_spec()
        rows = top_statements(
            server, environment.database_name, limit=TOP, min_mean_ms=self.slower_than_ms or 0.0
        )
        hidden = self.env._("(hidden: tester role needed)")
        return [
            {
                "wizard_id": self.id,
                "queryid": str(row["queryid"]),
                "query": row["query"] if self.may_see_text else hidden,
                "calls": row["calls"],
                "total_ms": row["total_ms"],
                "mean_ms": row["mean_ms"],
                "max_ms": row["max_ms"],
                "rows": row["rows"],
                "hit_pct": _hit_pct(row["shared_blks_hit"], row["shared_blks_read"]),
                "temp_blks": row["temp_blks_written"],
            }
            for row in rows
        ]

    def _statement(self, queryid: str):
        """The recorded statement of this environment, recorded now for a live one with the
        text the server holds (never the line's: lines are editable by their creator)."""
        Query = self.env["ipai.ops.pgss.query"].sudo()
        environment = self.environment_id.sudo()
        found = Query.search([("environment_id", "=", environment.id), ("queryid", "=", queryid)])
        if found:
            return found
        text = queryid.lstrip("-").isdigit() and statement_text(
            environment.server_id._engine_spec(), environment.database_name, int(queryid)
        )
        if not text:
            raise UserError(self.env._("The server no longer holds this statement: refresh."))
        return Query.create({"environment_id": environment.id, "queryid": queryid, "text": text})

    def _regressed(self, line: dict) -> bool:
        """Slower than the window before, and often and long enough to matter: a
        statement of a few calls or milliseconds is noise, not a regression."""
        return (
            line["change_pct"] > self.environment_id.alert_regression_pct
            and line["calls"] >= REGRESSION_MIN_CALLS
            and line["total_ms"] >= REGRESSION_MIN_TOTAL_MS
        )

    def _texts(self, queryids: list[str]) -> dict:
        queries = self.env["ipai.ops.pgss.query"].search(
            [("environment_id", "=", self.environment_id.id), ("queryid", "in", queryids)]
        )
        return {q.queryid: q.text for q in queries}


def _hit_pct(hit: float, read: float) -> float:
    return 100.0 * hit / (hit + read) if hit + read else 100.0


class IpaiOpsTopQueriesLine(models.TransientModel):
    _name = "ipai.ops.top.queries.line"
    _description = "Operations: top query"
    _order = "total_ms desc"

    wizard_id = fields.Many2one("ipai.ops.top.queries", required=True, ondelete="cascade")
    queryid = fields.Char()
    query = fields.Text()
    calls = fields.Float(digits=(16, 0))
    total_ms = fields.Float(string="Total (ms)")
    mean_ms = fields.Float(string="Mean (ms)")
    max_ms = fields.Float(string="Max (ms)")
    rows = fields.Float(digits=(16, 0))
    hit_pct = fields.Float(string="Cache hit (%)")
    temp_blks = fields.Float(string="Temp blocks", digits=(16, 0))
    prev_mean_ms = fields.Float(string="Mean before (ms)")
    change_pct = fields.Float(string="Change (%)")
    regressed = fields.Boolean(help="Slower than before, with enough calls and time to matter.")
    module_change_id = fields.Many2one(
        "ipai.ops.module.change",
        string="Slower since",
        help="The module update after which this statement became slower.",
    )

    def action_explain(self):
        """The statement's plan, from a copy of the environment's data; kept with its text."""
        self.ensure_one()
        wizard = self.wizard_id
        wizard.environment_id.check_access("read")
        if not wizard.may_see_text:
            raise AccessError(self.env._("Explaining a statement needs the tester role."))
        statement = wizard._statement(self.queryid)
        values = wizard.explain_values.splitlines() if wizard.explain_values else None
        statement._explain_in(wizard.environment_id._explain_target(), values)
        return {
            "type": "ir.actions.act_window",
            "res_model": statement._name,
            "res_id": statement.id,
            "view_mode": "form",
            "target": "new",
        }
