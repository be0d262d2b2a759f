from odoo import models


class OpsBackup(models.Model):
    _inherit = "ipai.ops.backup"

    def _run_restore(self, run) -> dict:
        """A restore that replaced a running environment's data restarts its instance:
        the restore cut its database connections and moved its filestore directory away,
        so until it restarts it would write new attachments where no backup looks."""
        outcome = super()._run_restore(run)
        environment = run.environment_id
        if (run.params or {}).get("mode") == "replace" and environment.instance_state == "running":
            environment._restart_on_restored_data(run)
        return outcome
