from odoo import models

from odoo.addons.ipai_ops_core.models.ops_environment import UNMASKED_CLASSES


class IpaiOpsRestoreWizard(models.TransientModel):
    """With staging installed, production data restored into a new environment goes
    through the copy pipeline: neutralized, masked and checked before it is usable."""

    _inherit = "ipai.ops.restore.wizard"

    def _check_new_restore_role(self) -> None:
        if self.backup_id.data_class not in UNMASKED_CLASSES:
            return super()._check_new_restore_role()
        return self.backup_id.environment_id._check_may_create_copy(
            self.new_stage, self.backup_id.data_class
        )

    def _queue_new_restore(self):
        backup = self.backup_id
        if backup.data_class not in UNMASKED_CLASSES:
            return super()._queue_new_restore()
        source = backup.environment_id
        copy = source._new_copy(
            self.new_stage, self.new_database, name=self.new_name, backup=backup
        ).sudo(False)
        return copy._queue_checked_run("clone")

    def _new_restore_explanation(self) -> str:
        if self.backup_id.data_class not in UNMASKED_CLASSES:
            return super()._new_restore_explanation()
        return self.env._(
            "The backup is copied into a new database %(db)s as staging copies are: restored "
            "under a scratch name, neutralized, masked and proven free of the original personal "
            "data, and only then given its name.",
            db=self.new_database or "…",
        )
