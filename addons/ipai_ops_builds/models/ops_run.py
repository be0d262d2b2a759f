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

    @api.model
    def _cancel_runs_whose_predecessor_failed(self) -> None:
        """A production build whose backup failed never ran: the build failed."""
        result = super()._cancel_runs_whose_predecessor_failed()
        self.env["ipai.ops.build"].sudo().search(
            [("state", "=", "queued"), ("run_id.state", "=", "cancelled")]
        ).state = "failed"
        return result
