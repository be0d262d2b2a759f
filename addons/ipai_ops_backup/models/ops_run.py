from odoo import fields, models

from odoo.addons.ipai_ops_core.run_kinds import RunKind


class IpaiOpsRun(models.Model):
    _inherit = "ipai.ops.run"

    backup_id = fields.Many2one("ipai.ops.backup", readonly=True, ondelete="set null")

    def _run_kinds(self) -> dict[str, RunKind]:
        backup = "ipai.ops.backup"
        return {
            **super()._run_kinds(),
            "backup": RunKind("backup", self.env._("Backup"), backup, "_run_backup",
                              on_failure="_on_backup_failed"),
            "restore": RunKind("restore", self.env._("Restore"), backup, "_run_restore",
                               on_failure="_on_restore_failed"),
            "drill": RunKind("drill", self.env._("Restore drill"), backup, "_run_drill",
                             min_role="admin", on_failure="_on_drill_failed"),
            "prune": RunKind("prune", self.env._("Prune backups"), backup, "_run_prune",
                             min_role="admin", retention_days=90),
            "discard": RunKind("discard", self.env._("Discard the replaced database"),
                               "ipai.ops.environment", "_run_discard", min_role="admin"),
        }  # fmt: skip

    def _approved(self) -> bool:
        """Whether an approver accepted this run (production restores need it)."""
        approvals = self.env["ipai.ops.approval"].search([("run_id", "=", self.id)])
        return any(approval.state == "approved" for approval in approvals)
