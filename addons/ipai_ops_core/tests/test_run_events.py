from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import OpsCase


@tagged("post_install", "-at_install")
class TestAuditTrail(OpsCase):
    """Runs and their events are written by the system only and never rewritten."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.queued_run = (
            cls.envs_a["development"].with_user(cls.members_a["developer"])._queue_run("check")
        )
        cls.event = cls.queued_run.event_ids[:1]

    def test_queueing_leaves_an_event_naming_the_requester(self):
        self.assertEqual(len(self.event), 1)
        self.assertIn(self.members_a["developer"].name, self.event.message)

    def test_events_cannot_be_changed_even_by_administrators(self):
        for env in (self.env(user=self.ops_admin), self.env(su=True)):
            with self.subTest(su=env.su), self.assertRaises(AccessError):
                self.event.with_env(env).write({"message": "nothing happened"})
        self.assertIn("Queued", self.event.message)

    def test_events_cannot_be_deleted_even_by_superuser(self):
        for env in (self.env(user=self.ops_admin), self.env(su=True)):
            with self.subTest(su=env.su), self.assertRaises(AccessError):
                self.event.with_env(env).unlink()
        self.assertTrue(self.event.exists())

    def test_events_cannot_be_forged(self):
        with self.assertRaises(AccessError):
            self.env(user=self.ops_admin)["ipai.ops.run.event"].create(
                {"run_id": self.queued_run.id, "message": "forged"}
            )

    def test_runs_cannot_be_created_or_rewritten_through_rpc(self):
        with self.assertRaises(AccessError):
            self.env(user=self.ops_admin)["ipai.ops.run"].create(
                {"kind": "check", "environment_id": self.envs_a["development"].id}
            )
        with self.assertRaises(AccessError):
            self.queued_run.with_user(self.ops_admin).write({"state": "done"})
        with self.assertRaises(UserError):
            self.queued_run.sudo().unlink()
        self.assertEqual(self.queued_run.state, "queued")

    def test_server_password_never_reaches_an_event(self):
        secret = "p4ss-Secret-zz"
        self.server.password = secret
        event = self.queued_run._log_event("error", f"libpq said: password={secret} rejected")
        self.assertNotIn(secret, event.message)
        self.assertIn("********", event.message)
