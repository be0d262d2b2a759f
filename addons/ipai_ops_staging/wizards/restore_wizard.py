from odoo import models

from odoo.addons.ipai_ops_core.models.ops_environment import UNMASKED_CLASSES


class IpaiOpsRestoreWizard(models.TransientModel):
    """With staging installed, a backup restored into a new environment is a copy made
    from that backup: neutralized (and masked, for production data) and checked before
    it is usable, with the roles of copies."""

    _inherit = "ipai.ops.restore.wizard"

    def _check_new_restore_role(self) -> None:
        return self.backup_id.environment_id._check_may_create_copy(
            self.new_stage, self.backup_id.data_class
        )

    def _queue_new_restore(self):
        backup = self.backup_id
        source = backup.environment_id
        source._check_copy_can_start("backup")  # as the copy wizard: refused before it exists
        copy = source._new_copy(
            self.new_stage, self.new_database, name=self.new_name, backup=backup
        ).sudo(False)
        return copy._queue_checked_run("clone")

    def _new_restore_explanation(self) -> str:
        if self.backup_id.data_class not in UNMASKED_CLASSES:
            return self.env._(
                "The backup is copied into a new database %(db)s as copies are: restored under "
                "a scratch name and neutralized, and only then given its name.",
                db=self.new_database or "…",
            )
        return self.env._(
            "The backup is copied into a new database %(db)s as staging copies are: restored "
            "under a scratch name, neutralized, masked and proven free of the original personal "
            "data, and only then given its name.",
            db=self.new_database or "…",
        )
