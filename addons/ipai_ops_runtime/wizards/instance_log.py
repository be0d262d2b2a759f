from odoo import api, fields, models
from odoo.exceptions import UserError

LINE_CHOICES = [("100", "100"), ("200", "200"), ("1000", "1,000"), ("5000", "5,000")]
SYSTEM_FIELDS = ("text", "read_at")


class IpaiOpsInstanceLog(models.TransientModel):
    """The end of an instance's log, read from its host when asked; only its creator
    reads it (a record rule), and only the server writes what it holds."""

    _name = "ipai.ops.instance.log"
    _description = "Operations: an instance's log"

    environment_id = fields.Many2one("ipai.ops.environment", required=True, readonly=True)
    lines = fields.Selection(LINE_CHOICES, default="200", required=True)
    text = fields.Text(readonly=True)
    read_at = fields.Datetime(readonly=True)

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            environment = self.env["ipai.ops.environment"].browse(
                vals.get("environment_id") or self.env.context.get("default_environment_id")
            )
            if len(environment) != 1:
                raise UserError(self.env._("Say which environment's log to read."))
            environment._check_may_read_logs()
            for name in SYSTEM_FIELDS:
                vals.pop(name, None)
        # what the log says comes from the host, never from the caller (context included)
        unset = {f"default_{name}": False for name in SYSTEM_FIELDS}
        return super(IpaiOpsInstanceLog, self.with_context(**unset)).create(vals_list)

    def write(self, vals):
        vals = {key: value for key, value in vals.items() if key == "lines"}
        return super().write(vals)

    def action_refresh(self):
        self.ensure_one()
        text = self.environment_id._instance_logs(int(self.lines))
        super().write({"text": text, "read_at": fields.Datetime.now()})
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    def action_download(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_url",
            "url": f"/ipai_ops/instance/{self.environment_id.id}/log?lines={self.lines}",
            "target": "self",
        }
