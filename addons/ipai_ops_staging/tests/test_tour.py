from odoo.tests import HttpCase, tagged
from odoo.tools import config

from odoo.addons.ipai_ops_core.tests.common import production_database, server_values


@tagged("post_install", "-at_install")
class TestStagingTour(HttpCase):
    """In a browser: back up production, then ask for a staging copy through the wizard."""

    def test_backup_and_copy_from_the_environment_form(self):
        database, _sample = production_database(self.env.cr.dbname)
        server = self.env["ipai.ops.db.server"].create(server_values(name="Tour server"))
        project = self.env["ipai.ops.project"].create({"name": "Tour", "code": "tour"})
        target = self.env["ipai.ops.backup.target"].create({"name": "T", "path": "/tmp/ipai-tour"})
        production = self.env["ipai.ops.environment"].create(
            {"name": "Tour production", "project_id": project.id, "stage": "production",
             "server_id": server.id, "database_name": database,
             "backup_target_id": target.id, "addons_path": ",".join(config["addons_path"])}
        )  # fmt: skip
        url = f"/odoo/action-ipai_ops_core.action_ipai_ops_environment/{production.id}"
        self.start_tour(url, "ipai_ops_staging_tour", login="admin")
        kinds = production.run_ids.mapped("kind")
        self.assertEqual(kinds, ["backup"])
        copy = self.env["ipai.ops.environment"].search(
            [("source_environment_id", "=", production.id)]
        )
        self.assertEqual(copy.stage, "staging")
        self.assertEqual(copy.run_ids.kind, "clone")
        self.assertEqual(copy.run_ids.state, "queued")
