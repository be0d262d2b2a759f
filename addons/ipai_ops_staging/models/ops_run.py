from odoo import models

from odoo.addons.ipai_ops_core.run_kinds import RunKind


class IpaiOpsRun(models.Model):
    _inherit = "ipai.ops.run"

    def _run_kinds(self) -> dict[str, RunKind]:
        environment = "ipai.ops.environment"
        return {
            **super()._run_kinds(),
            "clone": RunKind("clone", self.env._("Copy"), environment, "_run_clone",
                             on_failure="_on_clone_failed"),
            "init": RunKind("init", self.env._("New database"), environment, "_run_init",
                            on_failure="_on_clone_failed"),
            "retire": RunKind("retire", self.env._("Drop old builds"), environment,
                              "_run_retire", min_role="admin"),
        }  # fmt: skip
