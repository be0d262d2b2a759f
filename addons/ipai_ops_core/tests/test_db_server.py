from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import OpsCase, server_values


@tagged("post_install", "-at_install")
class TestDatabaseServer(OpsCase):
    def test_test_connection_reports_capabilities(self):
        action = self.server.action_test_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.assertTrue(self.server.probe_ok)
        self.assertTrue(self.server.server_version)
        self.assertTrue(self.server.pgss_preloaded, "the test cluster preloads pg_stat_statements")
        self.assertIn("pg_stat_statements is preloaded", self.server.probe_report)

    def test_wrong_password_is_reported_not_raised(self):
        server = self.env["ipai.ops.db.server"].create(
            server_values(name="Wrong password", password="definitely-wrong-pw")
        )
        action = server.action_test_connection()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertFalse(server.probe_ok)
        self.assertIn("password", server.probe_report)
        self.assertNotIn("definitely-wrong-pw", server.probe_report)

    def test_only_ops_admins_may_test_or_edit_servers(self):
        with self.assertRaises(AccessError):
            self.server.with_user(self.members_a["admin"]).action_test_connection()
        self.server.with_user(self.ops_admin).action_test_connection()
        self.assertTrue(self.server.probe_ok)
