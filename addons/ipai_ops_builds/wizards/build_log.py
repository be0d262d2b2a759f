from odoo import api, fields, models
from odoo.exceptions import UserError


class IpaiOpsBuildLog(models.TransientModel):
    """A build's logs (checkout, install and tests, update, server start), read when
    asked by someone who may operate its environment; only its creator reads it (a
    record rule), and only the server writes what it holds."""

    _name = "ipai.ops.build.log"
    _description = "Operations: a build's logs"

    build_id = fields.Many2one("ipai.ops.build", required=True, readonly=True)
    text = fields.Text(readonly=True)

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            build = self.env["ipai.ops.build"].browse(vals.get("build_id"))
            if len(build) != 1 or not build.run_id:
                raise UserError(self.env._("Say which build's logs to read."))
            # the run's own checks: its environment's operators only (a log quotes data)
            vals["text"] = build.run_id._instance_log_text() or self.env._("No log was kept.")
        return super().create(vals_list)

    def write(self, vals):
        return super().write({})  # nothing a caller may change
