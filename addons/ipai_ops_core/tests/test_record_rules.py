from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import OpsCase


@tagged("post_install", "-at_install")
class TestProjectIsolation(OpsCase):
    """A member of project A sees nothing of project B, whatever the path."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.run_b = cls.envs_b["production"].with_user(cls.admin_b)._queue_run("check")
        cls.run_a = (
            cls.envs_a["development"].with_user(cls.members_a["developer"])._queue_run("check")
        )
        cls.user_a = cls.members_a["admin"]

    def test_search_shows_only_own_projects_records(self):
        env = self.env(user=self.user_a)
        self.assertEqual(env["ipai.ops.project"].search([]), self.project_a)
        self.assertEqual(
            set(env["ipai.ops.environment"].search([]).ids),
            {e.id for e in self.envs_a.values()},
        )
        self.assertEqual(env["ipai.ops.run"].search([]), self.run_a)
        self.assertTrue(env["ipai.ops.run.event"].search([]))
        self.assertFalse(env["ipai.ops.run.event"].search([("run_id", "=", self.run_b.id)]))
        self.assertEqual(env["ipai.ops.project.member"].search([]).project_id, self.project_a)

    def test_direct_reads_of_other_project_are_refused(self):
        env = self.env(user=self.user_a)
        for record in (
            self.project_b,
            self.envs_b["production"],
            self.run_b,
            self.run_b.event_ids[:1],
            self.admin_b_membership(),
        ):
            with self.subTest(model=record._name), self.assertRaises(AccessError):
                record.with_env(env).read(["display_name"])

    def admin_b_membership(self):
        return self.project_b.member_ids

    def test_name_search_and_read_group_leak_nothing(self):
        env = self.env(user=self.user_a)
        names = [name for _id, name in env["ipai.ops.environment"].name_search("Project B")]
        self.assertEqual(names, [])
        groups = env["ipai.ops.run"]._read_group([], ["project_id"], ["__count"])
        self.assertEqual([project for project, _count in groups], [self.project_a])

    def test_related_fields_do_not_open_a_path(self):
        """Following runs, events and members never reaches project B's records."""
        env = self.env(user=self.user_a)
        reachable = env["ipai.ops.run"].search([]).mapped("environment_id.project_id")
        self.assertEqual(reachable, self.project_a)
        with self.assertRaises(AccessError):
            env["ipai.ops.run"].browse(self.run_b.id).environment_id.read(["name"])

    def test_outsider_and_plain_users_see_nothing(self):
        env = self.env(user=self.outsider)
        self.assertFalse(env["ipai.ops.project"].search([]))
        self.assertFalse(env["ipai.ops.environment"].search([]))
        self.assertFalse(env["ipai.ops.run"].search([]))
        with self.assertRaises(AccessError):
            self.env(user=self.internal)["ipai.ops.project"].search([])

    def test_ops_admin_sees_everything(self):
        env = self.env(user=self.ops_admin)
        self.assertEqual(env["ipai.ops.project"].search([]), self.project_a | self.project_b)
        self.assertEqual(env["ipai.ops.run"].search([]), self.run_a | self.run_b)

    def test_server_password_is_for_ops_admins_only(self):
        server = self.server.with_user(self.user_a)
        server.read(["name", "host"])  # the server of one's own environments is visible
        with self.assertRaises(AccessError):
            server.read(["password"])
        with self.assertRaises(AccessError):
            server.write({"host": "elsewhere"})
        self.server.with_user(self.ops_admin).read(["password"])

    def test_only_ops_admins_place_environments(self):
        """A project admin pointing an environment at another database, directory or code
        would reach what the server's credentials reach: refused."""
        environment = self.envs_a["staging"].with_user(self.user_a)
        for field, value in (
            ("database_name", "b_prod"),
            ("filestore_path", "/etc"),
            ("addons_path", "/tmp/evil"),
            ("server_id", self.server.id),
        ):
            with self.subTest(field=field), self.assertRaises(AccessError):
                environment.write({field: value})
        with self.assertRaises(AccessError):
            self.env["ipai.ops.environment"].with_user(self.user_a).create(
                {"name": "Mine", "project_id": self.project_a.id, "server_id": self.server.id,
                 "database_name": "anything"}
            )  # fmt: skip
        environment.write({"branch": "feature-x", "base_url": "https://staging.example"})
        self.envs_a["staging"].with_user(self.ops_admin).write({"database_name": "a_staging2"})

    def test_project_admin_edits_only_own_project(self):
        self.envs_a["staging"].with_user(self.user_a).write({"branch": "main"})
        with self.assertRaises(AccessError):
            self.envs_b["staging"].with_user(self.user_a).write({"branch": "main"})
        with self.assertRaises(AccessError):
            self.envs_a["staging"].with_user(self.members_a["tester"]).write({"branch": "x"})
