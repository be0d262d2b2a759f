from odoo import fields, models


class IpaiOpsInstanceUpdate(models.TransientModel):
    """Which modules to update, behind the environment's pre-update backup."""

    _name = "ipai.ops.instance.update"
    _description = "Operations: update an instance's modules"
    _inherit = ["ipai.ops.wizard.access"]

    environment_id = fields.Many2one("ipai.ops.environment", required=True)
    modules = fields.Char(
        required=True, help="Technical names, comma-separated (e.g. sale_custom,stock_extra)."
    )

    def action_update(self):
        self.ensure_one()
        environment = self.environment_id
        names = environment._valid_modules(self.modules.split(","))
        environment._queue_instance("instance_update", {"modules": names})
        return environment.action_open_runs()
