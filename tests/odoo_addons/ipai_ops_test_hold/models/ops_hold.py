"""The ``hold`` run kind: a run that stops at a known point for as long as a test says.

``action_run_hold(token, seconds)`` queues one as the calling user (a developer may, as
for a check). Executing, the run writes its environment, so that its transaction holds
that row as a real operation's does, says so in ``<dir>/<token>.reached`` and then
waits while ``<dir>/<token>`` exists (at most ``MAX_HOLD`` seconds), or ``seconds``
without a token. ``<dir>`` is the ``ipai_ops_test_hold.dir`` parameter.
"""

import time
from pathlib import Path

from odoo import models

from odoo.addons.ipai_ops_core.run_kinds import RunKind

MAX_HOLD = 120  # seconds: a test that forgets its token does not hold a lane for good


class IpaiOpsRun(models.Model):
    _inherit = "ipai.ops.run"

    def _run_kinds(self):
        return {
            **super()._run_kinds(),
            "hold": RunKind(
                "hold", "Hold", model="ipai.ops.environment", method="_run_hold", retention_days=1
            ),
        }


class IpaiOpsEnvironment(models.Model):
    _inherit = "ipai.ops.environment"

    def action_run_hold(self, token="", seconds=0.0):
        run = self._queue_run("hold", {"token": token, "seconds": float(seconds)})
        return run.id

    def _run_hold(self, run):
        params = run.params or {}
        directory = Path(self.env["ir.config_parameter"].sudo().get_param("ipai_ops_test_hold.dir"))
        run.environment_id.sudo().write({"last_check_summary": f"held by {run.name}"})
        self.env.flush_all()  # the row is the run's transaction's from here on
        token = params.get("token")
        if token:
            (directory / f"{token}.reached").write_text(run.name)
            deadline = time.monotonic() + MAX_HOLD
            while (directory / token).exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        else:
            time.sleep(params.get("seconds") or 0)
        return {"summary": "Released."}
