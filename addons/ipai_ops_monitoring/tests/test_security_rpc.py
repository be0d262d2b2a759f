"""Activity and cancel/terminate, attacked over JSON-RPC by every role on every stage."""

from odoo.tests import tagged

from odoo.addons.ipai_ops_core.tests.common import OpsCase
from odoo.addons.ipai_ops_core.tests.rpc import Refused, RpcCase

STAGES = ("production", "staging", "development")


@tagged("post_install", "-at_install")
class TestSignalsOverRpc(RpcCase, OpsCase):
    def _signal(self, user, environment) -> bool:
        """Open the environment's activity and cancel a (made-up) session's query."""
        try:
            activity = self.call(
                user, "ipai.ops.activity", "create", [{"environment_id": environment.id}]
            )
            line = self.call(
                user, "ipai.ops.activity.line", "create",
                [{"activity_id": activity[0], "pid": 1, "database": environment.database_name}],
            )  # fmt: skip
            self.call(user, "ipai.ops.activity.line", "action_cancel", line)
        except Refused:
            return False
        return True

    def test_only_ops_administrators_see_activity_and_signal(self):
        users = {**self.members_a, "ops_admin": self.ops_admin, "outsider": self.outsider}
        for role, user in users.items():
            for stage in STAGES:
                with self.subTest(role=role, stage=stage):
                    before = self.env["ipai.ops.run"].sudo().search_count([("kind", "=", "signal")])
                    allowed = self._signal(user, self.envs_a[stage])
                    self.assertEqual(allowed, role == "ops_admin")
                    after = self.env["ipai.ops.run"].sudo().search_count([("kind", "=", "signal")])
                    self.assertEqual(after - before, int(allowed), "a run exactly when allowed")
