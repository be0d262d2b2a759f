from odoo.exceptions import AccessError, UserError
from odoo.fields import Command
from odoo.tests import new_test_user, tagged

from ..roles import required_role, role_allows
from .common import OPS_ADMIN, OPS_USER, OpsCase

# role -> stages on which it may queue a `check`, as Odoo.sh's collaborator levels say
EXPECTED = {
    "viewer": set(),
    "developer": {"development"},
    "tester": {"development", "staging"},
    "admin": {"development", "staging", "production"},
}
STAGES = ("production", "staging", "development")


@tagged("post_install", "-at_install")
class TestRoleMatrix(OpsCase):
    def _try_check(self, user, environment):
        try:
            environment.with_user(user)._queue_run("check")
        except AccessError:
            return False
        return True

    def test_every_role_on_every_stage(self):
        """Each project role may queue a check exactly on the stages its level allows."""
        for role, allowed in EXPECTED.items():
            user = self.members_a[role]
            for stage in STAGES:
                with self.subTest(role=role, stage=stage):
                    environment = self.envs_a[stage]
                    self.assertEqual(
                        self._try_check(user, environment),
                        stage in allowed,
                        f"{role} on {stage}: expected the opposite",
                    )
                    self.assertEqual(environment.with_user(user).can_operate, stage in allowed)

    def test_ops_admin_may_act_everywhere(self):
        for stage in STAGES:
            run = self.envs_b[stage].with_user(self.ops_admin)._queue_run("check")
            self.assertEqual(run.state, "queued")
            self.assertEqual(run.requester_id, self.ops_admin)

    def test_non_members_may_not_act(self):
        """A user of another project, or of no project, cannot act on project A."""
        for user in (self.admin_b, self.outsider):
            for stage in STAGES:
                with self.subTest(user=user.login, stage=stage):
                    self.assertFalse(self._try_check(user, self.envs_a[stage]))

    def test_refusal_says_which_role_is_needed(self):
        with self.assertRaisesRegex(AccessError, "needs the admin role"):
            self.envs_a["production"].with_user(self.members_a["tester"])._queue_run("check")

    def test_cancel_needs_the_same_role_as_running(self):
        run = self.envs_a["staging"].with_user(self.members_a["tester"])._queue_run("check")
        with self.assertRaises(AccessError):
            run.with_user(self.members_a["developer"]).action_cancel()
        run.with_user(self.members_a["tester"]).action_cancel()
        self.assertEqual(run.state, "cancelled")
        self.assertIn("Cancelled by", run.event_ids[-1].message)

    def test_only_project_admins_manage_membership(self):
        newcomer = self.outsider
        Member = self.env["ipai.ops.project.member"]
        with self.assertRaises(AccessError):
            Member.with_user(self.members_a["tester"]).create(
                {"project_id": self.project_a.id, "user_id": newcomer.id, "role": "viewer"}
            )
        with self.assertRaises(AccessError):
            Member.with_user(self.admin_b).create(
                {"project_id": self.project_a.id, "user_id": newcomer.id, "role": "viewer"}
            )
        member = Member.with_user(self.members_a["admin"]).create(
            {"project_id": self.project_a.id, "user_id": newcomer.id, "role": "developer"}
        )
        self.assertEqual(self.project_a._role_of(newcomer), "developer")
        self.assertTrue(self._try_check(newcomer, self.envs_a["development"]))
        member.with_user(self.members_a["admin"]).unlink()
        self.assertIsNone(self.project_a._role_of(newcomer))

    def test_kinds_can_demand_more_than_the_stage(self):
        self.assertEqual(required_role("development", "admin"), "admin")
        self.assertEqual(required_role("production", "developer"), "admin")
        self.assertFalse(role_allows("tester", "development", "admin"))
        self.assertFalse(role_allows(None, "development"))

    def test_membership_grants_access_and_takes_it_back(self):
        """Adding a member is all it takes: group, access and a notification."""
        admin = self.members_a["admin"]
        newcomer = new_test_user(self.env, "a_newcomer", groups="base.group_user")
        self.assertFalse(newcomer.has_group(OPS_USER))
        member = (
            self.env["ipai.ops.project.member"]
            .with_user(admin)
            .create({"project_id": self.project_a.id, "user_id": newcomer.id, "role": "developer"})
        )
        self.env.invalidate_all()
        self.assertTrue(newcomer.has_group(OPS_USER), "the Operations group came with it")
        self.assertEqual(
            self.env["ipai.ops.project"].with_user(newcomer).search([]), self.project_a
        )
        told = self.env["mail.message"].search([("partner_ids", "in", newcomer.partner_id.ids)])
        self.assertIn("developer", str(told.mapped("body")).lower())
        self.assertEqual(
            newcomer.action_id.id, self.env.ref("ipai_ops_core.action_ipai_ops_project").id,
            "they land on their projects, not in Discuss",
        )  # fmt: skip
        member.with_user(admin).unlink()
        self.env.invalidate_all()
        self.assertFalse(newcomer.has_group(OPS_USER), "the last membership took it back")

    def test_operations_administrators_open_on_the_operations_home(self):
        home = self.env.ref("ipai_ops_core.action_ipai_ops_project").id
        self.assertEqual(
            self.env.ref("base.user_admin").action_id.id, home, "the installer's admin"
        )
        made = new_test_user(self.env, "ops_newcomer", groups="base.group_user")
        made.group_ids = [Command.link(self.env.ref(OPS_ADMIN).id)]
        self.assertEqual(made.action_id.id, home, "made an ops admin later")
        created = new_test_user(self.env, "ops_created", groups=OPS_ADMIN)
        self.assertEqual(created.action_id.id, home, "created as one")
        chosen = self.env.ref("base.action_res_users")
        own = new_test_user(self.env, "ops_own_home", groups="base.group_user")
        own.action_id = chosen.id
        own.group_ids = [Command.link(self.env.ref(OPS_ADMIN).id)]
        self.assertEqual(own.action_id.id, chosen.id, "a home they chose is kept")

    def test_only_internal_users_become_members(self):
        portal = new_test_user(self.env, "a_portal", groups="base.group_portal")
        with self.assertRaisesRegex(UserError, "only internal users"):
            self.env["ipai.ops.project.member"].with_user(self.members_a["admin"]).create(
                {"project_id": self.project_a.id, "user_id": portal.id, "role": "viewer"}
            )
        self.env.invalidate_all()
        self.assertFalse(portal.has_group("base.group_user"), "no portal user made internal")
