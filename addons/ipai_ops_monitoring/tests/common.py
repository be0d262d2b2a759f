from datetime import timedelta

from odoo import fields

from odoo.addons.ipai_ops_core.tests.common import OpsCase

from ipai_ops.connection import connection


class MonitoringCase(OpsCase):
    """Project A's production, a real Odoo database on the test cluster, watched."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.production = cls.envs_a["production"]  # a real Odoo database on the test cluster

    def setUp(self):
        super().setUp()
        self.registry_enter_test_mode()

    def _snapshot(self):
        self.env["ipai.ops.environment"]._cron_queue_snapshots()
        self.process_runs()
        runs = self.production.run_ids.filtered(lambda r: r.kind == "snapshot")
        self.assertEqual(runs[0].state, "done", runs[0].error)
        return runs[0]

    def _sample_rows(self, queryid: str, hours: int, calls: int, mean_ms: float) -> None:
        self.env["ipai.ops.pgss.delta"].sudo().create(
            {"environment_id": self.production.id, "granularity": "sample",
             "taken_at": fields.Datetime.now() - timedelta(hours=hours), "queryid": queryid,
             "calls": calls, "total_ms": mean_ms * calls, "max_ms": mean_ms, "rows": calls,
             "shared_blks_hit": calls, "shared_blks_read": 0, "temp_blks_written": 0}
        )  # fmt: skip

    def _set_module_version(self, module: str, version: str) -> str:
        """Change the environment's database as ``-u`` would (its own connection, not the
        control plane's transaction)."""
        with connection(self.production.sudo()._engine_spec()) as conn, conn.cursor() as cur:
            cur.execute("SELECT latest_version FROM ir_module_module WHERE name = %s", [module])
            before = cur.fetchone()[0]
            cur.execute(
                "UPDATE ir_module_module SET latest_version = %s WHERE name = %s", [version, module]
            )
        return before
