from odoo import api, models

from odoo.addons.ipai_ops_core.run_kinds import RunKind


class IpaiOpsRun(models.Model):
    _inherit = "ipai.ops.run"

    def _run_kinds(self) -> dict[str, RunKind]:
        build = RunKind("build", self.env._("Build"), "ipai.ops.build", "_run_build",
                        on_failure="_on_build_failed", max_attempts=1)  # fmt: skip
        return {**super()._run_kinds(), "build": build}

    def _backup_gated_kinds(self) -> set[str]:
        return super()._backup_gated_kinds() | {"build"}

    def _approved(self) -> bool:
        """A restore the system queued after a failed production update stands approved
        by the project's setting, which an operations administrator made: that backup,
        of that environment, after that build (runs are made by the server only)."""
        return super()._approved() or self._restores_failed_build()

    def _restores_failed_build(self) -> bool:
        params = self.params or {}
        build = self.env["ipai.ops.build"].sudo().browse(params.get("failed_build_id")).exists()
        return bool(
            self.kind == "restore" and not self.requester_id and build
            and build.state == "failed" and build.environment_id == self.environment_id
            and params.get("mode") == "replace"
            and build.run_id.pre_update_backup_id.id == params.get("backup_id")
            and build.project_id.restore_on_failed_update
        )  # fmt: skip

    @api.model
    def _cancel_runs_whose_predecessor_failed(self) -> None:
        """A production build whose backup failed never ran: the build failed."""
        result = super()._cancel_runs_whose_predecessor_failed()
        self.env["ipai.ops.build"].sudo().search(
            [("state", "=", "queued"), ("run_id.state", "=", "cancelled")]
        ).state = "failed"
        return result
