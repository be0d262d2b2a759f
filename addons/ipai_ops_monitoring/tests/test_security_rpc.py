"""Activity and cancel/terminate, attacked over JSON-RPC by every role on every stage."""

import psycopg2

from odoo import fields, sql_db
from odoo.tests import tagged

from odoo.addons.ipai_ops_core.tests.common import OpsCase
from odoo.addons.ipai_ops_core.tests.rpc import Refused, RpcCase

STAGES = ("production", "staging", "development")


@tagged("post_install", "-at_install")
class TestSignalsOverRpc(RpcCase, OpsCase):
    def _signal(self, user, environment) -> bool:
        """Open the environment's activity and cancel a (made-up) session's query."""
        try:
            activity = self.call(
                user, "ipai.ops.activity", "create", [{"environment_id": environment.id}]
            )
            line = self.call(
                user, "ipai.ops.activity.line", "create",
                [{"activity_id": activity[0], "pid": 1, "database": environment.database_name}],
            )  # fmt: skip
            self.call(user, "ipai.ops.activity.line", "action_cancel", line)
        except Refused:
            return False
        return True

    def test_only_ops_administrators_see_activity_and_signal(self):
        users = {**self.members_a, "ops_admin": self.ops_admin, "outsider": self.outsider}
        for role, user in users.items():
            for stage in STAGES:
                with self.subTest(role=role, stage=stage):
                    before = self.env["ipai.ops.run"].sudo().search_count([("kind", "=", "signal")])
                    allowed = self._signal(user, self.envs_a[stage])
                    self.assertEqual(allowed, role == "ops_admin")
                    after = self.env["ipai.ops.run"].sudo().search_count([("kind", "=", "signal")])
                    self.assertEqual(after - before, int(allowed), "a run exactly when allowed")


ROLES = ("viewer", "developer", "tester", "admin")


@tagged("post_install", "-at_install")
class TestReportsOverRpc(RpcCase, OpsCase):
    """This session's reports and fields, called over JSON-RPC by every role: who may open
    which report, who may explain a statement, and that no role writes the system's
    bookkeeping."""

    @property
    def production(self):
        return self.envs_a["production"]

    def _users(self):
        return {**self.members_a, "ops_admin": self.ops_admin, "outsider": self.outsider,
                "other_admin": self.admin_b}  # fmt: skip

    def _report(self, user, model, values, method="action_refresh") -> bool:
        try:
            ids = self.call(user, model, "create", [values])
            self.call(user, model, method, ids)
        except Refused:
            return False
        return True

    def test_server_settings_and_replication(self):
        for role, user in self._users().items():
            with self.subTest(role=role):
                allowed = self._report(
                    user, "ipai.ops.server.review", {"server_id": self.production.server_id.id}
                )
                self.assertEqual(allowed, role == "ops_admin", "server-wide: ops admins only")

    def test_tables_and_indexes_report(self):
        for role, user in self._users().items():
            with self.subTest(role=role):
                allowed = self._report(
                    user, "ipai.ops.tables.report", {"environment_id": self.production.id}
                )
                expected = role in (*ROLES, "ops_admin")  # members of the project see it
                self.assertEqual(allowed, expected)

    def test_explain_needs_the_tester_role_and_a_copy(self):
        queryid = "99002"
        self.env["ipai.ops.pgss.query"].sudo().create(
            {"environment_id": self.production.id, "queryid": queryid,
             "text": "SELECT id FROM res_partner WHERE email = $1"}
        )  # fmt: skip
        self.env["ipai.ops.pgss.delta"].sudo().create(
            {"environment_id": self.production.id, "granularity": "sample", "calls": 5,
             "taken_at": fields.Datetime.now(), "queryid": queryid, "total_ms": 50.0,
             "max_ms": 10.0, "rows": 5, "shared_blks_hit": 5, "shared_blks_read": 0,
             "temp_blks_written": 0}
        )  # fmt: skip
        for role in ROLES:
            user = self.members_a[role]
            with self.subTest(role=role):
                wizard = self.call(
                    user, "ipai.ops.top.queries", "create",
                    [{"environment_id": self.production.id, "window": "24h"}],
                )  # fmt: skip
                self.call(user, "ipai.ops.top.queries", "action_refresh", wizard)
                lines = self.call(
                    user, "ipai.ops.top.queries.line", "search_read",
                    [("wizard_id", "in", wizard), ("queryid", "=", queryid)], ["id"],
                )  # fmt: skip
                refused = self.assertRefused(
                    user, "ipai.ops.top.queries.line", "action_explain", [lines[0]["id"]]
                )
                # testers and admins pass the role check and meet the no-production rule
                expected = "never on production" if role in ("tester", "admin") else "tester"
                self.assertIn(expected, refused.message)
        statement = self.env["ipai.ops.pgss.query"].sudo().search([("queryid", "=", queryid)])
        self.assertFalse(statement.plan, "nothing was explained on production")

    def test_a_made_up_statement_is_never_recorded(self):
        """A tester's own line (its queryid and text typed in) records no statement text:
        texts come from the server."""
        tester = self.members_a["tester"]
        wizard = self.call(
            tester, "ipai.ops.top.queries", "create",
            [{"environment_id": self.production.id, "window": "live"}],
        )  # fmt: skip
        line = self.call(
            tester, "ipai.ops.top.queries.line", "create",
            [{"wizard_id": wizard[0], "queryid": "424242", "query": "SELECT 'forged'"}],
        )  # fmt: skip
        refused = self.assertRefused(tester, "ipai.ops.top.queries.line", "action_explain", line)
        self.assertIn("no longer holds", refused.message)
        forged = self.env["ipai.ops.pgss.query"].sudo().search([("text", "ilike", "forged")])
        self.assertFalse(forged)

    def test_the_system_s_bookkeeping_is_not_writable(self):
        run = self.production._queue_system_run("check")
        statement = (
            self.env["ipai.ops.pgss.query"]
            .sudo()
            .create({"environment_id": self.production.id, "queryid": "99003", "text": "SELECT 1"})
        )
        writes = [
            ("ipai.ops.environment", self.production.id, {"pgss_evicted_at": "2026-01-01"}),
            ("ipai.ops.run", run.id, {"kind_label": "Backup"}),
            ("ipai.ops.pgss.query", statement.id, {"plan": "{}", "plan_database": "x"}),
            ("ipai.ops.pgss.query", statement.id, {"plan_values": "x"}),
            ("ipai.ops.environment", self.production.id, {"modules_digest": "x"}),
            ("ipai.ops.environment", self.production.id, {"module_versions": {"base": "1"}}),
        ]
        for role, user in self._users().items():
            for model, record, values in writes:
                with self.subTest(role=role, model=model):
                    self.assertRefused(user, model, "write", [record], values)

    def test_module_updates_are_the_project_s_and_nobody_writes_them(self):
        change = self.env["ipai.ops.module.change"].create(
            {"environment_id": self.production.id, "changed_at": fields.Datetime.now(),
             "summary": "Modules updated: sale", "updated": "sale 19.0.1.0 → 19.0.1.1"}
        )  # fmt: skip
        for role, user in self._users().items():
            with self.subTest(role=role):
                seen = self.call(
                    user, "ipai.ops.module.change", "search_read",
                    [("id", "=", change.id)], ["summary"],
                )  # fmt: skip
                self.assertEqual(bool(seen), role in (*ROLES, "ops_admin"))
                self.assertRefused(user, "ipai.ops.module.change", "write", [change.id],
                                   {"summary": "nothing happened"})  # fmt: skip
                self.assertRefused(user, "ipai.ops.module.change", "unlink", [change.id])
                self.assertRefused(
                    user, "ipai.ops.module.change", "create",
                    [{"environment_id": self.production.id, "changed_at": "2026-01-01",
                      "summary": "forged"}],
                )  # fmt: skip

    def test_verifying_a_suggested_index_needs_the_tester_role_and_a_copy(self):
        """A line made up over RPC (any table, any column) is never built on production:
        viewers and developers lack the role, testers and admins meet the copy rule."""
        for role, user in self._users().items():
            with self.subTest(role=role):
                try:
                    report = self.call(
                        user, "ipai.ops.tables.report", "create",
                        [{"environment_id": self.production.id}],
                    )  # fmt: skip
                    line = self.call(
                        user, "ipai.ops.tables.report.suggestion", "create",
                        [{"report_id": report[0], "table": "res_partner", "column": "name"}],
                    )  # fmt: skip
                except Refused:
                    self.assertNotIn(role, (*ROLES, "ops_admin"), "members open the report")
                    continue
                refused = self.assertRefused(
                    user, "ipai.ops.tables.report.suggestion", "action_verify", line
                )
                expected = "tester" if role in ("viewer", "developer") else "never on production"
                self.assertIn(expected, refused.message)

    def test_connections_by_kind_are_for_ops_administrators(self):
        watcher = psycopg2.connect(**sql_db.connection_info_for(self.production_db)[1])
        self.addCleanup(watcher.close)
        for role, user in self._users().items():
            with self.subTest(role=role):
                try:
                    activity = self.call(
                        user, "ipai.ops.activity", "create",
                        [{"environment_id": self.production.id}],
                    )  # fmt: skip
                    self.call(user, "ipai.ops.activity", "action_refresh", activity)
                    groups = self.call(
                        user, "ipai.ops.activity.group", "search_read",
                        [("activity_id", "in", activity)], ["count"],
                    )  # fmt: skip
                except Refused:
                    self.assertNotEqual(role, "ops_admin")
                    continue
                self.assertEqual(role, "ops_admin")
                self.assertTrue(groups, "the environment's sessions, counted by kind")
