from pathlib import Path

import requests
from psycopg2 import sql

from odoo.tests import tagged

from odoo.addons.ipai_ops_core.tests.common import drop_database_now, maintenance_spec

from ipai_ops.connection import connection
from ipai_ops.runtime import catcher, engine, front, instance

from .common import (
    InstanceUser,
    RuntimeCase,
    remove_instances,
    start_second_engine,
    write_probe,
)


def answers(url: str) -> bool:
    """Whether the instance at ``url`` serves its login page."""
    try:
        return requests.get(f"{url}/web/login", timeout=10).status_code == 200
    except requests.RequestException:
        return False


@tagged("post_install", "-at_install")
class TestInstanceLifecycle(RuntimeCase):
    """Deploy, stop, start, restart and logs of a development environment, as runs."""

    def deploy(self):
        self.dev.action_instance_deploy()
        self.process_runs()
        run = self.dev.run_ids.filtered(lambda r: r.kind == "instance_deploy")[:1]
        self.assertEqual(run.state, "done", run.error)
        return run

    def kill_instance(self):
        instance.find(self.client, *self.dev._container_names()).kill()

    def last_run(self, kind):
        return self.dev.run_ids.filtered(lambda r: r.kind == kind)[:1]

    def test_deploy_then_stop_start_restart_with_logs(self):
        run = self.deploy()
        self.assertEqual(self.dev.instance_state, "running")
        url = self.dev.instance_url
        self.assertEqual(url, f"http://127.0.0.1:{self.dev.instance_port}")
        self.assertTrue(answers(url), f"{url} does not serve its login page")
        self.assertIn("Running at", run.summary)
        self.assertTrue(run.event_ids.filtered(lambda e: "Healthy: routing" in e.message))
        self.assertIn("Odoo version 19.0", run._instance_log_text(), "no instance log kept")

        log = self.dev.action_instance_logs()
        wizard = self.env["ipai.ops.instance.log"].browse(log["res_id"])
        self.assertIn("HTTP service (werkzeug) running", wizard.text)

        self.dev.action_instance_stop()
        self.process_runs()
        self.assertEqual(self.last_run("instance_stop").state, "done")
        self.assertEqual(self.dev.instance_state, "stopped")
        self.assertFalse(answers(url), "a stopped environment still answers")

        self.dev.action_instance_start()
        self.process_runs()
        self.assertEqual(self.dev.instance_state, "running")
        self.assertTrue(answers(url))

        before = self.dev.instance_image, self.last_run("instance_start").result["container"]
        self.dev.action_instance_restart()
        self.process_runs()
        restart = self.last_run("instance_restart")
        self.assertEqual(restart.state, "done", restart.error)
        self.assertEqual(self.dev.instance_url, url, "a restart changed the URL")
        self.assertNotEqual(restart.result["container"], before[1], "no new container")
        self.assertEqual(self.dev.instance_image, before[0], "a restart changed the code")
        self.assertTrue(answers(url))

    def test_missing_database_fails_the_deploy_and_runs_nothing(self):
        self.dev.sudo().database_name = "ipai_rt_no_such_db"
        self.dev.action_instance_deploy()
        self.process_runs()
        run = self.last_run("instance_deploy")
        self.assertEqual(run.state, "failed")
        self.assertIn("does not exist", run.error)
        self.assertEqual(self.dev.instance_state, "failed", "nothing runs: the deploy failed")
        self.assertFalse(
            self.client.containers.list(all=True, filters={"label": "ipai-ops.project=a"})
        )

    def test_update_waits_for_its_backup_and_a_failed_one_keeps_serving(self):
        self.dev.write({"backup_target_id": self.target.id, "backup_before_update": True})
        self.deploy()
        url, serving = self.dev.instance_url, self.last_run("instance_deploy").result["container"]

        write_probe(self.code_dir, "19.0.2.0.0", data="<odoo><record")
        self.env["ipai.ops.instance.update"].create(
            {"environment_id": self.dev.id, "modules": "rt_probe"}
        ).action_update()
        update = self.last_run("instance_update")
        backup = update.after_run_id
        self.assertEqual((backup.kind, backup.params), ("backup", {"kind": "pre-update"}))
        self.process_runs()
        self.assertEqual(backup.state, "done", backup.error)
        self.assertEqual(update.state, "failed")
        self.assertIn("broken.xml", update._instance_log_text(), "the update's log is not kept")
        self.assertTrue(
            update.event_ids.filtered(lambda e: "goes on serving" in e.message
                                      and "Before update" in e.message)
        )  # fmt: skip
        self.assertEqual(self.dev.instance_state, "running")
        self.assertTrue(answers(url), "a failed update took the instance down")
        self.assertEqual(self.installed_version(), "19.0.1.0.0")
        self.restore_the_backup_taken_before(update, backup)
        self.assertTrue(answers(url), "the instance does not serve the restored database")

        write_probe(self.code_dir, "19.0.3.0.0")
        self.env["ipai.ops.instance.update"].create(
            {"environment_id": self.dev.id, "modules": "rt_probe"}
        ).action_update()
        self.process_runs()
        update = self.last_run("instance_update")
        self.assertEqual(update.state, "done", update.error)
        self.assertEqual(self.installed_version(), "19.0.3.0.0")
        self.assertNotEqual(update.result["container"], serving)
        self.assertEqual(self.dev.instance_url, url)
        self.assertTrue(answers(url))

    def test_files_uploaded_through_the_instance_are_backed_up_and_restored(self):
        """Attachments users upload land in the environment's filestore directory: a backup
        holds them, a restore brings them back, and the instance, restarted on the
        restored data, writes new ones where the next backup reads."""
        self.dev.backup_target_id = self.target
        self.deploy()
        user = InstanceUser(self.dev.instance_url, self.dev_db)
        kept, kept_file = user.upload(b"uploaded before the backup")
        filestore = Path(self.dev.filestore_path)
        self.assertEqual((filestore / kept_file).read_bytes(), b"uploaded before the backup")
        self.dev.action_backup_now()
        self.process_runs()
        backup = self.last_run("backup")
        self.assertEqual(backup.state, "done", backup.error)
        later, _file = user.upload(b"uploaded after the backup")

        wizard = self.env["ipai.ops.restore.wizard"].create(
            {"backup_id": backup.backup_id.id, "mode": "replace"}
        )
        wizard.action_confirm()
        self.process_runs()
        restore = self.last_run("restore")
        self.assertEqual(restore.state, "done", restore.error)
        restarted = restore.event_ids.filtered(lambda e: "Restarting the instance" in e.message)
        self.assertTrue(restarted, "the restore did not restart the instance")
        self.assertNotEqual(restore.environment_id.instance_state, "failed")

        user = InstanceUser(self.dev.instance_url, self.dev_db)
        self.assertEqual(user.download(kept), b"uploaded before the backup")
        self.assertFalse(user.call("ir.attachment", "search", [("id", "=", later)]))
        _new, new_file = user.upload(b"uploaded after the restore")
        self.assertEqual((filestore / new_file).read_bytes(), b"uploaded after the restore",
                         "the restarted instance writes where backups do not read")  # fmt: skip

    def test_a_failed_operation_quotes_no_log_and_its_log_no_password(self):
        """A failure's whole log stays with the run, the password blanked; the run's error,
        which every member reads, quotes none of it."""
        self.deploy()
        password = self.dev.server_id._password()
        self.assertTrue(password and len(password) >= 6, "the test cluster has a password")
        write_probe(self.code_dir, "19.0.2.0.0")
        (self.code_dir / "rt_probe" / "__init__.py").write_text(
            f"raise ValueError('cannot reach the bank with {password}')\n"
        )
        self.addCleanup(write_probe, self.code_dir, "19.0.1.0.0")
        self.env["ipai.ops.instance.update"].create(
            {"environment_id": self.dev.id, "modules": "rt_probe"}
        ).action_update()
        self.process_runs()
        update = self.last_run("instance_update")
        self.assertEqual(update.state, "failed")
        self.assertIn("The whole log is kept with this run", update.error)
        self.assertNotIn("Traceback", update.error)
        self.assertNotIn("cannot reach the bank", update.error)
        kept = update._instance_log_text()
        self.assertIn("cannot reach the bank with ********", kept)
        self.assertNotIn(password, kept)
        self.assertNotIn(password, "".join(update.event_ids.mapped("message")))

    def restore_the_backup_taken_before(self, update, backup):
        """The failed update's way back, as its run form offers it: a restore wizard
        replacing the database with the backup the update waited for."""
        self.assertEqual(update.pre_update_backup_id, backup.backup_id)
        action = update.action_restore_pre_update_backup()
        wizard = self.env[action["res_model"]].with_context(**action["context"]).create({})
        self.assertEqual((wizard.mode, wizard.backup_id), ("replace", backup.backup_id))
        wizard.action_confirm()
        self.process_runs()
        restore = self.last_run("restore")
        self.assertEqual(restore.state, "done", restore.error)

    def test_killed_instance_raises_one_alert_is_restarted_and_clears_it(self):
        self.deploy()
        self.kill_instance()
        Environment = self.env["ipai.ops.environment"]
        Environment._cron_check_instances()
        self.assertEqual(self.dev.instance_state, "down")
        alerts = self.env["ipai.ops.alert"].search(
            [("environment_id", "=", self.dev.id), ("condition", "=", "instance_down")]
        )
        self.assertEqual(len(alerts), 1)
        self.assertEqual(alerts.state, "open")
        restart = self.last_run("instance_restart")
        self.assertEqual(restart.state, "queued", "the policy did not restart it")
        Environment._cron_check_instances()  # while the restart waits: no second alert/run
        self.assertEqual(len(self.dev.run_ids.filtered(lambda r: r.kind == "instance_restart")), 1)
        self.process_runs()
        self.assertEqual(restart.state, "done", restart.error)
        Environment._cron_check_instances()
        self.assertEqual(self.dev.instance_state, "running")
        self.assertEqual(alerts.state, "closed")
        self.assertGreater(self.dev.instance_latency_ms, 0)
        self.assertEqual(self.dev.instance_health, "pass")

    def test_killed_router_and_catcher_are_started_again_by_the_check(self):
        """``docker kill`` stops what the engine's restart policy keeps: the next health
        check starts them, and the instance answers at its URL again."""
        self.deploy()
        self.dev.runtime_host_id._mail_catcher()  # made by the first copy placed on the host
        router, mail = front.find_router(self.client), catcher.find_catcher(self.client)
        router.kill()
        mail.kill()
        self.assertFalse(answers(self.dev.instance_url), "the router still answers")
        self.env["ipai.ops.environment"]._cron_check_instances()
        for container in (router, mail):
            container.reload()
            self.assertEqual(container.status, "running", container.name)
        self.assertTrue(answers(self.dev.instance_url), "not served after the repair")
        self.assertEqual(self.dev.instance_state, "running")
        host = self.dev.runtime_host_id
        self.assertIn("the router, the mail catcher", host.message_ids[:1].body)
        alerts = self.env["ipai.ops.alert"].search(
            [("environment_id", "=", self.dev.id), ("state", "=", "open")]
        )
        self.assertFalse(alerts, alerts.mapped("message"))

    def test_never_policy_alerts_without_restarting(self):
        self.deploy()
        self.dev.restart_policy = "never"
        self.kill_instance()
        self.env["ipai.ops.environment"]._cron_check_instances()
        self.assertEqual(self.dev.instance_state, "down")
        self.assertFalse(self.last_run("instance_restart"))


@tagged("post_install", "-at_install")
class TestTwoHosts(RuntimeCase):
    """Two runtime hosts: each environment runs on the one it is placed on, and only there."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        endpoint = start_second_engine(cls)
        cls.other_client = engine.connect(endpoint)
        cls.addClassCleanup(cls.other_client.close)
        cls.other_host = cls.env["ipai.ops.runtime.host"].create(
            # both hosts are this machine here: their routers need ports of their own
            {"name": "Second engine", "endpoint": endpoint, "port_low": 18301,
             "port_high": 18399}
        )  # fmt: skip
        cls.staging = cls.envs_a["staging"]
        cls.staging_db = f"{cls.dev_db}_st"
        drop_database_now(cls.staging_db)
        with connection(maintenance_spec()) as conn, conn.cursor() as cr:
            cr.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(cls.staging_db), sql.Identifier(cls.dev_db)
                )
            )
        cls.addClassCleanup(drop_database_now, cls.staging_db)
        cls.addClassCleanup(remove_instances, cls.other_client, cls.project_a.code)
        cls.staging.write({"database_name": cls.staging_db, "addons_path": str(cls.code_dir),
                           "runtime_host_id": cls.other_host.id})  # fmt: skip

    def test_each_environment_runs_on_its_own_host(self):
        self.dev.action_instance_deploy()
        self.staging.action_instance_deploy()
        self.process_runs()
        for environment in (self.dev, self.staging):
            run = environment.run_ids.filtered(lambda r: r.kind == "instance_deploy")
            self.assertEqual(run.state, "done", run.error)
            self.assertTrue(answers(environment.instance_url), environment.instance_url)
        self.assertNotEqual(self.dev.instance_url, self.staging.instance_url)
        dev_names = self.dev._container_names()
        staging_names = self.staging._container_names()
        self.assertIsNotNone(instance.find(self.client, *dev_names))
        self.assertIsNone(instance.find(self.client, *staging_names), "staging ran on host 1")
        self.assertIsNotNone(instance.find(self.other_client, *staging_names))
        self.assertIsNone(instance.find(self.other_client, *dev_names), "development on host 2")
        self.assertIn(":183", self.staging.instance_url, "not in the second host's ports")
