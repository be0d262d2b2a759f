from odoo import fields, models


class IpaiOpsProject(models.Model):
    _inherit = "ipai.ops.project"

    last_backup_at = fields.Datetime(
        compute="_compute_last_backup", help="When the project's last good backup finished."
    )
    last_backup_environment_id = fields.Many2one(
        "ipai.ops.environment", string="Last backup of", compute="_compute_last_backup"
    )

    def _compute_last_backup(self):
        for project in self:
            last = self.env["ipai.ops.backup"].sudo().search(
                [("project_id", "=", project.id), ("state", "=", "done")],
                order="finished_at desc", limit=1,
            )  # fmt: skip
            project.last_backup_at = last.finished_at
            project.last_backup_environment_id = last.environment_id

    def _health_problems(self) -> list[str]:
        problems = super()._health_problems()
        now = fields.Datetime.now()
        for environment in self.sudo().environment_ids.filtered("backup_enabled"):
            if late := environment._backup_staleness(now):
                problems.append(late)
        return problems
