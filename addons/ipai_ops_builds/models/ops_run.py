from odoo import models

from odoo.addons.ipai_ops_core.run_kinds import RunKind


class IpaiOpsRun(models.Model):
    _inherit = "ipai.ops.run"

    def _run_kinds(self) -> dict[str, RunKind]:
        build = RunKind("build", self.env._("Build"), "ipai.ops.build", "_run_build",
                        on_failure="_on_build_failed", max_attempts=1)  # fmt: skip
        return {**super()._run_kinds(), "build": build}
