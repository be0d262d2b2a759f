from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

REGRESSION_MIN_CALLS = 10  # a statement must run this often in both periods to be compared

ALERT_CONDITIONS = [
    ("growth", "Database growth"),
    ("regression", "Query slower than last week"),
    ("long_query", "Long-running query"),
    ("blocked", "Blocked sessions"),
    ("cache_hit", "Cache hit ratio"),
    ("connections", "Connections near max_connections"),
    ("no_backup", "No recent backup"),
]


class IpaiOpsAlert(models.Model):
    """A condition that needs attention, open once until it clears (never one per sample)."""

    _name = "ipai.ops.alert"
    _description = "Operations: alert"
    _order = "state desc, opened_at desc"

    environment_id = fields.Many2one(
        "ipai.ops.environment", required=True, ondelete="cascade", index=True
    )
    project_id = fields.Many2one(related="environment_id.project_id", store=True, index=True)
    condition = fields.Selection(ALERT_CONDITIONS, required=True)
    state = fields.Selection(
        [("open", "Open"), ("closed", "Cleared")], default="open", required=True
    )
    opened_at = fields.Datetime(default=fields.Datetime.now, required=True)
    closed_at = fields.Datetime()
    value = fields.Float(help="The measured value when the alert was opened.")
    message = fields.Char(required=True)

    _one_open_per_condition = models.UniqueIndex(
        "(environment_id, condition) WHERE state = 'open'",
        "An alert for this condition is already open.",
    )

    @api.model
    def _update(self, environment, condition: str, active: bool, value: float, message: str):
        """Open the alert when the condition starts holding, close it when it stops."""
        current = self.search(
            [("environment_id", "=", environment.id), ("condition", "=", condition),
             ("state", "=", "open")], limit=1,
        )  # fmt: skip
        if active and not current:
            alert = self.create(
                {"environment_id": environment.id, "condition": condition, "value": value,
                 "message": message}
            )  # fmt: skip
            environment._notify_admins_once(
                self.env.ref("ipai_ops_monitoring.mail_activity_alert"), message
            )
            return alert
        if not active and current:
            current.write({"state": "closed", "closed_at": fields.Datetime.now()})
            environment.message_post(
                body=self.env._("Cleared: %(message)s", message=current.message),
                subtype_xmlid="mail.mt_note",
            )
            activity_type = self.env.ref("ipai_ops_monitoring.mail_activity_alert")
            environment.activity_ids.filtered(
                lambda a: a.activity_type_id == activity_type and a.summary == current.message[:120]
            ).action_feedback(feedback=self.env._("Cleared."))
        return current

    @api.model
    def _evaluate(self, environment, size: dict) -> None:
        """Open or clear each alert condition of an environment from its latest sample."""
        growth = self.env["ipai.ops.size.sample"]._growth_per_day(environment, size["database_mb"])
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
             self._regression_message(environment, slower) if slower else "")
        )  # fmt: skip
        late = environment._backup_staleness(fields.Datetime.now())
        checks.append(("no_backup", bool(late), 0, late or ""))
        for condition, active, value, message in checks:
            self._update(environment, condition, bool(active), value, message)

    def _regression_message(self, environment, slower) -> str:
        message = self.env._(
            "Statement %(q)s is %(pct).0f %% slower than last week.", q=slower[0], pct=slower[1]
        )
        now = fields.Datetime.now()
        change = self.env["ipai.ops.module.change"]._latest_between(
            environment, now - timedelta(days=1), now + timedelta(seconds=1)
        )
        if change:
            message += " " + self.env._(
                "Modules changed on %(when)s UTC: %(what)s.",
                when=fields.Datetime.to_string(change.changed_at),
                what=change.summary,
            )
        return message

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
