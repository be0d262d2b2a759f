import threading
import time
from contextlib import closing, suppress
from datetime import timedelta

import psycopg2

from odoo import fields, sql_db
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from odoo.addons.ipai_ops_core.tests.common import OpsCase, drop_database_now

from ipai_ops.clone import clone_database
from ipai_ops.connection import connection

from ..models.ops_pgss_delta import SNAPSHOT_LOCK_NAMESPACE
from .common import MonitoringCase

# slow enough (a few ms a call) to rank among the top statements of the test database
WORKLOAD = "SELECT count(*), pg_sleep(0.005) FROM res_partner WHERE name = 'monitoring-probe'"
NORMALIZED = "SELECT count(*), pg_sleep($1) FROM res_partner WHERE name = $2"


@tagged("post_install", "-at_install")
class TestMonitoring(MonitoringCase):
    def _workload(self, times):
        with closing(sql_db.db_connect(self.production_db).cursor()) as cr:
            for _ in range(times):
                cr.execute(WORKLOAD)

    def _probe_deltas(self, granularity="sample"):
        normalized = NORMALIZED
        query = self.env["ipai.ops.pgss.query"].search(
            [("environment_id", "=", self.production.id), ("text", "=", normalized)]
        )
        self.assertEqual(len(query), 1, "the statement's text was recorded once")
        return self.env["ipai.ops.pgss.delta"].search(
            [("environment_id", "=", self.production.id), ("queryid", "=", query.queryid),
             ("granularity", "=", granularity)]
        )  # fmt: skip

    def test_snapshots_fill_trends_and_top_queries(self):
        Environment = self.env["ipai.ops.environment"]
        Environment._cron_queue_snapshots()
        Environment._cron_queue_snapshots()
        queued = self.production.run_ids.filtered(lambda r: r.kind == "snapshot")
        self.assertEqual(len(queued), 1, "never two snapshots of an environment at once")
        first = self._snapshot()
        self.assertIn("0 statements", first.summary, "the first sample is the baseline")
        self._workload(20)
        self._snapshot()
        self.assertEqual(sum(self._probe_deltas().mapped("calls")), 20)
        self.assertFalse(self._probe_deltas("day"), "samples are rolled up once an hour")
        sizes = self.env["ipai.ops.size.sample"].search(
            [("environment_id", "=", self.production.id)]
        )
        self.assertEqual(len(sizes), 2)
        self.assertGreater(sizes[0].database_mb, 1)

        wizard = (
            self.env["ipai.ops.top.queries"]
            .with_user(self.members_a["admin"])
            .create({"environment_id": self.production.id, "window": "1h"})
        )
        wizard.action_refresh()
        normalized = NORMALIZED
        line = wizard.line_ids.filtered(lambda row: row.query == normalized)
        self.assertEqual(line.calls, 20)
        wizard.window = "7d"  # daily totals, plus the samples not rolled up yet
        wizard.action_refresh()
        self.assertEqual(wizard.line_ids.filtered(lambda row: row.query == normalized).calls, 20)

        self.production.pgss_rolled_up_until -= timedelta(hours=2)  # an hour later…
        self._snapshot()
        self.assertEqual(sum(self._probe_deltas("day").mapped("calls")), 20)
        wizard.action_refresh()
        self.assertEqual(
            wizard.line_ids.filtered(lambda row: row.query == normalized).calls,
            20,
            "rolled-up samples are not counted twice",
        )

    def test_viewers_see_numbers_but_not_query_texts(self):
        self._snapshot()
        self._workload(5)
        self._snapshot()
        viewer = self.members_a["viewer"]
        self.assertTrue(self.env["ipai.ops.pgss.delta"].with_user(viewer).search([]))
        self.assertFalse(self.env["ipai.ops.pgss.query"].with_user(viewer).search([]))
        some_query = self.env["ipai.ops.pgss.query"].search([], limit=1)
        with self.assertRaises(AccessError):
            some_query.with_user(viewer).read(["text"])
        wizard = (
            self.env["ipai.ops.top.queries"]
            .with_user(viewer)
            .create({"environment_id": self.production.id, "window": "1h"})
        )
        wizard.action_refresh()
        self.assertTrue(wizard.line_ids)
        self.assertTrue(all("hidden" in line.query for line in wizard.line_ids))
        self.assertTrue(
            self.env["ipai.ops.pgss.query"].with_user(self.members_a["tester"]).search([])
        )
        self.assertFalse(self.env["ipai.ops.pgss.delta"].with_user(self.admin_b).search([]))

    def test_alert_is_opened_once_and_closed_when_it_clears(self):
        self.production.alert_connections_pct = 0  # any connection is "too many"
        self._snapshot()
        self._snapshot()
        alerts = self.production.alert_ids.filtered(lambda a: a.condition == "connections")
        self.assertEqual(len(alerts), 1, "one alert per condition, not one per sample")
        self.assertEqual(alerts.state, "open")
        activities = self.production.activity_ids.filtered(
            lambda a: a.user_id == self.members_a["admin"] and a.summary == alerts.message[:120]
        )
        self.assertEqual(len(activities), 1, "one to-do for the project admin")
        self.production.alert_connections_pct = 100
        self._snapshot()
        self.assertEqual(alerts.state, "closed")
        self.assertTrue(alerts.closed_at)
        self.assertFalse(
            self.production.activity_ids.filtered(lambda a: a.summary == alerts.message[:120]),
            "the to-do is done once the condition cleared",
        )

    def test_tables_report_shows_sizes_and_unused_indexes(self):
        report = (
            self.env["ipai.ops.tables.report"]
            .with_user(self.members_a["viewer"])
            .create({"environment_id": self.production.id})
        )
        report.action_refresh()
        self.assertGreater(report.database_mb, 1)
        self.assertIn("public.res_partner", report.table_ids.mapped("name"))
        sizes = report.table_ids.mapped("total_mb")
        self.assertEqual(sizes, sorted(sizes, reverse=True))
        with self.assertRaises(AccessError):
            self.env["ipai.ops.tables.report"].with_user(self.admin_b).create(
                {"environment_id": self.production.id}
            ).action_refresh()

    def test_health_findings_on_the_environment_database(self):
        """A duplicate index, a sequence near the maximum of its column: both named; no
        index is called unused on a database registered minutes ago."""
        spec = self.production.sudo()._engine_spec()
        with connection(spec) as conn, conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE x_health_probe (id serial PRIMARY KEY, code text);"
                "CREATE INDEX x_health_code ON x_health_probe (code);"
                "CREATE INDEX x_health_code_again ON x_health_probe (code);"
                "SELECT setval('x_health_probe_id_seq', 2100000000);"
            )
        self.addCleanup(self._drop_probe_table, spec)
        report = (
            self.env["ipai.ops.tables.report"]
            .with_user(self.members_a["viewer"])
            .create({"environment_id": self.production.id})
        )
        report.action_refresh()
        findings = {(i.finding, i.name) for i in report.index_ids}
        self.assertIn(("duplicate", "x_health_code_again"), findings)
        self.assertFalse([f for f in findings if f[0] == "unused"], "too young to judge")
        self.assertIn("cover 7 days", report.unused_note)
        sequence = report.sequence_ids.filtered(lambda s: s.name == "public.x_health_probe_id_seq")
        self.assertEqual(sequence.feeds, "x_health_probe.id")
        self.assertGreater(sequence.used_pct, 97)
        self.assertGreater(report.xid_age, 0)
        self.assertIn("public.x_health_probe", report.vacuum_ids.mapped("name"))

    def test_server_settings_and_replication_are_for_ops_administrators(self):
        server = self.production.server_id
        review = (
            self.env["ipai.ops.server.review"]
            .with_user(self.ops_admin)
            .create({"server_id": server.id})
        )
        review.action_refresh()
        settings = {line.name: line for line in review.setting_ids}
        self.assertEqual(settings["random_page_cost"].status, "review")
        self.assertIn("SSD", settings["random_page_cost"].reason)
        self.assertEqual(settings["autovacuum"].status, "ok")
        self.assertFalse(review.is_standby)
        for user in (self.members_a["admin"], self.outsider):  # project roles: no server view
            with self.assertRaises(AccessError):
                self.env["ipai.ops.server.review"].with_user(user).create(
                    {"server_id": server.id}
                ).action_refresh()

    def _drop_probe_table(self, spec):
        with connection(spec) as conn, conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS x_health_probe")

    def test_live_statements_are_the_environment_server_s(self):
        """ "Now" reads pg_stat_statements where the environment lives, for its database
        only — not the control plane's own server — and hides texts from viewers."""
        marker = "SELECT pg_sleep(0.5) AS ipai_live_marker"  # costly: among the top ones
        with closing(sql_db.db_connect(self.production_db).cursor()) as cr:
            for _ in range(2):
                cr.execute(marker)
        for role, sees_text in (("tester", True), ("viewer", False)):
            wizard = (
                self.env["ipai.ops.top.queries"]
                .with_user(self.members_a[role])
                .create({"environment_id": self.production.id, "window": "live"})
            )
            wizard.action_refresh()
            texts = wizard.line_ids.mapped("query")
            self.assertEqual(any("ipai_live_marker" in t for t in texts), sees_text, role)
            self.assertTrue(wizard.line_ids, "the production database's statements are listed")

    def test_cancelling_a_backend_is_for_ops_administrators(self):
        sleeper = psycopg2.connect(**sql_db.connection_info_for(self.production_db)[1])
        pid = sleeper.get_backend_pid()
        outcome = {}

        def sleep():
            with suppress(psycopg2.errors.QueryCanceled):
                sleeper.cursor().execute("SELECT pg_sleep(20)")
                outcome["finished"] = True

        thread = threading.Thread(target=sleep)
        thread.start()
        try:
            run = self.production.with_user(self.members_a["admin"])._queue_run(
                "signal", {"pid": pid, "terminate": False}
            )
            self.process_runs()
            self.assertEqual(run.state, "failed", "a project admin is not an ops administrator")
            run = self.production.with_user(self.ops_admin)._queue_run(
                "signal", {"pid": pid, "terminate": False}
            )
            self.process_runs()
            self.assertEqual(run.state, "done", run.error)
            thread.join(timeout=10)
            self.assertNotIn("finished", outcome, "the sleeping query was cancelled")
            self.assertIn(str(pid), run.event_ids[-1].message)
        finally:
            thread.join(timeout=25)
            sleeper.close()

    def test_activity_and_signals_stay_inside_the_environment_database(self):
        """An environment's activity lists its own database's sessions; a pid of another
        database (the control plane's own, here) cannot be cancelled from it."""
        watcher = psycopg2.connect(
            **{
                **sql_db.connection_info_for(self.production_db)[1],
                "application_name": "ipai-watcher",
            }
        )
        try:
            activity = (
                self.env["ipai.ops.activity"]
                .with_user(self.ops_admin)
                .create({"environment_id": self.production.id})
            )
            activity.action_refresh()
            self.assertIn(watcher.get_backend_pid(), activity.line_ids.mapped("pid"))
            self.assertEqual(set(activity.line_ids.mapped("database")), {self.production_db})
            groups = activity.group_ids.filtered(lambda g: g.application == "ipai-watcher")
            self.assertEqual((groups.count, groups.state), (1, "idle"))
            self.assertEqual(sum(activity.group_ids.mapped("count")), activity.connections)
            self.assertGreaterEqual(activity.max_connections, activity.connections)
        finally:
            watcher.close()
        self.env.cr.execute("SELECT pg_backend_pid()")
        control_plane_pid = self.env.cr.fetchone()[0]
        run = self.production.with_user(self.ops_admin)._queue_run(
            "signal", {"pid": control_plane_pid, "terminate": True}
        )
        self.process_runs()
        self.assertEqual(run.state, "failed", "the control plane's session is out of reach")
        self.assertIn("No session", run.error)

    def test_snapshots_stay_out_of_the_operations_list(self):
        snapshot = self.production._queue_system_run("snapshot", {})
        check = self.production._queue_system_run("check", {})
        action = self.env["ir.actions.act_window"]._for_xml_id("ipai_ops_core.action_ipai_ops_run")
        self.assertIn("search_default_operations", action["context"])
        shown = self.env["ipai.ops.run"].search([("in_operations_log", "=", True)])
        self.assertIn(check, shown)
        self.assertNotIn(snapshot, shown, "five-minute samples do not bury the operations")

    def test_last_24_hours_are_the_last_24_hours(self):
        """Not "today since midnight": a sample of 23 hours ago counts, one of 25 does not."""
        now = fields.Datetime.now()
        Delta = self.env["ipai.ops.pgss.delta"].sudo()
        for hours, calls in ((23, 7), (25, 1000)):
            Delta.create(
                {"environment_id": self.production.id, "granularity": "sample",
                 "taken_at": now - timedelta(hours=hours), "queryid": "4242", "calls": calls,
                 "total_ms": 10.0 * calls, "max_ms": 10.0, "rows": calls, "shared_blks_hit": calls,
                 "shared_blks_read": 0, "temp_blks_written": 0}
            )  # fmt: skip
        wizard = self.env["ipai.ops.top.queries"].create(
            {"environment_id": self.production.id, "window": "24h"}
        )
        wizard.action_refresh()
        line = wizard.line_ids.filtered(lambda row: row.queryid == "4242")
        self.assertEqual(line.calls, 7)
        self.assertEqual(wizard.display_name, f"Top queries · {self.production.display_name}")
        self.assertEqual(line.prev_mean_ms, 10.0, "the day before is the previous window")

    def test_only_regressions_that_matter_are_red(self):
        """Three times slower is red for a statement run often and long enough; a tiny one
        (a few calls, a few milliseconds) that is slower by as much is noise."""
        for queryid, calls in (("7001", 500), ("7002", 3)):
            self._sample_rows(queryid, hours=30, calls=calls, mean_ms=2.0)  # the day before
            self._sample_rows(queryid, hours=2, calls=calls, mean_ms=6.0)
        wizard = self.env["ipai.ops.top.queries"].create(
            {"environment_id": self.production.id, "window": "24h"}
        )
        wizard.action_refresh()
        lines = {line.queryid: line for line in wizard.line_ids}
        self.assertAlmostEqual(lines["7001"].change_pct, 200.0)
        self.assertAlmostEqual(lines["7002"].change_pct, 200.0)
        self.assertTrue(lines["7001"].regressed)
        self.assertFalse(lines["7002"].regressed, "3 calls, 18 ms: not a regression")
        self.assertFalse(wizard.lower_bound_note)

    def test_explain_runs_on_a_staging_copy_never_on_production(self):
        queryid = "99001"
        self.env["ipai.ops.pgss.query"].sudo().create(
            {"environment_id": self.production.id, "queryid": queryid,
             "text": "SELECT id FROM res_partner WHERE email = $1"}
        )  # fmt: skip
        self._sample_rows(queryid, hours=1, calls=20, mean_ms=5.0)

        def line_of(role):
            wizard = (
                self.env["ipai.ops.top.queries"]
                .with_user(self.members_a[role])
                .create({"environment_id": self.production.id, "window": "24h"})
            )
            wizard.action_refresh()
            return wizard.line_ids.filtered(lambda row: row.queryid == queryid)

        with self.assertRaisesRegex(UserError, "never on production"):
            line_of("tester").action_explain()
        copy = f"{self.production_db}_explain"
        clone_database(self.production.server_id._engine_spec(), self.production_db, copy)
        self.addCleanup(drop_database_now, copy)
        self.envs_a["staging"].sudo().write(
            {"database_name": copy, "state": "ready", "data_class": "masked"}
        )
        action = line_of("tester").action_explain()
        statement = self.env["ipai.ops.pgss.query"].sudo().browse(action["res_id"])
        self.assertEqual(statement.plan_database, copy, "planned on the copy")
        self.assertIn('"Relation Name": "res_partner"', statement.plan)
        self.assertFalse(statement.plan_values, "the generic plan")
        with self.assertRaises(AccessError):
            line_of("viewer").action_explain()
        line = line_of("tester")
        line.wizard_id.explain_values = "jane@example.com"
        line.action_explain()
        self.assertEqual(statement.plan_values, "jane@example.com", "planned for that value")
        line.wizard_id.explain_values = "one\ntwo"
        with self.assertRaisesRegex(UserError, "takes 1 parameter"):
            line.action_explain()

    def test_an_eviction_makes_the_window_a_lower_bound(self):
        self.production.sudo().pgss_evicted_at = fields.Datetime.now() - timedelta(hours=3)
        wizard = self.env["ipai.ops.top.queries"].create(
            {"environment_id": self.production.id, "window": "24h"}
        )
        self.assertIn("lower bounds", wizard.lower_bound_note)
        wizard.window = "1h"
        self.assertFalse(wizard.lower_bound_note, "the eviction is older than the last hour")

    def test_slower_than_lists_only_the_slow_statements(self):
        self._sample_rows("7101", hours=1, calls=100, mean_ms=2.0)
        self._sample_rows("7102", hours=1, calls=3, mean_ms=80.0)
        wizard = self.env["ipai.ops.top.queries"].create(
            {"environment_id": self.production.id, "window": "24h", "slower_than_ms": 50}
        )
        wizard.action_refresh()
        self.assertEqual(wizard.line_ids.mapped("queryid"), ["7102"])

    def test_a_module_update_is_named_beside_the_statements_it_slowed(self):
        """A snapshot sees the update (only the first one seen is a baseline); a statement
        slower after it than before is tied to it, one already slow before is not."""
        self._snapshot()
        self.assertFalse(self.production.module_change_ids, "the first look is the baseline")
        was = self._set_module_version("web", "19.0.9.9")
        self.addCleanup(self._set_module_version, "web", was)
        self._snapshot()
        change = self.production.module_change_ids
        self.assertEqual(len(change), 1)
        self.assertEqual(change.updated, f"web {was} → 19.0.9.9")
        self.assertIn("updated: web", change.summary)
        self._snapshot()
        self.assertEqual(len(self.production.module_change_ids), 1, "seen once")

        change.sudo().changed_at = fields.Datetime.now() - timedelta(hours=3)
        for queryid, mean_earlier_today in (("7201", 2.0), ("7202", 8.0)):
            self._sample_rows(queryid, hours=30, calls=500, mean_ms=2.0)  # the day before
            self._sample_rows(queryid, hours=5, calls=500, mean_ms=mean_earlier_today)
            self._sample_rows(queryid, hours=1, calls=500, mean_ms=6.0)  # after the update
        wizard = (
            self.env["ipai.ops.top.queries"]
            .with_user(self.members_a["viewer"])
            .create({"environment_id": self.production.id, "window": "24h"})
        )
        wizard.action_refresh()
        lines = {line.queryid: line for line in wizard.line_ids}
        self.assertTrue(lines["7201"].regressed and lines["7202"].regressed)
        self.assertEqual(lines["7201"].module_change_id, change)
        self.assertFalse(lines["7202"].module_change_id, "it was slow before the update")
        message = self.env["ipai.ops.alert"]._regression_message(self.production, ("7201", 200.0))
        self.assertIn("Modules changed on", message)
        self.assertIn("web", message)

    def test_suggested_index_is_verified_on_a_copy_by_testers(self):
        """A table read by sequential scans, filtered by a column no index starts with:
        suggested to every member, its statement shown to testers, who verify it on a
        staging copy (the planner's cost falls); the line's columns are not trusted."""
        spec = self.production.sudo()._engine_spec()
        with connection(spec) as conn, conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE x_suggest_probe (id serial PRIMARY KEY, ref text);"
                "INSERT INTO x_suggest_probe (ref) SELECT 'r' || (i % 3000)"
                " FROM generate_series(1, 30000) AS i; ANALYZE x_suggest_probe;"
            )
        self.addCleanup(self._run_on_production, "DROP TABLE IF EXISTS x_suggest_probe")
        reader = psycopg2.connect(**sql_db.connection_info_for(self.production_db)[1])
        with reader.cursor() as cur:
            for n in range(20):
                cur.execute("SELECT * FROM x_suggest_probe WHERE ref = %s", (f"r{n}",))
        reader.close()  # its statistics are flushed when it ends

        def report_of(role):
            report = (
                self.env["ipai.ops.tables.report"]
                .with_user(self.members_a[role])
                .create({"environment_id": self.production.id})
            )
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                report.action_refresh()
                if report.suggestion_ids:
                    return report
                time.sleep(0.3)
            self.fail(report.suggestion_note)

        viewer_line = report_of("viewer").suggestion_ids
        self.assertEqual((viewer_line.table, viewer_line.column), ("x_suggest_probe", "ref"))
        self.assertIn("hidden", viewer_line.example)
        with self.assertRaises(AccessError):
            viewer_line.action_verify()
        line = report_of("tester").suggestion_ids
        self.assertIn("x_suggest_probe", line.example)
        with self.assertRaisesRegex(UserError, "never on production"):
            line.action_verify()
        copy = f"{self.production_db}_suggest"
        clone_database(self.production.server_id._engine_spec(), self.production_db, copy)
        self.addCleanup(drop_database_now, copy)
        self.envs_a["staging"].sudo().write(
            {"database_name": copy, "state": "ready", "data_class": "masked"}
        )
        line.action_verify()
        self.assertTrue(line.helps, (line.cost_before, line.cost_after))
        self.assertLess(line.cost_after, line.cost_before)
        self.assertEqual(line.verified_on, self.envs_a["staging"].display_name)
        line.column = "id"  # not what the server suggests
        with self.assertRaisesRegex(UserError, "no longer suggested"):
            line.action_verify()

    def _run_on_production(self, statement):
        with connection(self.production.sudo()._engine_spec()) as conn, conn.cursor() as cur:
            cur.execute(statement)

    def test_top_queries_opens_before_an_environment_is_chosen(self):
        """Operations ▸ Monitoring ▸ Top queries opens its wizard with no environment yet."""
        draft = self.env["ipai.ops.top.queries"].with_user(self.members_a["admin"]).new({})
        self.assertFalse(draft.may_see_text)


@tagged("post_install", "-at_install")
class TestSnapshotsOneAtATime(OpsCase):
    """In a transaction of its own: the lock of an earlier test's snapshot would be held."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.production = cls.envs_a["production"]

    def setUp(self):
        super().setUp()
        self.registry_enter_test_mode()

    def test_a_snapshot_waits_for_the_one_already_taking_this_environment(self):
        """Two snapshots of one environment never subtract the same previous sample: the
        second waits, on the environment's lock, until the first has committed."""
        holder = psycopg2.connect(**sql_db.connection_info_for(self.env.cr.dbname)[1])
        holder.autocommit = True
        holder.cursor().execute("SET lock_timeout = '10s'")  # fail, never hang
        key = (SNAPSHOT_LOCK_NAMESPACE, self.production.id)
        holder.cursor().execute("SELECT pg_advisory_lock(%s, %s)", key)  # "the first one"
        release = threading.Timer(
            1.0, lambda: holder.cursor().execute("SELECT pg_advisory_unlock(%s, %s)", key)
        )
        release.start()
        try:
            started = time.monotonic()
            self.env.cr.execute("SET LOCAL lock_timeout = '20s'")  # a bug fails, never hangs
            self.production._queue_system_run("snapshot", {})
            self.process_runs()
            run = self.production.run_ids.filtered(lambda r: r.kind == "snapshot")
            waited = time.monotonic() - started
        finally:
            release.join()
            holder.close()
        self.assertGreaterEqual(waited, 0.9, "it waited for the snapshot in progress")
        self.assertEqual(run.state, "done")
