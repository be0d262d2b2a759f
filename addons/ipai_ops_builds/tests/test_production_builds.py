import dataclasses
import shutil
import tempfile
from pathlib import Path

import requests

from odoo.tests import tagged
from odoo.tools import config

from odoo.addons.ipai_ops_core.tests.common import drop_database_now
from odoo.addons.ipai_ops_runtime.tests.common import PORTS, docker_host_or_skip, remove_instances

from ipai_ops.check import module_versions
from ipai_ops.git_repo import export_tree
from ipai_ops.runtime import engine, instance

from .test_builds import BuildsCase, git


def serves(url: str) -> bool:
    try:
        return requests.get(f"{url}/web/login", timeout=10).status_code == 200
    except requests.RequestException:
        return False


class RunningBuildsCase(BuildsCase):
    """Project A on the test engine, production a real Odoo database with ``shop``
    installed from the repository, backed up to a storage target of its own."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        endpoint = docker_host_or_skip(cls)
        cls.client = engine.connect(endpoint)
        cls.addClassCleanup(cls.client.close)
        cls.addClassCleanup(remove_instances, cls.client, cls.project_a.code)
        cls.host = cls.env["ipai.ops.runtime.host"].create(
            {"name": "Builds engine", "endpoint": endpoint, "port_low": PORTS[0],
             "port_high": PORTS[1]}
        )  # fmt: skip
        target_dir = tempfile.mkdtemp(prefix="ipai-ops-builds-target-")
        cls.addClassCleanup(shutil.rmtree, target_dir, ignore_errors=True)
        cls.target = cls.env["ipai.ops.backup.target"].create({"name": "BP", "path": target_dir})
        cls.prod_db = f"{cls.env.cr.dbname[:40]}_bp"
        cls.addClassCleanup(drop_database_now, cls.prod_db)
        cls.addClassCleanup(shutil.rmtree, config.filestore(cls.prod_db), ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.registry_enter_test_mode()  # runs open cursors of their own
        self.addCleanup(remove_instances, self.client, self.project_a.code)
        self.production = self.envs_a["production"]
        self.production.sudo().write(
            {"branch": "production", "database_name": self.prod_db,
             "filestore_path": config.filestore(self.prod_db), "runtime_host_id": self.host.id,
             "backup_target_id": self.target.id}
        )  # fmt: skip

    def push_shop(self, version: str, broken: bool = False, branch: str = "production") -> str:
        shop = self.work / "shop"
        shop.mkdir(exist_ok=True)
        manifest = {"name": "Shop", "version": version, "license": "LGPL-3", "depends": ["base"]}
        if broken:
            (shop / "broken.xml").write_text("<odoo><record")
            manifest["data"] = ["broken.xml"]
        (shop / "__manifest__.py").write_text(repr(manifest))
        (shop / "__init__.py").write_text("")
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", f"Shop {version}")
        git(self.work, "push", "-q", "origin", f"HEAD:{branch}")
        return git(self.work, "rev-parse", "HEAD")

    def production_database_with_shop(self, commit: str, also: str = "") -> None:
        """Production as it stands before ipai-ops builds it: base, shop (and ``also``)
        installed."""
        drop_database_now(self.prod_db)
        shutil.rmtree(config.filestore(self.prod_db), ignore_errors=True)
        tree = export_tree(self.remote, commit, Path(tempfile.mkdtemp(prefix="ipai-ops-bp-")))
        self.addCleanup(shutil.rmtree, tree, ignore_errors=True)
        spec = dataclasses.replace(self.production._instance_spec(), addons_dirs=(tree,))
        instance.run_once(self.client, spec, ["-i", ",".join(filter(None, ["base,shop", also]))])

    def shop_version(self, database: str) -> str:
        spec = self.production.server_id._engine_spec()
        return module_versions(spec, database).get("shop")


@tagged("post_install", "-at_install")
class TestProductionBuild(RunningBuildsCase):
    """A merge into production's branch, as Odoo.sh deploys it: a backup, the changed
    modules updated while the previous build serves, a rolling restart; a broken update
    leaves production serving the previous build and offers the backup back."""

    def build_of(self, commit: str):
        self.env["ipai.ops.project"]._cron_poll_repositories()
        build = self.project_a.build_ids.filtered(lambda b: b.commit == commit)
        self.assertEqual(build.run_id.kind, "build", "the build was not queued to run")
        backup = build.run_id.after_run_id
        role = backup.browse()
        if backup.kind == "instance_own_role":  # production's first build: its own role
            role, backup = backup, backup.after_run_id
        self.assertEqual((backup.kind, backup.params), ("backup", {"kind": "pre-update"}))
        self.process_runs()
        self.assertEqual(backup.state, "done", backup.error)
        if role:
            self.assertEqual(role.state, "done", role.error)
            self.assertTrue(self.production._owns_its_database())
        return build

    def test_a_merge_is_backed_up_updated_and_served_and_a_broken_one_changes_nothing(self):
        first = self.push_shop("19.0.1.0.0")
        self.production_database_with_shop(first)
        build = self.build_of(first)
        self.assertEqual(build.run_id.state, "done", build.run_id.error)
        self.assertEqual(build.run_id.after_run_id.kind, "instance_own_role",
                         "production's first build gives it its own role first")  # fmt: skip
        self.assertEqual((build.state, build.modules_updated), ("success", "shop"))
        url = self.production.instance_url
        self.assertTrue(serves(url), f"{url} does not serve production")

        second = self.push_shop("19.0.1.1.0")
        build = self.build_of(second)
        self.assertEqual(build.run_id.state, "done", build.run_id.error)
        self.assertEqual(self.shop_version(self.prod_db), "19.0.1.1.0")
        self.assertEqual(self.production.instance_url, url, "the update moved production")
        container = instance.find(self.client, *self.production._container_names())
        self.assertTrue(serves(url))

        broken = self.push_shop("19.0.1.2.0", broken=True)
        build = self.build_of(broken)
        self.assertEqual((build.run_id.state, build.state), ("failed", "failed"))
        self.assertIn("broken.xml", build.run_id._instance_log_text())
        version = self.shop_version(self.prod_db)
        self.assertEqual(version, "19.0.1.1.0", "the broken update changed the data")
        still = instance.find(self.client, *self.production._container_names())
        self.assertEqual(still.id, container.id, "production no longer runs the previous build")
        self.assertTrue(serves(url), "a broken update took production down")
        self.assertNotIn(broken, self.production.addons_path)
        self.assertTrue(build.run_id.pre_update_backup_id, "the way back is not offered")
        self.assertFalse(self.restores(), "restored without the project's setting")

        # the project restores production's backup after a failed update, unasked
        self.project_a.sudo().restore_on_failed_update = True
        build = self.build_of(self.push_shop("19.0.1.3.0", broken=True))  # its restore runs too
        [restore] = self.restores()
        self.assertEqual(restore.params.get("backup_id"), build.run_id.pre_update_backup_id.id)
        self.assertEqual(restore.state, "done", restore.error)
        self.assertTrue(self.production.previous_database, "production was not replaced")
        self.assertEqual(self.shop_version(self.prod_db), "19.0.1.1.0")
        self.assertTrue(serves(url), "production does not serve the restored data")

    def restores(self):
        self.env.invalidate_all()  # the executor's cursor queued them
        return self.production.run_ids.filtered(lambda r: r.kind == "restore")

    def test_no_backup_target_no_production_build(self):
        self.production.sudo().backup_target_id = False
        commit = self.push_shop("19.0.1.0.0")
        self.env["ipai.ops.project"]._cron_poll_repositories()
        build = self.project_a.build_ids.filtered(lambda b: b.commit == commit)
        self.process_runs()
        self.assertEqual((build.run_id.state, build.state), ("failed", "failed"))
        self.assertIn("backup target", build.run_id.error)
