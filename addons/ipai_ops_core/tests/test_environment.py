from psycopg2 import IntegrityError

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import OpsCase


@tagged("post_install", "-at_install")
class TestEnvironmentRules(OpsCase):
    def _new_environment(self, **values):
        base = {
            "name": "Extra",
            "project_id": self.project_a.id,
            "stage": "development",
            "server_id": self.server.id,
            "database_name": "a_extra",
        }
        base.update(values)
        return self.env["ipai.ops.environment"].create(base)

    def test_hostile_database_names_are_rejected_with_a_reason(self):
        cases = {
            'x"; DROP DATABASE prod; --': "not allowed",
            "a'b": "not allowed",
            "semi;colon": "not allowed",
            "n" * 64: "at most 63 bytes",
            "é" * 40: "at most 63 bytes",
            "template1": "reserved",
        }
        for name, reason in cases.items():
            with self.subTest(name=name), self.assertRaisesRegex(ValidationError, reason):
                self._new_environment(database_name=name)

    def test_one_production_per_project(self):
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(IntegrityError),
            self.env.cr.savepoint(),
        ):
            self._new_environment(stage="production", database_name="a_prod2")
        # an archived production does not count
        self.envs_a["production"].active = False
        self.env.flush_all()
        self._new_environment(stage="production", database_name="a_prod2")

    def test_a_database_belongs_to_one_environment_per_server(self):
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(IntegrityError),
            self.env.cr.savepoint(),
        ):
            self._new_environment(database_name="a_staging")

    def test_pointing_an_environment_elsewhere_forgets_what_it_held(self):
        """A masked copy an operator points at another database is no longer known to be
        masked: not checked yet, registered data. Production stays production data; the
        system's own placement (a copy taking its name) keeps what it recorded."""
        staging, production = self.envs_a["staging"], self.envs_a["production"]
        staging.sudo().write({"state": "ready", "data_class": "masked"})
        staging.with_user(self.ops_admin).database_name = "a_staging_elsewhere"
        self.assertEqual((staging.state, staging.data_class), ("new", "registered"))
        production.sudo().write({"state": "ready"})
        production.with_user(self.ops_admin).database_name = self.production_db
        self.assertEqual(production.data_class, "production")
        staging.sudo().write({"state": "ready", "data_class": "masked"})
        staging.sudo().database_name = "a_staging_renamed"
        self.assertEqual((staging.state, staging.data_class), ("ready", "masked"))

    def test_project_codes_are_short_and_lowercase(self):
        for code in ("Has Space", "UPPER", "x" * 33, "-dash"):
            with self.subTest(code=code), self.assertRaises(ValidationError):
                self.env["ipai.ops.project"].create({"name": code, "code": code})

    def test_kanban_overview_shows_stage_and_state(self):
        overview = self.project_a.environment_overview
        self.assertIn("Project A production (Production, Not checked yet)", overview)
        self.assertEqual(self.project_a.production_environment_id, self.envs_a["production"])

    def test_project_health_says_what_needs_attention(self):
        self.registry_enter_test_mode()  # the executor's own cursors share the test's
        project = self.project_a.with_user(self.members_a["viewer"])
        self.assertEqual(project.health, "ok", project.health_problems)
        self.envs_a["staging"].sudo().state = "unreachable"
        self.envs_a["development"]._queue_system_run("check")
        self.process_runs()  # its database does not exist: the check fails
        project.invalidate_recordset(["health", "health_problems"])
        self.assertEqual(project.health, "attention")
        self.assertIn(f"{self.envs_a['staging'].name}: Unreachable", project.health_problems)
        self.assertIn("1 operation(s) failed in the last 24 hours", project.health_problems)

    def test_a_new_environment_form_opens_before_a_project_is_chosen(self):
        """Operations ▸ Environments ▸ New computes its buttons with no project yet."""
        for user in (self.ops_admin, self.members_a["admin"]):
            with self.subTest(user=user.login):
                draft = self.env["ipai.ops.environment"].with_user(user).new({})
                self.assertFalse(draft.can_operate)
                self.assertFalse(draft.allowed_kinds)
