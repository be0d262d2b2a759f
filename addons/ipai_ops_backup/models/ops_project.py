from odoo import fields, models


class IpaiOpsProject(models.Model):
    _inherit = "ipai.ops.project"

    def _health_problems(self) -> list[str]:
        problems = super()._health_problems()
        now = fields.Datetime.now()
        for environment in self.sudo().environment_ids.filtered("backup_enabled"):
            if late := environment._backup_staleness(now):
                problems.append(late)
        return problems
