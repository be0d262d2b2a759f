from contextlib import closing

from odoo import sql_db
from odoo.tests import HttpCase, tagged

from odoo.addons.ipai_ops_core.tests.common import (
    process_runs,
    production_database,
    server_values,
)


@tagged("post_install", "-at_install")
class TestMonitoringTour(HttpCase):
    """In a browser: an environment's top queries, from its form."""

    def test_top_queries_from_the_environment_form(self):
        database, _sample = production_database(self.env.cr.dbname)
        server = self.env["ipai.ops.db.server"].create(server_values(name="Tour server"))
        project = self.env["ipai.ops.project"].create({"name": "Watch", "code": "watch"})
        production = self.env["ipai.ops.environment"].create(
            {"name": "Watched production", "project_id": project.id, "stage": "production",
             "server_id": server.id, "database_name": database}
        )  # fmt: skip
        production._queue_system_run("snapshot", {})
        process_runs(self.env)
        with closing(sql_db.db_connect(database).cursor()) as cr:
            for _ in range(5):
                cr.execute("SELECT pg_sleep(0.02)")
        production._queue_system_run("snapshot", {})
        process_runs(self.env)
        url = f"/odoo/action-ipai_ops_core.action_ipai_ops_environment/{production.id}"
        self.start_tour(url, "ipai_ops_monitoring_tour", login="admin")
