import json
from datetime import timedelta

import psycopg2

from odoo.exceptions import UserError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from ..models.ops_run import utcnow
from .common import OpsCase


@tagged("post_install", "-at_install")
class TestRunRetention(OpsCase):
    """Finished runs are deleted after their kind's retention, and only those."""

    def _finished_run(self, days_ago: int, kind="check"):
        run = self.envs_a["development"]._queue_system_run(kind)
        run.sudo().write({"state": "running", "started_at": utcnow()})
        run._transition("done", {"finished_at": utcnow() - timedelta(days=days_ago)})
        return run

    def test_retention_deletes_exactly_what_its_policy_says(self):
        old, recent = self._finished_run(91), self._finished_run(89)
        unfinished = self.envs_a["development"]._queue_system_run("check")
        waiting_on_it = self._finished_run(200)
        self.envs_a["development"]._create_run("check", after=waiting_on_it)
        events = old.event_ids
        self.assertTrue(events)
        deleted = self.env["ipai.ops.run.retention"]._apply_run_retention()
        self.assertEqual(deleted, 1)
        self.assertFalse(old.exists(), "a check older than 90 days is deleted")
        self.assertFalse(events.exists(), "with its events")
        self.assertTrue(recent.exists(), "a younger one is kept")
        self.assertTrue(unfinished.exists(), "an unfinished run is never deleted")
        self.assertTrue(waiting_on_it.exists(), "nor one another run points to")

    def test_retention_is_configurable_per_kind(self):
        run = self._finished_run(10)
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("ipai_ops.run_retention_days.check", "5")
        self.env["ipai.ops.run.retention"]._apply_run_retention()
        self.assertFalse(run.exists())

    def test_without_the_retention_policy_runs_stay_undeletable(self):
        run = self._finished_run(1000)
        with (
            mute_logger("odoo.sql_db"),
            self.assertRaises(psycopg2.errors.RestrictViolation),
            self.env.cr.savepoint(),
        ):
            self.env.cr.execute("DELETE FROM ipai_ops_run WHERE id = %s", [run.id])


@tagged("post_install", "-at_install")
class TestRunsForPeople(OpsCase):
    def test_buttons_show_only_what_the_user_may_start(self):
        """Each role is offered a check exactly where it may run one; others nothing."""
        may_check = {
            "viewer": set(),
            "developer": {"development"},
            "tester": {"development", "staging"},
            "admin": {"development", "staging", "production"},
        }
        for role, stages in may_check.items():
            for stage, environment in self.envs_a.items():
                with self.subTest(role=role, stage=stage):
                    offered = environment.with_user(self.members_a[role]).allowed_kinds or ""
                    self.assertEqual("check" in offered.split(), stage in stages)
        self.assertFalse(self.envs_a["production"].with_user(self.outsider).allowed_kinds)

    def test_a_requester_is_archived_not_deleted_and_the_refusal_waits_for_nothing(self):
        """Deleting a user who asked for a run is refused at once, naming the way out;
        the executor's wake-up calls never name them, so no cron pass holds a row their
        deletion would wait for."""
        developer = self.members_a["developer"]
        run = self.envs_a["development"].with_user(developer)._queue_run("check")
        lanes = run._executor_crons()
        triggers = self.env["ir.cron.trigger"].sudo().search([("cron_id", "in", lanes.ids)])
        self.assertTrue(triggers, "queueing a run wakes the executor up")
        self.assertNotIn(developer, triggers.create_uid, "a trigger names the user who asked")
        with self.assertRaisesRegex(UserError, "archive these users"):
            developer.sudo().unlink()
        self.assertTrue(developer.exists())
        developer.sudo().action_archive()  # the way out: the trail keeps their name
        self.assertEqual(run.requester_name, developer.name)
        bystander = new_test_user(self.env, "a_bystander", groups="base.group_user")
        bystander.sudo().unlink()  # a user who asked for nothing is deleted as usual
        self.assertFalse(bystander.exists())

    def test_runs_last_a_positive_time(self):
        run = self.envs_a["development"]._queue_system_run("check")
        run.sudo().write({"state": "running", "started_at": utcnow()})
        run._transition("failed", {"error": "x"})
        self.assertGreaterEqual(run.finished_at, run.started_at)
        self.assertGreaterEqual(run.duration, 0)


@tagged("post_install", "-at_install")
class TestLiveProgress(OpsCase):
    """What a running operation reports: its phases once each in the trail, its fraction
    on the run, and a notification to the project's members only."""

    def setUp(self):
        super().setUp()
        self.registry_enter_test_mode()

    def _notified(self) -> set[int]:
        """Partners told that a run changed."""
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT channel FROM bus_bus WHERE message::jsonb ->> 'type' = 'ipai_ops.run/changed'"
        )
        return {json.loads(channel)[2] for (channel,) in self.env.cr.fetchall()}

    def test_a_running_operation_reports_its_phases_and_fraction(self):
        environment = self.envs_a["development"]
        run = environment._queue_run("check")
        claimed = self.env["ipai.ops.run"]._claim_next_run_id(self.env.cr, "test:1")
        self.assertEqual(claimed, run.id)
        run.invalidate_recordset()
        report = run._progress_reporter()
        report("Dumping")
        report("Dumping", fraction=0.25)
        report("Dumping", fraction=0.5)  # within the second: not stored
        report("Storing the filestore", fraction=0.6)
        report("Storing the filestore", fraction=0.4)  # never backwards
        run.invalidate_recordset()
        self.assertEqual(run.phase, "Storing the filestore")
        self.assertAlmostEqual(run.progress, 60.0)
        messages = run.event_ids.mapped("message")
        self.assertEqual(messages.count("Dumping"), 1, "a phase is one event, not one per tick")
        self.assertIn("Storing the filestore", messages)
        self.assertTrue(all(run.event_ids.mapped("at")), "every event has its own time")

        members = self.project_a.member_ids.user_id.partner_id
        told = self._notified()
        self.assertTrue(set(members.ids) <= told, "every member's browser is told")
        self.assertNotIn(self.outsider.partner_id.id, told)
        self.assertNotIn(self.admin_b.partner_id.id, told, "another project's admin is not")
