import os
import shutil
from contextlib import closing
from datetime import timedelta
from pathlib import Path

from odoo import fields, sql_db
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import tagged
from odoo.tools import config

from odoo.addons.ipai_ops_core.tests.common import drop_database_now, server_values

from .common import BackupCase


@tagged("post_install", "-at_install")
class TestBackupRuns(BackupCase):
    def test_backup_now_publishes_a_verified_set(self):
        self.production.with_user(self.members_a["admin"]).action_backup_now()
        self.process_runs()
        backup = self.production.backup_ids
        self.assertEqual(len(backup), 1)
        self.assertEqual(backup.state, "done", backup.error or backup.run_id.error)
        self.assertEqual(backup.kind, "manual")
        self.assertTrue((Path(self.target_dir) / "sets" / backup.set_id / "manifest.json").exists())
        self.assertEqual(backup.odoo_version, "19.0")
        self.assertGreater(backup.module_count, 3)
        self.assertGreater(backup.dump_mb, 0)
        self.assertEqual(self.production.backup_count, 1)
        self.assertTrue(self.production.last_backup_date)
        project = self.production.project_id
        self.assertEqual(project.last_backup_at, backup.finished_at, "the project's card says so")
        self.assertEqual(project.last_backup_environment_id, self.production)

    def test_blobs_of_a_failed_backup_are_removed_by_the_cron(self):
        self.production.with_user(self.members_a["admin"]).action_backup_now()
        self.process_runs()
        engine = self.production.backup_target_id._engine_target()
        orphan = Path(self.target_dir) / "stray-attachment"
        orphan.write_bytes(b"stored by a backup that then failed")
        digest, size, new = engine.store_blob(orphan)
        self.assertTrue(new)
        engine.note_orphans()  # what a failed backup's partial set leaves
        kept = {p.name for p in engine.blobs_dir.glob("*/*")} - {digest}
        self.env["ipai.ops.backup.target"]._cron_collect_orphans()
        self.assertFalse(engine.has_blob(digest, size), "the orphan blob is removed")
        self.assertEqual({p.name for p in engine.blobs_dir.glob("*/*")}, kept)
        self.assertFalse(engine.has_orphans())

    def test_cron_queues_one_backup_per_day(self):
        Environment = self.env["ipai.ops.environment"]
        Environment._cron_schedule_backups()
        Environment._cron_schedule_backups()
        runs = self.production.run_ids.filtered(lambda r: r.kind == "backup")
        self.assertEqual(len(runs), 1, "the second pass the same day queues nothing")
        self.assertEqual(runs.params, {"kind": "scheduled"})
        self.process_runs()
        self.assertEqual(self.production.backup_ids.kind, "scheduled")
        self.assertEqual(self.production.backup_ids.state, "done")
        # staging is not backed up unless enabled
        self.assertFalse(self.envs_a["staging"].run_ids.filtered(lambda r: r.kind == "backup"))

    def test_retention_prunes_expired_manual_backups(self):
        self.production.retention_manual_days = 0
        for _i in range(3):
            self.production._queue_system_run("backup", {"kind": "manual"})
            self.process_runs()
        backups = self.production.backup_ids
        self.assertEqual(backups.mapped("state"), ["done"] * 3)
        self.production._queue_system_run("prune", {})
        self.process_runs()
        self.assertEqual(sorted(backups.mapped("state")), ["done", "pruned", "pruned"])
        newest = backups.sorted("id")[-1]
        self.assertEqual(newest.state, "done", "the newest backup is never pruned")
        sets = sorted(p.name for p in (Path(self.target_dir) / "sets").iterdir())
        self.assertEqual(sets, [newest.set_id])

    def test_restore_into_a_new_environment_and_drill(self):
        # with the staging addon, production data reaches a new environment as a copy
        self.production.addons_path = ",".join(config["addons_path"])
        self.production._queue_system_run("backup", {"kind": "manual"})
        self.process_runs()
        backup = self.production.backup_ids
        new_db = f"{self.env.cr.dbname[:40]}-restored"
        self.addCleanup(drop_database_now, new_db)
        wizard = (
            self.env["ipai.ops.restore.wizard"]
            .with_user(self.members_a["tester"])
            .create(
                {
                    "backup_id": backup.id,
                    "mode": "new",
                    "new_name": "Restored copy",
                    "new_stage": "staging",
                    "new_database": new_db,
                }
            )
        )
        wizard.action_confirm()
        self.process_runs()
        with self.assertRaises(AccessError):  # a developer may not create staging copies
            wizard.with_user(self.members_a["developer"]).copy().action_confirm()
        copy = self.env["ipai.ops.environment"].search([("database_name", "=", new_db)])
        run = copy.run_ids
        self.assertNotEqual(copy.data_class, "production", "production data arrives masked")
        self.assertEqual(run.state, "done", run.error)
        self.assertEqual(copy.stage, "staging")
        self.assertTrue(Path(copy.filestore_path).is_dir())
        self.addCleanup(self._remove_tree, copy.filestore_path)

        self.env["ipai.ops.backup"]._cron_queue_drills()
        self.process_runs()
        self.assertEqual(backup.drill_state, "passed", backup.drill_message)
        self.assertIn("modules", backup.drill_message)

    def test_replace_keeps_the_old_database_until_discarded(self):
        staging = self.envs_a["staging"]
        staging.write({"database_name": f"{self.production_db[:40]}-stg",
                       "backup_target_id": self.target.id})  # fmt: skip
        self.addCleanup(drop_database_now, staging.database_name)
        self.production._queue_system_run("backup", {"kind": "manual"})
        self.process_runs()
        # the system gives staging a database, then staging is backed up
        staging._queue_system_run("restore", {"backup_id": self.production.backup_ids.id,
                                              "mode": "new"})  # fmt: skip
        staging._queue_system_run("backup", {"kind": "manual"})
        self.process_runs()
        tester = self.members_a["tester"]
        with self.assertRaises(AccessError):  # a backup replaces its own environment only
            self._replace(tester, self.production.backup_ids)
        self._replace(tester, staging.backup_ids)
        self.process_runs()
        runs = staging.run_ids.filtered(lambda r: r.kind == "restore")
        self.assertEqual(runs.mapped("state"), ["done", "done"], runs.mapped("error"))
        old = staging.previous_database
        self.assertTrue(old.startswith(f"{staging.database_name}-old-"))
        self.addCleanup(drop_database_now, old)
        with self.assertRaises(AccessError):  # discarding takes the project admin
            staging.with_user(tester).action_discard_previous()
        staging.with_user(self.members_a["admin"]).action_discard_previous()
        self.process_runs()
        self.assertFalse(staging.previous_database)
        exists = self._exists(old)
        self.assertFalse(exists, "the replaced database is dropped")

    def _replace(self, user, backup):
        wizard = (
            self.env["ipai.ops.restore.wizard"]
            .with_user(user)
            .create({"backup_id": backup.id, "mode": "replace"})
        )
        return wizard.action_confirm()

    def _exists(self, database):
        with closing(sql_db.db_connect("postgres").cursor()) as cr:
            cr.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [database])
            return cr.fetchone()[0]

    def test_failure_is_loud_and_deduplicated(self):
        self.production.database_name = "a_prod_missing"
        admin = self.members_a["admin"]
        for _attempt in range(2):
            self.production._queue_system_run("backup", {"kind": "manual"})
            self.process_runs()
        runs = self.production.run_ids.filtered(lambda r: r.kind == "backup")
        self.assertEqual(runs.mapped("state"), ["failed", "failed"])
        failed = self.production.backup_ids
        self.assertEqual(failed.mapped("state"), ["failed", "failed"], "failures are listed")
        self.assertIn("does not exist", failed[0].error)
        messages = self.production.message_ids.mapped("body")
        self.assertTrue(
            any("Backup of" in str(body) and "failed" in str(body) for body in messages)
        )
        activities = self.production.activity_ids.filtered(lambda a: a.user_id == admin)
        self.assertEqual(len(activities), 1, "one open to-do per admin, not one per failure")

    def test_stale_environment_is_flagged(self):
        three_days_later = fields.Datetime.now() + timedelta(days=3)
        self.production._check_backup_freshness(three_days_later)
        self.assertIn("26 hours", self.production.activity_ids.summary)
        self.production._check_backup_freshness(three_days_later)
        self.assertEqual(len(self.production.activity_ids), 1)

    def test_operation_waits_for_its_pre_update_backup(self):
        admin = self.members_a["admin"]
        # `check` stands in for a module update: any operation can be queued this way
        operation = self.production.with_user(admin)._queue_after_backup("check")
        backup_run = operation.after_run_id
        self.assertEqual(backup_run.kind, "backup")
        self.assertEqual(backup_run.params, {"kind": "pre-update"})
        self.process_runs()
        self.assertEqual(backup_run.state, "done")
        self.assertEqual(self.production.backup_ids.kind, "pre-update")
        self.assertEqual(operation.state, "done")

        self.production.database_name = "a_prod_missing"
        operation = self.production.with_user(admin)._queue_after_backup("check")
        self.process_runs()
        self.assertEqual(operation.after_run_id.state, "failed")
        self.assertEqual(operation.state, "cancelled", "no update without its backup")

    def test_roles_for_backups(self):
        with self.assertRaises(AccessError):
            self.production.with_user(self.members_a["tester"]).action_backup_now()
        self.envs_a["development"].with_user(self.members_a["developer"])._queue_run(
            "backup", {"kind": "manual"}
        )
        with self.assertRaises(AccessError):
            self.envs_a["staging"].with_user(self.members_a["developer"])._queue_run("backup")
        with self.assertRaises(AccessError):
            self.env["ipai.ops.backup"].with_user(self.ops_admin).create(
                {"environment_id": self.production.id}
            )

    def _remove_tree(self, path):
        shutil.rmtree(path, ignore_errors=True)


@tagged("post_install", "-at_install")
class TestOffsiteCopies(BackupCase):
    def test_offsite_copy_serves_a_restore_when_the_local_set_is_lost(self):
        offsite_dir = Path(self.target_dir) / "offsite"
        offsite = self.env["ipai.ops.backup.target"].create(
            {"name": "Off-site", "kind": "remote", "url": f"file://{offsite_dir}"}
        )
        self.production.offsite_target_id = offsite
        self.production._queue_system_run("backup", {"kind": "manual"})
        self.process_runs()
        backup = self.production.backup_ids
        self.assertTrue(backup.offsite_done)
        self.assertTrue((offsite_dir / "sets" / backup.set_id / "manifest.json").exists())

        shutil.rmtree(Path(self.target_dir) / "sets" / backup.set_id)  # the local copy is lost
        self.env["ipai.ops.backup"]._cron_queue_drills()
        self.process_runs()
        self.assertEqual(backup.drill_state, "passed", backup.drill_message)

    def test_remote_target_cannot_be_the_primary(self):
        remote = self.env["ipai.ops.backup.target"].create(
            {"name": "Remote", "kind": "remote", "url": "memory://x"}
        )
        with self.assertRaises(ValidationError):
            self.production.backup_target_id = remote


@tagged("post_install", "-at_install")
class TestSecretsOutOfTheControlPlane(BackupCase):
    def test_storage_options_can_be_referenced_from_the_host(self):
        os.environ["IPAI_OPS_TEST_STORAGE"] = '{"skip_instance_cache": true}'
        self.addCleanup(os.environ.pop, "IPAI_OPS_TEST_STORAGE", None)
        remote = self.env["ipai.ops.backup.target"].create(
            {"name": "Referenced", "kind": "remote", "url": "memory://ref",
             "storage_options": "env:IPAI_OPS_TEST_STORAGE"}
        )  # fmt: skip
        self.assertEqual(remote._options(), {"skip_instance_cache": True})
        with self.assertRaisesRegex(ValidationError, "IPAI_OPS_TEST_UNSET"):
            remote.storage_options = "env:IPAI_OPS_TEST_UNSET"

    def test_a_neutralized_control_plane_keeps_no_stored_credential(self):
        self.server.sudo().password = "stored-Secret-1"
        referenced = self.env["ipai.ops.db.server"].create(
            server_values(name="Referenced", password=False, password_ref="env:PGPASSWORD")
        )
        stored = self.env["ipai.ops.backup.target"].create(
            {"name": "S3", "kind": "remote", "url": "memory://s3",
             "storage_options": '{"secret": "stored-Secret-2"}'}
        )  # fmt: skip
        self.env.flush_all()
        for module in ("ipai_ops_core", "ipai_ops_backup"):
            sql = (Path(__file__).parents[2] / module / "data" / "neutralize.sql").read_text()
            self.env.cr.execute(sql)
        self.env.invalidate_all()
        self.assertFalse(self.server.sudo().password)
        self.assertEqual(referenced.sudo().password_ref, "env:PGPASSWORD", "references stay")
        self.assertFalse(stored.sudo().storage_options)
