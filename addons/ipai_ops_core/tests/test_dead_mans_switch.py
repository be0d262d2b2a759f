"""The run executor's dead man's switch: when no cron lane runs any more (their threads
died with a PostgreSQL restart), the environments say so and the health probe fails."""

import json

from odoo.tests import HttpCase, tagged
from odoo.tools import SQL

from .common import OpsCase


class ExecutorClock:
    """Sets when the executor lanes last finished a pass, as ir.cron records it."""

    def _lanes_last_ran(self, minutes_ago: int) -> None:
        lanes = self.env["ipai.ops.run"]._executor_crons()
        self.env.cr.execute(
            SQL(
                "UPDATE ir_cron SET lastcall = now() AT TIME ZONE 'UTC' - %s * interval '1 min'"
                " WHERE id IN %s",
                minutes_ago,
                tuple(lanes.ids),
            )
        )
        self.env.invalidate_all()


@tagged("post_install", "-at_install")
class TestDeadMansSwitch(ExecutorClock, OpsCase):
    def test_a_stopped_executor_is_flagged_on_every_environment(self):
        developer = self.members_a["developer"]
        self._lanes_last_ran(60)
        self.envs_a["development"].with_user(developer)._queue_run("check")
        health = self.env["ipai.ops.run"]._executor_health()
        self.assertFalse(health.alive)
        self.assertGreaterEqual(health.queued, 1)
        warning = self.envs_a["development"].with_user(developer).executor_warning
        self.assertIn("has not run since", warning)
        self.assertIn("queued operation(s) wait", warning)

        self._lanes_last_ran(1)  # a lane finished a pass a minute ago
        self.assertTrue(self.env["ipai.ops.run"]._executor_health().alive)
        self.assertFalse(self.envs_a["development"].with_user(developer).executor_warning)

    def test_a_long_run_with_a_fresh_heartbeat_keeps_it_alive(self):
        self._lanes_last_ran(60)  # both lanes busy with long backups: no pass finished
        run = self.envs_a["development"]._queue_system_run("check")
        self.env.cr.execute(
            SQL(
                "UPDATE ipai_ops_run SET state = 'running', worker = 'busy:1',"
                " started_at = now() AT TIME ZONE 'UTC',"
                " heartbeat_at = now() AT TIME ZONE 'UTC' WHERE id = %s",
                run.id,
            )
        )
        self.assertTrue(self.env["ipai.ops.run"]._executor_health().alive)


@tagged("post_install", "-at_install")
class TestHealthProbe(ExecutorClock, HttpCase):
    def _probe(self):
        self.authenticate(None, None)  # a session that names the database, and nobody
        response = self.url_open("/ipai_ops/health")
        return response.status_code, json.loads(response.text)

    def test_the_probe_answers_503_while_the_executor_is_down(self):
        self._lanes_last_ran(60)
        status, body = self._probe()
        self.assertEqual((status, body["status"]), (503, "executor down"))
        self.assertEqual(set(body), {"status", "last_pass", "running", "queued",
                                     "oldest_queued_seconds"}, "counts only, no names")  # fmt: skip
        self._lanes_last_ran(0)
        status, body = self._probe()
        self.assertEqual((status, body["status"]), (200, "ok"))
