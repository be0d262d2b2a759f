from odoo import api, fields, models
from odoo.fields import Command

from ipai_ops.health import replication_report, settings_review

from .reopen import reopen, titled

REVIEW_STATUS = [("ok", "OK"), ("review", "Worth a look"), ("warning", "Warning")]


class IpaiOpsServerReview(models.TransientModel):
    """A database server's settings worth a look (each with the reason) and its
    replication: standbys and their lag, slots and the WAL they hold back.

    Server-wide facts: for operations administrators, like the server record itself.
    """

    _name = "ipai.ops.server.review"
    _inherit = ["ipai.ops.wizard.access"]
    _description = "Operations: server settings and replication"

    server_id = fields.Many2one("ipai.ops.db.server", required=True)

    @api.depends("server_id")
    def _compute_display_name(self):
        titled(self, self.env._("Settings and replication"), "server_id")

    is_standby = fields.Boolean(readonly=True)
    replay_delay_s = fields.Float(string="Replay delay (s)", readonly=True)
    setting_ids = fields.One2many("ipai.ops.server.review.setting", "review_id")
    replica_ids = fields.One2many("ipai.ops.server.review.replica", "review_id")

    def action_refresh(self):
        self.ensure_one()
        self.server_id.check_access("write")  # what operations administrators may do
        spec = self.server_id.sudo()._engine_spec()
        replication = replication_report(spec)
        self.setting_ids.unlink()
        self.replica_ids.unlink()
        replicas = [
            {"name": s["application_name"] or s["client_addr"] or "?", "kind": "standby",
             "state": s["state"], "lag_bytes": s["replay_lag_bytes"] or 0,
             "lag_s": s["replay_lag_seconds"] or 0.0}
            for s in replication["standbys"]
        ] + [
            {"name": s["slot_name"], "kind": "slot",
             "state": "active" if s["active"] else "inactive",
             "lag_bytes": s["retained_bytes"] or 0}
            for s in replication["slots"]
        ]  # fmt: skip
        self.write(
            {
                "is_standby": replication["is_standby"],
                "replay_delay_s": replication["replay_delay"] or 0.0,
                "setting_ids": [Command.create(item) for item in settings_review(spec)],
                "replica_ids": [Command.create(item) for item in replicas],
            }
        )
        return reopen(self)


class IpaiOpsServerReviewSetting(models.TransientModel):
    _name = "ipai.ops.server.review.setting"
    _description = "Operations: a server setting worth a look"
    _order = "status desc, name"

    review_id = fields.Many2one("ipai.ops.server.review", required=True, ondelete="cascade")
    name = fields.Char()
    value = fields.Char()
    status = fields.Selection(REVIEW_STATUS)
    reason = fields.Char()


class IpaiOpsServerReviewReplica(models.TransientModel):
    _name = "ipai.ops.server.review.replica"
    _description = "Operations: a standby or replication slot"

    review_id = fields.Many2one("ipai.ops.server.review", required=True, ondelete="cascade")
    name = fields.Char()
    kind = fields.Selection([("standby", "Standby"), ("slot", "Replication slot")])
    state = fields.Char()
    lag_bytes = fields.Float(string="Behind / WAL held (bytes)")
    lag_s = fields.Float(string="Replay lag (s)")
