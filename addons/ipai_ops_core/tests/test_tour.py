from contextlib import closing

from psycopg2 import sql

from odoo import sql_db
from odoo.tests import HttpCase, tagged

from .common import process_runs, server_values

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

    def _admin_cursor(self):
        conn = sql_db.db_connect("postgres").cursor()
        conn._cnx.autocommit = True
        return closing(conn)

    def _create_target_database(self):
        with self._admin_cursor() as cr:
            cr.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(TOUR_DATABASE)))
            cr.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TOUR_DATABASE)))

    def _drop_target_database(self):
        sql_db.close_db(TOUR_DATABASE)
        with self._admin_cursor() as cr:
            cr.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(TOUR_DATABASE)
                )
            )

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
