from odoo import api, fields, models

LINE_CHOICES = [("100", "100"), ("200", "200"), ("1000", "1,000"), ("5000", "5,000")]


class IpaiOpsInstanceLog(models.TransientModel):
    """The end of an instance's log, read from its host when asked (never stored longer
    than the wizard lives)."""

    _name = "ipai.ops.instance.log"
    _description = "Operations: an instance's log"

    environment_id = fields.Many2one("ipai.ops.environment", required=True, readonly=True)
    lines = fields.Selection(LINE_CHOICES, default="200", required=True)
    text = fields.Text(readonly=True)
    read_at = fields.Datetime(readonly=True)

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            environment = self.env["ipai.ops.environment"].browse(vals.get("environment_id"))
            environment._check_may_read_logs()
            vals.pop("text", None)
            vals.pop("read_at", None)
        return super().create(vals_list)

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
