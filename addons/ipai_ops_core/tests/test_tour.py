from odoo.tests import HttpCase, tagged
from odoo.tests.test_cursor import TestCursor

from .common import create_database_now, drop_database_now, process_runs, server_values

TOUR_DATABASE = "ipai_ops_tour_target"


@tagged("post_install", "-at_install")
class TestAdministratorTour(HttpCase):
    """In a real browser, an administrator creates a project and an environment
    and runs a check; the executor then checks the real (empty) database."""

    def setUp(self):
        super().setUp()
        create_database_now(TOUR_DATABASE)
        self.addCleanup(drop_database_now, TOUR_DATABASE)
        self.env["ipai.ops.db.server"].create(server_values(name="Tour server"))

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


@tagged("post_install", "-at_install")
class TestLiveRunsTour(HttpCase):
    """An open list of runs follows them by itself: a run cancelled elsewhere (another
    tab, another user, the executor) shows its new state without a reload."""

    def setUp(self):
        super().setUp()
        create_database_now(TOUR_DATABASE)
        self.addCleanup(drop_database_now, TOUR_DATABASE)
        server = self.env["ipai.ops.db.server"].create(server_values(name="Live server"))
        project = self.env["ipai.ops.project"].create({"name": "Live project", "code": "live"})
        self.environment = self.env["ipai.ops.environment"].create(
            {"name": "Live development", "project_id": project.id, "stage": "development",
             "server_id": server.id, "database_name": TOUR_DATABASE}
        )  # fmt: skip
        self._notify_on_commit()

    def _notify_on_commit(self):
        """Test cursors skip post-commit hooks, and the bus's NOTIFY to the browsers is
        one: run it when a commit would, so the browser hears of changes as it does live."""
        original = TestCursor.commit

        def commit(cursor):
            funcs, data = list(cursor.postcommit._funcs), dict(cursor.postcommit.data)
            original(cursor)
            if "bus.bus.channels" in data:
                cursor.postcommit._funcs.extend(funcs)
                cursor.postcommit.data.update(data)
                cursor.postcommit.run()

        self.patch(TestCursor, "commit", commit)

    def test_a_run_list_follows_its_runs(self):
        run = self.environment._queue_run("check")
        self.start_tour("/odoo/action-ipai_ops_core.action_ipai_ops_run", "ipai_ops_live_runs_tour",
                        login="admin")  # fmt: skip
        self.assertEqual(run.state, "cancelled", "the tour cancelled it over RPC")
