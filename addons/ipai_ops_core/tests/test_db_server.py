import shutil
from pathlib import Path

from psycopg2 import sql

from odoo.exceptions import AccessError
from odoo.tests import tagged

from ipai_ops.connection import connection
from ipai_ops.identifiers import database_exists
from ipai_ops.scratch import create_private

from .common import OpsCase, drop_database_now, server_values


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

    def test_the_sweep_cron_removes_what_killed_operations_left(self):
        """A scratch copy and a hidden filestore directory whose owner session is gone."""
        leftover = "ipai-ops-test-cloning-0dead0"
        root = Path(self.server.sudo().filestore_root)
        hidden = root / ".prod.cloning-0dead0"
        hidden.mkdir(parents=True, exist_ok=True)
        self.addCleanup(shutil.rmtree, hidden, ignore_errors=True)
        with connection(self.server._engine_spec()) as conn:
            create_private(
                conn, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(leftover)), leftover
            )
        self.addCleanup(drop_database_now, leftover)
        self.env["ipai.ops.db.server"]._cron_sweep_leftovers()
        with connection(self.server._engine_spec()) as conn:
            self.assertFalse(database_exists(conn, leftover))
        self.assertFalse(hidden.exists())
        self.assertIn(leftover, self.server.message_ids[0].body)
