import shutil

from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.ipai_ops_core.tests.common import (
    create_database_now,
    drop_database_now,
    maintenance_spec,
    process_runs,
    server_values,
)

from ipai_ops.connection import connection

DATABASE = "ipai_ops_first_hour"
TARGET = "/tmp/ipai-ops-first-hour"


@tagged("post_install", "-at_install")
class TestFirstHourTours(HttpCase):
    """In a browser, from an empty control plane: the first backup, then a member added
    in the project who logs in and finds it."""

    def setUp(self):
        super().setUp()
        create_database_now(DATABASE)
        self.addCleanup(drop_database_now, DATABASE)
        with connection(maintenance_spec().for_database(DATABASE)) as conn, conn.cursor() as cr:
            cr.execute("CREATE TABLE customer (id serial PRIMARY KEY, name text);"
                       "INSERT INTO customer (name) VALUES ('Jane'), ('Joe')")  # fmt: skip
        self.addCleanup(shutil.rmtree, TARGET, ignore_errors=True)
        # the form's defaults point at the test cluster, as an administrator would type them
        values = server_values()
        for field in ("host", "port", "login"):
            self.env["ir.default"].set("ipai.ops.db.server", field, values[field])

    def test_from_nothing_to_a_first_backup_then_a_member_logs_in(self):
        self.assertFalse(self.env["ipai.ops.project"].search([]), "an empty control plane")
        newcomer = new_test_user(self.env, "first_member", groups="base.group_user",
                                 name="First Member")  # fmt: skip
        self.start_tour("/odoo", "ipai_ops_first_hour_tour", login="admin")
        environment = self.env["ipai.ops.environment"].search([("name", "=", "First production")])
        self.assertEqual(environment.stage, "production")
        process_runs(self.env)
        run = environment.run_ids.filtered(lambda r: r.kind == "backup")
        self.assertEqual(run.state, "done", run.error)
        self.assertEqual(environment.backup_ids.state, "done")
        self.assertEqual(environment.project_id.last_backup_environment_id, environment)
        self.assertEqual(environment.project_id.member_ids.user_id, newcomer)
        self.assertTrue(newcomer.has_group("ipai_ops_core.group_ops_user"))
        self.start_tour("/odoo", "ipai_ops_new_member_tour", login="first_member")
