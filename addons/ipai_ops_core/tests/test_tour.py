from psycopg2 import sql

from odoo.tests import HttpCase, tagged

from ipai_ops.connection import connection

from .common import drop_database_now, maintenance_spec, process_runs, server_values

TOUR_DATABASE = "ipai_ops_tour_target"


@tagged("post_install", "-at_install")
class TestAdministratorTour(HttpCase):
    """In a real browser, an administrator creates a project and an environment
    and runs a check; the executor then checks the real (empty) database."""

    def setUp(self):
        super().setUp()
        self._create_target_database()
        self.addCleanup(self._drop_target_database)
        self.env["ipai.ops.db.server"].create(server_values(name="Tour server"))

    def _create_target_database(self):
        drop_database_now(TOUR_DATABASE)
        with connection(maintenance_spec()) as conn, conn.cursor() as cr:
            cr.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TOUR_DATABASE)))

    def _drop_target_database(self):
        drop_database_now(TOUR_DATABASE)

    def test_create_project_environment_and_check(self):
        self.start_tour("/odoo", "ipai_ops_core_tour", login="admin")
        environment = self.env["ipai.ops.environment"].search([("name", "=", "Tour development")])
        self.assertEqual(environment.project_id.code, "tour")
        self.assertEqual(environment.database_name, TOUR_DATABASE)
        run = environment.run_ids
        self.assertEqual(len(run), 1, "the Check button queued exactly one run")
        self.assertEqual(run.requester_id.login, "admin")
        process_runs(self.env)
        self.assertEqual(run.state, "done", run.error)
        self.assertIn("not an Odoo database", run.summary)
        self.assertEqual(environment.state, "ready")
