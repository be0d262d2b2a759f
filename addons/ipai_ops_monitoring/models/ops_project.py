from odoo import models


class IpaiOpsProject(models.Model):
    _inherit = "ipai.ops.project"

    def _health_problems(self) -> list[str]:
        problems = super()._health_problems()
        alerts = (
            self.env["ipai.ops.alert"]
            .sudo()
            .search(
                [
                    ("project_id", "=", self.id),
                    ("state", "=", "open"),
                    ("condition", "!=", "no_backup"),
                ]
            )
        )  # a late backup is the backup addon's to say
        problems += [f"{alert.environment_id.name}: {alert.message}" for alert in alerts]
        return problems
