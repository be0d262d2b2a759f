import io
import shutil
import tempfile
import threading
import time
import zipfile
from pathlib import Path

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.service import db as odoo_db
from odoo.tests import HttpCase, tagged
from odoo.tools import config

from odoo.addons.ipai_ops_core.tests.common import OpsCase, drop_database_now

from ..controllers.download import stream_zip


@tagged("post_install", "-at_install")
class TestDownloadAsOdooZip(HttpCase, OpsCase):
    """A backup downloaded as an Odoo zip restores through Odoo's own restore_db,
    and the restored database accepts a login."""

    def setUp(self):
        super().setUp()
        self.target_dir = tempfile.mkdtemp(prefix="ipai-ops-test-target-")
        self.addCleanup(shutil.rmtree, self.target_dir, ignore_errors=True)
        target = self.env["ipai.ops.backup.target"].create(
            {"name": "Download target", "path": self.target_dir}
        )
        self.production = self.envs_a["production"]
        self.production.write(
            {
                "backup_target_id": target.id,
                "filestore_path": config.filestore(self.production_db),
            }
        )
        self.production._queue_system_run("backup", {"kind": "manual"})
        self.process_runs()
        self.backup = self.production.backup_ids
        self.assertEqual(self.backup.state, "done", self.backup.error)
        self.url = f"/ipai_ops/backup/{self.backup.id}/download"

    def test_download_restores_with_odoo_and_logs_in(self):
        self.authenticate("a_admin", "a_admin")
        response = self.url_open(self.url, timeout=300)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers["Content-Type"], "application/zip")
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        self.assertIn("dump.sql", archive.namelist())
        self.assertIn("manifest.json", archive.namelist())

        restored = f"{self.env.cr.dbname[:40]}-fromzip"
        zip_path = Path(self.target_dir) / "download.zip"
        zip_path.write_bytes(response.content)
        self.addCleanup(drop_database_now, restored)
        odoo_db.restore_db(restored, str(zip_path), copy=True)
        registry = Registry(restored)
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            # the dump holds committed data only: the test users live in this test's
            # transaction, the installation's administrator is in the backup
            auth = env["res.users"].authenticate(
                {"type": "password", "login": "admin", "password": "admin"},
                {"interactive": False},
            )
            self.assertTrue(auth["uid"])
            uuid = env["ir.config_parameter"].get_param("database.uuid")
        self.assertNotEqual(uuid, self.env["ir.config_parameter"].get_param("database.uuid"))

    def test_roles_gate_the_download(self):
        self.authenticate("a_tester", "a_tester")  # production needs the admin role
        self.assertEqual(self.url_open(self.url).status_code, 403)
        self.authenticate("b_admin", "b_admin")  # another project's admin
        self.assertEqual(self.url_open(self.url).status_code, 403)

    def test_an_abandoned_download_stops_its_producer(self):
        """A client that goes away mid-download leaves no thread or pg_restore behind."""
        stream = stream_zip(self.backup.target_id._engine_target(), self.backup.set_id)
        self.assertTrue(next(stream), "the zip starts streaming")
        stream.close()  # what the server does when the client disconnects
        name = f"ipai-ops-zip-{self.backup.set_id}"
        for _ in range(100):
            if not [t for t in threading.enumerate() if t.name == name]:
                break
            time.sleep(0.05)
        self.assertFalse([t for t in threading.enumerate() if t.name == name])
