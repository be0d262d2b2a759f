from odoo import api, fields, models

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
