import shutil
import tempfile

from odoo.tools import config

from odoo.addons.ipai_ops_core.tests.common import OpsCase


class BackupCase(OpsCase):
    """Project A's production (a real Odoo database, with its real filestore) backs up
    into a temporary storage target."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.target = cls.env["ipai.ops.backup.target"].create(
            {"name": "Test target", "path": "/nonexistent/replaced-in-setup"}
        )
        cls.production = cls.envs_a["production"]
        cls.production.write(
            {
                "backup_target_id": cls.target.id,
                "filestore_path": config.filestore(cls.production_db),
            }
        )

    def setUp(self):
        super().setUp()
        # a fresh directory per test: files outlive the rolled-back test transaction
        self.target_dir = tempfile.mkdtemp(prefix="ipai-ops-test-target-")
        self.addCleanup(shutil.rmtree, self.target_dir, ignore_errors=True)
        self.target.path = self.target_dir
        self.registry_enter_test_mode()
