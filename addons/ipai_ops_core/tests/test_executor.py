import threading
import time
from contextlib import closing
from datetime import timedelta

from odoo import SUPERUSER_ID, api, fields, sql_db
from odoo.exceptions import UserError
from odoo.tests import tagged

from ipai_ops.connection import connection
from ipai_ops.errors import ProtectedDatabase
from ipai_ops.guards import drop_database, is_production, mark_production

from ..heartbeat import ADVISORY_LOCK_NAMESPACE, RunHeartbeat
from .common import OpsCase, server_values


@tagged("post_install", "-at_install")
class TestExecutor(OpsCase):
    def setUp(self):
        super().setUp()
        # the executor opens its own cursors; in tests they must share the test transaction
        self.registry_enter_test_mode()

    def test_check_on_a_real_odoo_database(self):
        production = self.envs_a["production"]
        run = production.with_user(self.members_a["admin"])._queue_run("check")
        self.process_runs()
        self.assertEqual(run.state, "done", run.error)
        self.assertTrue(run.worker and run.started_at and run.finished_at)
        self.assertEqual(production.state, "ready")
        self.assertTrue(production.odoo_version.startswith("19.0"), production.odoo_version)
        self.assertGreater(production.installed_modules, 3)
        self.assertGreater(production.database_size_mb, 1)
        self.assertEqual(run.result["database"], self.production_db)
        self.assertIn(f'"database": "{self.production_db}"', run.result_text, "readable JSON")
        with connection(production.server_id._engine_spec()) as conn:
            self.addCleanup(self._unmark, production)
            self.assertTrue(is_production(conn, production.database_name))
            with self.assertRaises(ProtectedDatabase):
                drop_database(conn, production.database_name)
        messages = run.event_ids.mapped("message")
        self.assertIn("Queued", messages[0])
        self.assertTrue(any(m.startswith("Started on") for m in messages), messages)
        self.assertIn("installed modules", messages[-1])

    def _unmark(self, environment):
        with connection(environment.server_id._engine_spec()) as conn:
            mark_production(conn, environment.database_name, production=False)

    def test_unreachable_server_fails_the_run_clearly(self):
        server = self.env["ipai.ops.db.server"].create(
            server_values(name="Nowhere", host="127.0.0.1", port=1)
        )
        environment = self.envs_a["development"]
        environment.server_id = server
        run = environment.with_user(self.members_a["developer"])._queue_run("check")
        for attempt in (1, 2):  # a server that does not answer may come back: retried
            self.process_runs()
            self.assertEqual(run.state, "retrying")
            self.assertEqual(run.attempt, attempt)
            self.assertGreater(run.retry_at, run.finished_at or run.started_at)
            self.assertIn(f"Attempt {attempt} of 3 failed", run.event_ids[-1].message)
            self.process_runs()
            self.assertEqual(run.state, "retrying", "not before its time")
            run.sudo().retry_at = run.started_at  # its time has come
        self.process_runs()
        self.assertEqual((run.state, run.attempt), ("failed", 3), "after the last attempt")
        self.assertIn("cannot be reached", run.error)
        self.assertNotIn("Traceback", run.error)
        self.assertEqual(environment.state, "unreachable")
        self.assertEqual(run.event_ids[-1].level, "error")

    def test_a_transient_failure_is_retried_and_then_succeeds(self):
        environment = self.envs_a["production"]
        real_port = environment.server_id.port
        environment.server_id.port = 1  # the server is restarting
        run = environment.with_user(self.members_a["admin"])._queue_run("check")
        self.process_runs()
        self.assertEqual(run.state, "retrying")
        environment.server_id.port = real_port  # back
        run.sudo().retry_at = run.started_at
        self.process_runs()
        self.assertEqual((run.state, run.attempt), ("done", 2), run.error)
        self.addCleanup(self._unmark, environment)
        self.assertGreaterEqual(run.finished_at, run.started_at)
        seconds = (run.finished_at - run.started_at).total_seconds()
        self.assertGreater(
            run.duration,
            0,
            f"a sub-second run lasts more than 0 ({run.started_at}, {run.finished_at})",
        )
        self.assertAlmostEqual(run.duration, seconds, places=2)

    def test_a_permanent_failure_fails_at_once(self):
        run = self.envs_a["development"].with_user(self.members_a["developer"])._queue_run("check")
        self.process_runs()
        self.assertEqual((run.state, run.attempt), ("failed", 1), "a missing database stays so")
        self.assertFalse(run.retry_at)

    def test_the_state_machine_refuses_what_makes_no_sense(self):
        run = self.envs_a["development"]._queue_system_run("check")
        with self.assertRaises(UserError):
            run._transition("done")  # never without running
        run.with_user(self.members_a["developer"]).action_cancel()
        with self.assertRaises(UserError):
            run._transition("queued")

    def test_wrong_password_fails_without_revealing_it(self):
        secret = "wrong-Secret-4711"
        server = self.env["ipai.ops.db.server"].create(
            server_values(name="Bad password", password=secret)
        )
        environment = self.envs_a["staging"]
        environment.write({"server_id": server.id, "database_name": self.env.cr.dbname})
        run = environment.with_user(self.members_a["tester"])._queue_run("check")
        self.process_runs()
        self.assertEqual(run.state, "failed")
        self.assertIn("password", run.error)
        texts = [run.error, run.summary, *run.event_ids.mapped("message")]
        self.assertFalse([text for text in texts if secret in text])

    def test_missing_database_fails_the_run(self):
        run = self.envs_a["development"].with_user(self.members_a["developer"])._queue_run("check")
        self.process_runs()
        self.assertEqual(run.state, "failed")
        self.assertIn("does not exist", run.error)

    def test_queueing_triggers_the_executor(self):
        cron = self.env.ref("ipai_ops_core.cron_run_executor")
        before = self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)])
        self.envs_a["development"].with_user(self.members_a["developer"])._queue_run("check")
        after = self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)])
        self.assertEqual(after, before + 1)

    def _running_run(self, heartbeat_age: int):
        run = self.envs_a["development"].with_user(self.members_a["developer"])._queue_run("check")
        run.sudo().write(
            {
                "state": "running",
                "worker": "gone-host:4242",
                "started_at": fields.Datetime.now() - timedelta(seconds=heartbeat_age + 5),
                "heartbeat_at": fields.Datetime.now() - timedelta(seconds=heartbeat_age),
            }
        )
        return run

    def test_run_whose_worker_died_is_failed_after_the_timeout(self):
        fresh = self._running_run(heartbeat_age=5)
        dead = self._running_run(heartbeat_age=600)
        last_chance = self._running_run(heartbeat_age=600)
        last_chance.sudo().attempt = 3
        self.env["ipai.ops.run"]._fail_orphaned_runs()
        self.assertEqual(fresh.state, "running", "a run with a fresh heartbeat is left alone")
        self.assertEqual(dead.state, "retrying", "a dead worker's run is attempted again")
        self.assertIn("gone-host:4242 stopped without finishing", dead.event_ids[-1].message)
        self.assertEqual(last_chance.state, "failed", "after its last attempt it fails")
        self.assertIn("stopped without finishing", last_chance.error)

    def test_run_whose_worker_holds_its_lock_is_not_failed(self):
        """A stale heartbeat alone is not proof of death while the worker's lock is held."""
        run = self._running_run(heartbeat_age=600)
        with closing(sql_db.db_connect(self.env.cr.dbname).cursor()) as worker_cr:
            worker_cr.execute("SELECT pg_advisory_lock(%s, %s)", (ADVISORY_LOCK_NAMESPACE, run.id))
            self.env["ipai.ops.run"]._fail_orphaned_runs()
            self.assertEqual(run.state, "running")
            worker_cr.execute("SELECT pg_advisory_unlock_all()")


@tagged("post_install", "-at_install")
class TestConcurrentClaims(OpsCase):
    """Two workers with their own transactions never claim the same run."""

    def setUp(self):
        super().setUp()
        self.dbname = self.env.cr.dbname
        self.run_ids = self._commit_queued_runs(3)
        self.addCleanup(self._purge)

    def _commit_queued_runs(self, count: int) -> list[int]:
        with closing(sql_db.db_connect(self.dbname).cursor()) as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            server = env["ipai.ops.db.server"].create(server_values(name="Claims"))
            project = env["ipai.ops.project"].create({"name": "Claims", "code": "claims"})
            environment = env["ipai.ops.environment"].create(
                {
                    "name": "Claims dev",
                    "project_id": project.id,
                    "server_id": server.id,
                    "database_name": "claims_dev",
                }
            )
            runs = env["ipai.ops.run"].create(
                [{"kind": "check", "environment_id": environment.id} for _i in range(count)]
            )
            self.committed = (server.id, project.id, environment.id)
            # committed on purpose: other connections must see these runs to compete for them
            cr.commit()  # pylint: disable=invalid-commit
            return runs.ids

    def _purge(self):
        server_id, project_id, environment_id = self.committed
        with closing(sql_db.db_connect(self.dbname).cursor()) as cr:
            # the audit trail refuses deletions; only the table's owner may lift that, here
            cr.execute("ALTER TABLE ipai_ops_run DISABLE TRIGGER ipai_ops_run_append_only")
            cr.execute("DELETE FROM ipai_ops_run WHERE id = ANY(%s)", [self.run_ids])
            cr.execute("ALTER TABLE ipai_ops_run ENABLE TRIGGER ipai_ops_run_append_only")
            cr.execute("DELETE FROM ipai_ops_environment WHERE id = %s", [environment_id])
            cr.execute("DELETE FROM ipai_ops_project WHERE id = %s", [project_id])
            cr.execute("DELETE FROM ipai_ops_db_server WHERE id = %s", [server_id])
            cr.commit()  # pylint: disable=invalid-commit

    def test_two_claimers_get_different_runs_or_none(self):
        Run = self.env["ipai.ops.run"]
        with (
            closing(sql_db.db_connect(self.dbname).cursor()) as worker_1,
            closing(sql_db.db_connect(self.dbname).cursor()) as worker_2,
        ):
            first = Run._claim_next_run_id(worker_1, "w1")
            second = Run._claim_next_run_id(worker_2, "w2")  # worker_1 has not committed
            self.assertEqual(first, self.run_ids[0])
            self.assertEqual(second, self.run_ids[1])
            worker_1.commit()
            worker_2.commit()

            third = Run._claim_next_run_id(worker_1, "w1")
            self.assertEqual(third, self.run_ids[2])
            self.assertIsNone(Run._claim_next_run_id(worker_2, "w2"), "only one run was left")
            worker_1.commit()
            worker_2.rollback()

            worker_2.execute(
                "SELECT worker, count(*) FROM ipai_ops_run WHERE id = ANY(%s)"
                " AND state = 'running' GROUP BY worker ORDER BY worker",
                [self.run_ids],
            )
            self.assertEqual(worker_2.fetchall(), [("w1", 2), ("w2", 1)])

    def test_heartbeat_never_waits_for_its_own_runs_row(self):
        """The run's transaction holds its row (it wrote it): the heartbeat skips the beat
        instead of waiting for a lock that is released only after the heartbeat stops."""
        run_id = self.run_ids[0]
        with closing(sql_db.db_connect(self.dbname).cursor()) as cr:
            cr.execute("UPDATE ipai_ops_run SET state = 'running' WHERE id = %s", [run_id])
            cr.commit()  # pylint: disable=invalid-commit
        with closing(sql_db.db_connect(self.dbname).cursor()) as worker:
            worker.execute("UPDATE ipai_ops_run SET summary = 'working' WHERE id = %s", [run_id])
            stopped = threading.Event()

            def beat_then_stop():
                with RunHeartbeat(self.dbname, run_id, 0.02):
                    time.sleep(0.2)  # several beats while the row is locked
                stopped.set()

            beating = threading.Thread(target=beat_then_stop)
            beating.start()
            beating.join(timeout=10)
            self.assertTrue(stopped.is_set(), "the heartbeat stopped while the row was locked")
            worker.rollback()


@tagged("post_install", "-at_install")
class TestRunOrder(OpsCase):
    """A run queued after another waits for it, and never runs if it failed."""

    def setUp(self):
        super().setUp()
        self.registry_enter_test_mode()

    def test_dependent_runs_after_its_predecessor_succeeds(self):
        admin = self.members_a["admin"]
        first = self.envs_a["production"].with_user(admin)._queue_run("check")
        second = self.envs_a["production"].with_user(admin)._queue_run("check", after=first)
        second.sudo().priority = 1  # would be claimed first if it did not have to wait
        Run = self.env["ipai.ops.run"]
        self.env.flush_all()
        claimed = Run._claim_next_run_id(self.env.cr, "w")
        self.assertEqual(claimed, first.id, "the dependent run is not claimable yet")
        self.env.invalidate_all()
        Run._execute_run_id(claimed)
        self.process_runs()
        self.assertEqual((first.state, second.state), ("done", "done"))
        self.assertLess(first.finished_at, second.finished_at + timedelta(seconds=1))

    def test_dependent_is_cancelled_when_predecessor_fails(self):
        developer = self.members_a["developer"]
        failing = self.envs_a["development"].with_user(developer)._queue_run("check")  # no db
        after = self.envs_a["development"].with_user(developer)._queue_run("check", after=failing)
        self.process_runs()
        self.assertEqual(failing.state, "failed")
        self.assertEqual(after.state, "cancelled")
        self.assertIn("had to succeed first", after.event_ids[-1].message)
