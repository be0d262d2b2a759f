from odoo import models

from odoo.addons.ipai_ops_core.run_kinds import RunKind


class IpaiOpsRun(models.Model):
    _inherit = "ipai.ops.run"

    def _run_kinds(self) -> dict[str, RunKind]:
        return {
            **super()._run_kinds(),
            "snapshot": RunKind(
                "snapshot", self.env._("Monitoring snapshot"), "ipai.ops.pgss.delta",
                "_run_snapshot",
                max_attempts=1,  # the next sample comes in minutes anyway
                retention_days=14, in_operations_log=False,
            ),
            "signal": RunKind(
                "signal", self.env._("Cancel or terminate a backend"), "ipai.ops.environment",
                "_run_signal", min_role="admin",
                max_attempts=1,  # a pid means nothing minutes later
                retention_days=365,
            ),
        }  # fmt: skip
