"""A run's progress, and what membership records on users, attacked over JSON-RPC by
every role."""

from odoo.tests import tagged

from .common import OpsCase
from .rpc import Refused, RpcCase


@tagged("post_install", "-at_install")
class TestProgressOverRpc(RpcCase, OpsCase):
    def test_progress_is_read_on_the_run_and_written_by_the_engine_only(self):
        environment = self.envs_a["development"]
        run = environment._queue_system_run("check")
        self.env["ipai.ops.run"]._claim_next_run_id(self.env.cr, "test:1")
        run._progress_reporter()("Dumping", fraction=0.3)
        row = self.env["ipai.ops.run.progress"].sudo().search([("run_id", "=", run.id)])
        users = {**self.members_a, "ops_admin": self.ops_admin, "outsider": self.outsider,
                 "other_admin": self.admin_b}  # fmt: skip
        for role, user in users.items():
            with self.subTest(role=role):
                try:
                    seen = self.call(user, "ipai.ops.run", "read", [run.id], ["progress", "phase"])
                except Refused:
                    seen = None
                member = role not in ("outsider", "other_admin")
                self.assertEqual(bool(seen), member, "the run's own readers see its progress")
                if seen:
                    self.assertEqual((seen[0]["phase"], seen[0]["progress"]), ("Dumping", 30.0))
                for method, args in (
                    ("write", ([row.id], {"fraction": 1.0})),
                    ("create", ([{"run_id": run.id, "fraction": 1.0}],)),
                    ("unlink", ([row.id],)),
                ):
                    self.assertRefused(user, "ipai.ops.run.progress", method, *args)
        self.assertAlmostEqual(row.fraction, 0.3, msg="nobody moved it")


@tagged("post_install", "-at_install")
class TestMembershipMarksOverRpc(RpcCase, OpsCase):
    def test_nobody_writes_what_membership_gave(self):
        """The marks that say what a membership gave (and so what leaving takes back) are
        the system's: a user marking their own group as membership's could make an
        administrator's grant vanish, or keep one."""
        users = {**self.members_a, "ops_admin": self.ops_admin, "outsider": self.outsider}
        for role, user in users.items():
            for field in ("ipai_ops_access_by_membership", "ipai_ops_home_by_membership"):
                with self.subTest(role=role, field=field):
                    for target in (user, self.members_a["viewer"]):
                        self.assertRefused(user, "res.users", "write", [target.id], {field: True})
