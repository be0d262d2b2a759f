from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import BackupCase


@tagged("post_install", "-at_install")
class TestProductionRestoreApproval(BackupCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.second_admin = new_test_user(
            cls.env, "a_admin_2", groups="ipai_ops_core.group_ops_user"
        )
        cls.env["ipai.ops.project.member"].create(
            {"project_id": cls.project_a.id, "user_id": cls.second_admin.id, "role": "admin"}
        )

    def _request(self):
        requester = self.members_a["admin"]
        run = self.production.with_user(requester)._request_approved_run(
            "restore", {"backup_id": 0, "mode": "replace"}
        )
        return run, self.env["ipai.ops.approval"].search([("run_id", "=", run.id)])

    def test_requester_cannot_approve_own_request(self):
        run, approval = self._request()
        self.assertEqual(run.state, "waiting")
        with self.assertRaisesRegex(UserError, "another project admin"):
            approval.with_user(self.members_a["admin"]).action_approve()
        self.assertEqual(run.state, "waiting")

    def test_the_other_admins_are_asked_and_their_to_dos_close_with_the_decision(self):
        _run, approval = self._request()
        to_dos = self.production.activity_ids.filtered(
            lambda a: a.activity_type_id.name == "Approval requested"
        )
        self.assertEqual(to_dos.user_id, self.second_admin, "the requester is not asked")
        self.assertIn("asks to restore", to_dos.summary)
        message = self.production.message_ids[0]
        self.assertIn(self.second_admin.partner_id, message.partner_ids, "notified")
        self.assertIn("Approvals", message.body)
        approval.with_user(self.second_admin).action_approve()
        self.production.invalidate_recordset(["activity_ids"])
        self.assertFalse(self.production.activity_ids & to_dos, "decided: nothing left to do")

    def test_non_admins_cannot_approve(self):
        _run, approval = self._request()
        for user in (self.members_a["tester"], self.admin_b):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                approval.with_user(user).action_approve()

    def test_second_admin_approval_queues_the_run(self):
        run, approval = self._request()
        self.assertEqual(self.env["ipai.ops.run"].search_count([("state", "=", "queued")]), 0)
        approval.with_user(self.second_admin).action_approve()
        self.assertEqual(approval.state, "approved")
        self.assertEqual(approval.approver_id, self.second_admin)
        self.assertEqual(run.state, "queued")
        self.assertIn("Approved by", run.event_ids[-1].message)

    def test_approval_expires_after_24_hours(self):
        run, approval = self._request()
        self.assertAlmostEqual(
            approval.expires_at,
            fields.Datetime.now() + timedelta(hours=24),
            delta=timedelta(minutes=1),
        )
        approval.sudo().expires_at = fields.Datetime.now() - timedelta(minutes=1)
        with self.assertRaisesRegex(UserError, "expired"):
            approval.with_user(self.second_admin).action_approve()
        self.assertEqual(run.state, "cancelled")

    def test_expiry_cron_cancels_waiting_runs(self):
        run, approval = self._request()
        approval.sudo().expires_at = fields.Datetime.now() - timedelta(minutes=1)
        self.env["ipai.ops.approval"]._cron_expire_approvals()
        self.assertEqual((approval.state, run.state), ("expired", "cancelled"))

    def test_rejection_cancels(self):
        run, approval = self._request()
        approval.with_user(self.second_admin).action_reject()
        self.assertEqual((approval.state, run.state), ("rejected", "cancelled"))

    def test_executor_never_takes_a_waiting_run(self):
        run, _approval = self._request()
        self.process_runs()
        self.assertEqual(run.state, "waiting")
