"""An independent attack, over JSON-RPC and HTTP as real users, on the surfaces added with
live runs, slow queries and index suggestions: Explain with values, suggested-index
verification, connections by kind, module updates, live progress of runs, the copy
wizard's preconditions, home actions and the routes under /ipai_ops/.

Each test asserts the correct behaviour: a failing one is a finding."""

import json
from contextlib import suppress
from urllib.parse import urljoin

import psycopg2

from odoo import sql_db
from odoo.tests import tagged
from odoo.tools import config

from odoo.addons.ipai_ops_core.tests.common import (
    OpsCase,
    create_database_now,
    drop_database_now,
    server_values,
)
from odoo.addons.ipai_ops_core.tests.rpc import Refused, RpcCase

STATEMENT = "SELECT datname FROM pg_database WHERE datname = $1"


@tagged("post_install", "-at_install")
class TestNewSurfacesAttacked(RpcCase, OpsCase):
    # --- helpers ------------------------------------------------------------------

    def _record_statement(self, environment, queryid, text=STATEMENT):
        """A statement as a snapshot records it (the text comes from the server)."""
        return (
            self.env["ipai.ops.pgss.query"]
            .sudo()
            .create({"environment_id": environment.id, "queryid": queryid, "text": text})
        )

    def _explain(self, user, environment, queryid, values=None, window="24h"):
        wizard = self.call(
            user, "ipai.ops.top.queries", "create",
            [{"environment_id": environment.id, "window": window,
              "explain_values": values or False}],
        )  # fmt: skip
        line = self.call(
            user, "ipai.ops.top.queries.line", "create",
            [{"wizard_id": wizard[0], "queryid": queryid}],
        )  # fmt: skip
        self.call(user, "ipai.ops.top.queries.line", "action_explain", line)
        return wizard, line

    # --- 1. Explain -----------------------------------------------------------------

    def test_explain_never_runs_on_a_database_marked_production(self):
        """An operations administrator registers a development environment on the
        production database through a second record of the same server (another host
        name for the same cluster: the (server, database) uniqueness does not see it).
        The engine's production marker is on that database; verifying an index refuses
        it (verify_suggestion checks the marker), Explain must refuse it too."""
        ops_admin = self.ops_admin
        try:
            server = self.call(
                ops_admin, "ipai.ops.db.server", "create",
                [server_values(name="Same cluster, other name", host="localhost")],
            )  # fmt: skip
            alias = self.call(
                ops_admin, "ipai.ops.environment", "create",
                [{"name": "A dev (really production)", "project_id": self.project_a.id,
                  "stage": "development", "server_id": server[0],
                  "database_name": self.production_db}],
            )  # fmt: skip
        except Refused:
            return  # registering production a second time is refused: fine
        alias = self.env["ipai.ops.environment"].browse(alias[0])
        self._record_statement(alias, "880001", "SELECT id FROM res_partner WHERE email = $1")
        tester = self.members_a["tester"]
        with suppress(Refused):
            self._explain(tester, alias, "880001", values="jane.customer@customer.example")
        statement = (
            self.env["ipai.ops.pgss.query"]
            .sudo()
            .search([("environment_id", "=", alias.id), ("queryid", "=", "880001")])
        )
        self.assertFalse(
            statement.plan,
            f"EXPLAIN ran on {statement.plan_database!r}, a database marked production",
        )

    def test_a_copy_moved_onto_production_is_no_longer_a_copy(self):
        """Production's statements are explained on the newest ready masked staging copy.
        An operations administrator re-places that copy (server and database are theirs
        to set) onto the production database, through a second record of the same
        server: the environment stays "ready, masked" and Explain of production then runs
        on production itself. A placement change must drop the copy's "masked, ready"
        standing, or Explain must check the database's production marker."""
        staging, production = self.envs_a["staging"], self.envs_a["production"]
        staging.sudo().write({"state": "ready", "data_class": "masked"})  # as a clone leaves it
        server = self.call(
            self.ops_admin, "ipai.ops.db.server", "create",
            [server_values(name="Same cluster, other name", host="localhost")],
        )  # fmt: skip
        try:
            self.call(self.ops_admin, "ipai.ops.environment", "write", [staging.id],
                      {"server_id": server[0], "database_name": self.production_db})  # fmt: skip
        except Refused:
            return
        staging.invalidate_recordset()
        self._record_statement(production, "880004", "SELECT id FROM res_partner WHERE email = $1")
        with suppress(Refused):
            self._explain(self.members_a["tester"], production, "880004",
                          values="jane.customer@customer.example")  # fmt: skip
        statement = self.env["ipai.ops.pgss.query"].sudo().search([("queryid", "=", "880004")])
        self.assertFalse(
            statement.plan,
            f"production's statement was explained on {statement.plan_database!r} "
            f"(the copy now says {staging.state}/{staging.data_class})",
        )

    def test_explain_values_are_parameters_never_sql(self):
        """Values for $1… are sent as parameters: quotes, semicolons and psycopg2's own
        placeholders stay data."""
        dev = self.envs_a["development"]
        create_database_now(dev.database_name)
        self.addCleanup(drop_database_now, dev.database_name)
        self._record_statement(dev, "880002")
        tester = self.members_a["tester"]
        for value in ("x'); DROP DATABASE a_dev; --", "%s", "%(x)s", "$$;SELECT 1$$"):
            with self.subTest(value=value):
                self._explain(tester, dev, "880002", values=value)
        statement = self.env["ipai.ops.pgss.query"].sudo().search([("queryid", "=", "880002")])
        self.assertTrue(statement.plan)
        self.assertEqual(statement.plan_database, dev.database_name)
        conn = psycopg2.connect(**sql_db.connection_info_for("postgres")[1])
        self.addCleanup(conn.close)
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dev.database_name])
            self.assertTrue(cur.fetchone(), "the database is still there")

    def test_a_statement_that_writes_is_never_explained(self):
        """Statement texts come from pg_stat_statements, which anyone using the database
        fills: a data-modifying CTE or SELECT INTO is refused, not planned."""
        dev = self.envs_a["development"]
        create_database_now(dev.database_name)
        self.addCleanup(drop_database_now, dev.database_name)
        texts = {
            "880010": "WITH d AS (DELETE FROM pg_class RETURNING 1) SELECT * FROM d",
            "880011": "SELECT * INTO ipai_attack_copy FROM pg_database",
        }
        for queryid, text in texts.items():
            self._record_statement(dev, queryid, text)
        tester = self.members_a["tester"]
        for queryid, text in texts.items():
            with self.subTest(queryid=queryid):
                try:
                    self._explain(tester, dev, queryid)
                except Refused:
                    continue
                self.fail(f"{text!r} was planned as if it read")

    def test_viewers_and_developers_never_explain_nor_read_plans(self):
        dev = self.envs_a["development"]
        statement = self._record_statement(dev, "880003")
        statement.write({"plan": '{"Node Type": "Seq Scan"}', "plan_database": dev.database_name})
        for role in ("viewer", "developer"):
            user = self.members_a[role]
            with self.subTest(role=role):
                with self.assertRaises(Refused):
                    self._explain(user, dev, "880003")
                seen = self.call(
                    user, "ipai.ops.pgss.query", "search_read",
                    [("id", "=", statement.id)], ["plan", "text", "plan_database"],
                )  # fmt: skip
                self.assertFalse(seen)
        # another project's admin does not read it either
        seen = self.call(
            self.admin_b, "ipai.ops.pgss.query", "search_read", [("id", "=", statement.id)],
            ["text"],
        )  # fmt: skip
        self.assertFalse(seen)

    def test_another_users_wizard_and_lines_are_out_of_reach(self):
        tester, admin = self.members_a["tester"], self.members_a["admin"]
        production = self.envs_a["production"]
        wizard = self.call(
            tester, "ipai.ops.top.queries", "create", [{"environment_id": production.id}]
        )
        line = self.call(
            tester, "ipai.ops.top.queries.line", "create",
            [{"wizard_id": wizard[0], "queryid": "1", "query": "mine"}],
        )  # fmt: skip
        seen = self.call(
            admin, "ipai.ops.top.queries.line", "search_read", [("id", "in", line)], ["query"]
        )
        self.assertFalse(seen)
        for method, args in (
            ("write", ([{"explain_values": "x"}])),
            ("action_refresh", ()),
            ("unlink", ()),
        ):
            with self.subTest(method=method):
                self.assertRefused(admin, "ipai.ops.top.queries", method, wizard, *args)
        self.assertRefused(admin, "ipai.ops.top.queries.line", "action_explain", line)
        # a line of one's own, hung on someone else's wizard
        try:
            own = self.call(
                admin, "ipai.ops.top.queries.line", "create",
                [{"wizard_id": wizard[0], "queryid": "1"}],
            )  # fmt: skip
        except Refused:
            return
        self.assertRefused(admin, "ipai.ops.top.queries.line", "action_explain", own)

    def test_live_window_shows_numbers_only_below_tester(self):
        production = self.envs_a["production"]
        for role in ("viewer", "developer"):
            user = self.members_a[role]
            with self.subTest(role=role):
                wizard = self.call(
                    user, "ipai.ops.top.queries", "create",
                    [{"environment_id": production.id, "window": "live", "slower_than_ms": 0}],
                )  # fmt: skip
                self.call(user, "ipai.ops.top.queries", "action_refresh", wizard)
                lines = self.call(
                    user, "ipai.ops.top.queries.line", "search_read",
                    [("wizard_id", "in", wizard)], ["query"],
                )  # fmt: skip
                texts = {line["query"] for line in lines}
                self.assertLessEqual(texts, {"(hidden: tester role needed)", False})
        # another project's admin opens nothing of project A
        self.assertRefused(
            self.admin_b,
            "ipai.ops.top.queries",
            "create",
            [{"environment_id": production.id, "window": "live"}],
        )

    # --- 2. Suggested indexes ---------------------------------------------------

    def test_a_forged_suggestion_is_never_built(self):
        """Any table, any column, typed in over RPC, on a development environment
        (explained on itself): only the server's own suggestions are tried."""
        dev = self.envs_a["development"]
        create_database_now(dev.database_name)
        self.addCleanup(drop_database_now, dev.database_name)
        tester = self.members_a["tester"]
        report = self.call(tester, "ipai.ops.tables.report", "create",
                           [{"environment_id": dev.id}])  # fmt: skip
        for table, column in (
            ("pg_class", "relname"),
            ('res_partner" (id); DROP TABLE res_partner; --', "id"),
            ("res_partner", 'id"); DROP TABLE res_partner; --'),
        ):
            with self.subTest(table=table, column=column):
                line = self.call(
                    tester, "ipai.ops.tables.report.suggestion", "create",
                    [{"report_id": report[0], "table": table, "column": column}],
                )  # fmt: skip
                refused = self.assertRefused(
                    tester, "ipai.ops.tables.report.suggestion", "action_verify", line
                )
                self.assertIn("no longer suggested", refused.message)

    def test_verifying_on_another_project_s_environment(self):
        report = self.call(
            self.admin_b, "ipai.ops.tables.report", "create",
            [{"environment_id": self.envs_b["staging"].id}],
        )  # fmt: skip
        line = self.call(
            self.admin_b, "ipai.ops.tables.report.suggestion", "create",
            [{"report_id": report[0], "table": "res_partner", "column": "name"}],
        )  # fmt: skip
        # moving one's own report to project A's environment
        self.assertRefused(
            self.admin_b, "ipai.ops.tables.report", "write", report,
            {"environment_id": self.envs_a["staging"].id},
        )  # fmt: skip
        self.assertRefused(
            self.members_a["admin"], "ipai.ops.tables.report.suggestion", "action_verify", line
        )

    # --- 3. Connections by kind ---------------------------------------------------

    def test_connections_by_kind_count_the_environment_s_database_only(self):
        production = self.envs_a["production"]
        info = dict(sql_db.connection_info_for("postgres")[1])
        info["application_name"] = "ipai-attack-other-db"
        other = psycopg2.connect(**info)
        self.addCleanup(other.close)
        activity = self.call(
            self.ops_admin, "ipai.ops.activity", "create", [{"environment_id": production.id}]
        )
        self.call(self.ops_admin, "ipai.ops.activity", "action_refresh", activity)
        groups = self.call(
            self.ops_admin, "ipai.ops.activity.group", "search_read",
            [("activity_id", "in", activity)], ["application", "count"],
        )  # fmt: skip
        self.assertNotIn("ipai-attack-other-db", {g["application"] for g in groups})
        lines = self.call(
            self.ops_admin, "ipai.ops.activity.line", "search_read",
            [("activity_id", "in", activity)], ["database"],
        )  # fmt: skip
        self.assertLessEqual({line["database"] for line in lines}, {self.production_db})
        total = self.call(self.ops_admin, "ipai.ops.activity", "read", activity, ["connections"])
        self.assertEqual(total[0]["connections"], sum(g["count"] for g in groups))
        for user in (self.members_a["admin"], self.outsider):
            with self.subTest(user=user.login):
                self.assertRefused(
                    user, "ipai.ops.activity.group", "create",
                    [{"activity_id": activity[0], "role": "x", "count": 1}],
                )  # fmt: skip
                self.assertRefused(user, "ipai.ops.activity.group", "search_read", [], ["role"])

    # --- 4. Module updates ----------------------------------------------------------

    def test_nobody_writes_the_modules_seen(self):
        production = self.envs_a["production"]
        for user in (self.ops_admin, self.members_a["admin"]):
            for values in ({"modules_digest": "forged"}, {"module_versions": {"sale": "x"}}):
                with self.subTest(user=user.login, values=values):
                    self.assertRefused(user, "ipai.ops.environment", "write",
                                       [production.id], values)  # fmt: skip
        # nor at registration
        self.assertRefused(
            self.ops_admin, "ipai.ops.environment", "create",
            [{"name": "x", "project_id": self.project_a.id, "stage": "development",
              "server_id": self.server.id, "database_name": "a_attack",
              "module_versions": {"base": "1"}, "modules_digest": "d"}],
        )  # fmt: skip
        outsider_sees = self.call(
            self.outsider, "ipai.ops.environment", "search_read",
            [("id", "=", production.id)], ["module_versions"],
        )  # fmt: skip
        self.assertFalse(outsider_sees)

    # --- 5. Live progress -----------------------------------------------------------

    def test_progress_is_the_system_s(self):
        run = self.envs_a["staging"]._queue_system_run("check")
        self.env["ipai.ops.run.progress"].sudo().create(
            {"run_id": run.id, "fraction": 0.5, "phase": "copying"}
        )
        for user in (*self.members_a.values(), self.outsider):
            with self.subTest(user=user.login):
                self.assertRefused(user, "ipai.ops.run.progress", "search_read", [], ["phase"])
                self.assertRefused(
                    user, "ipai.ops.run.progress", "create", [{"run_id": run.id, "fraction": 1}]
                )
        self.assertRefused(self.ops_admin, "ipai.ops.run.progress", "create",
                           [{"run_id": run.id, "fraction": 1}])  # fmt: skip
        rows = self.call(self.ops_admin, "ipai.ops.run.progress", "search", [])
        self.assertRefused(self.ops_admin, "ipai.ops.run.progress", "write", rows,
                           {"fraction": 1.0})  # fmt: skip
        self.assertRefused(self.ops_admin, "ipai.ops.run.progress", "unlink", rows)
        self.assertRefused(self.admin_b, "ipai.ops.run", "read", [run.id], ["progress", "phase"])

    def test_run_notifications_reach_the_audience_only(self):
        staging = self.envs_a["staging"]
        self.env.cr.execute("DELETE FROM bus_bus")
        self.call(self.members_a["tester"], "ipai.ops.environment", "action_run_check",
                  [staging.id])  # fmt: skip
        self.env.cr.precommit.run()
        self.env.cr.execute("SELECT channel, message FROM bus_bus")
        partners = set()
        for channel, message in self.env.cr.fetchall():
            if "ipai_ops.run/changed" not in message:
                continue
            target = json.loads(channel)
            if isinstance(target, list) and len(target) == 3 and target[1] == "res.partner":
                partners.add(target[2])
            else:
                self.fail(f"a run notification on an unexpected channel: {channel}")
        self.assertTrue(partners, "the run's audience was told")
        for user in (self.outsider, self.admin_b, self.internal):
            self.assertNotIn(user.partner_id.id, partners, f"{user.login} was told")
        for user in (*self.members_a.values(), self.ops_admin):
            self.assertIn(user.partner_id.id, partners, f"{user.login} was not told")

    # --- 6. The copy wizard ---------------------------------------------------------

    def _counts(self):
        Env, Run = self.env["ipai.ops.environment"].sudo(), self.env["ipai.ops.run"].sudo()
        return (Env.with_context(active_test=False).search_count([]), Run.search_count([]))

    def test_a_refused_copy_leaves_nothing_behind(self):
        production = self.envs_a["production"]
        tester = self.members_a["tester"]
        cases = [
            ({}, {"origin": "live"}),  # no addons path
            ({"addons_path": "/nonexistent/addons"}, {"origin": "live"}),
            ({"addons_path": config["addons_path"][0]},
             {"origin": "live", "database_name": self.production_db}),  # taken name
            ({"addons_path": config["addons_path"][0]},
             {"origin": "live", "database_name": "x; DROP DATABASE y"}),
        ]  # fmt: skip
        for setup, values in cases:
            with self.subTest(values=values, setup=setup):
                production.sudo().write({"addons_path": False, **setup})
                before = self._counts()
                wizard = self.call(
                    tester, "ipai.ops.staging.wizard", "create",
                    [{"source_environment_id": production.id, "stage": "staging", **values}],
                )  # fmt: skip
                self.assertRefused(tester, "ipai.ops.staging.wizard", "action_confirm", wizard)
                self.assertEqual(self._counts(), before, "no environment, no run")

    def test_a_copy_from_a_backup_is_checked_like_the_copy_wizard(self):
        """The restore wizard's "into a new environment" is, with staging installed, the
        same copy as the copy wizard's "a backup": it must check the same preconditions
        (the source's addons path) before creating an environment and a run. A tester
        asking for a copy that cannot start must be told now, not left with a failed
        environment."""
        production = self.envs_a["production"]
        production.sudo().addons_path = False
        backup = (
            self.env["ipai.ops.backup"]
            .sudo()
            .create({"environment_id": production.id, "state": "done", "set_id": "attack-set"})
        )
        tester = self.members_a["tester"]
        wizard = self.call(
            tester, "ipai.ops.staging.wizard", "create",
            [{"source_environment_id": production.id, "stage": "staging", "origin": "backup",
              "backup_id": backup.id}],
        )  # fmt: skip
        refused = self.assertRefused(tester, "ipai.ops.staging.wizard", "action_confirm", wizard)
        self.assertIn("addons path", refused.message)
        before = self._counts()
        wizard = self.call(
            tester, "ipai.ops.restore.wizard", "create",
            [{"backup_id": backup.id, "mode": "new", "new_stage": "staging",
              "new_name": "A staging from backup", "new_database": "a_attack_restore"}],
        )  # fmt: skip
        with suppress(Refused):
            self.call(tester, "ipai.ops.restore.wizard", "action_confirm", wizard)
        self.assertEqual(self._counts(), before, "a copy that cannot start left records behind")

    def test_an_unreachable_source_says_no_secret(self):
        production = self.envs_a["production"]
        password = "Pw-Attack-7c1f-secret"
        self.server.sudo().write({"password": password, "port": 1})
        production.sudo().write({"addons_path": config["addons_path"][0]})
        before = self._counts()
        for origin in ("live", "scratch"):
            tester = self.members_a["tester"]
            with self.subTest(origin=origin):
                wizard = self.call(
                    tester, "ipai.ops.staging.wizard", "create",
                    [{"source_environment_id": production.id,
                      "stage": "staging" if origin == "live" else "development",
                      "origin": origin, "database_name": "a_attack_copy"}],
                )  # fmt: skip
                refused = self.assertRefused(
                    tester, "ipai.ops.staging.wizard", "action_confirm", wizard
                )
                self.assertNotIn(password, refused.message)
                explanation = self.call(
                    tester, "ipai.ops.staging.wizard", "read", wizard, ["explanation"]
                )
                self.assertNotIn(password, explanation[0]["explanation"] or "")
        self.assertEqual(self._counts(), before)
        self.env.cr.execute(
            "SELECT count(*) FROM ipai_ops_run_event WHERE message ILIKE %s",
            [f"%{password}%"],
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0)

    # --- 7. Home actions ------------------------------------------------------------

    def test_no_one_else_sets_a_user_s_home_or_groups(self):
        home = self.env.ref("ipai_ops_core.action_ipai_ops_project")
        victim = self.members_a["viewer"]
        victim.sudo().action_id = False
        ops_admin_group = self.env.ref("ipai_ops_core.group_ops_admin")
        for attacker in (self.members_a["admin"], self.ops_admin, self.outsider):
            with self.subTest(attacker=attacker.login):
                self.assertRefused(attacker, "res.users", "write", [victim.id],
                                   {"action_id": home.id})  # fmt: skip
                self.assertRefused(
                    attacker, "res.users", "write", [attacker.id],
                    {"group_ids": [(4, self.env.ref("base.group_system").id)]},
                )  # fmt: skip
                if attacker != self.ops_admin:
                    self.assertRefused(
                        attacker, "res.users", "write", [attacker.id],
                        {"group_ids": [(4, ops_admin_group.id)]},
                    )  # fmt: skip
        self.assertFalse(victim.action_id)

    # --- 8. Routes --------------------------------------------------------------------

    def test_health_says_counts_only(self):
        names = {self.project_a.name, self.production_db, self.envs_a["production"].name,
                 self.server.name, self.server.login, self.members_a["admin"].login}  # fmt: skip
        url = urljoin(self.base_url(), "/ipai_ops/health")
        for who in (None, self.outsider, self.ops_admin):
            with self.subTest(who=who and who.login):
                if who is None:
                    self.authenticate(None, None)
                    self._rpc_login = None
                else:
                    self.login_as(who)
                response = self.opener.get(url, timeout=30)
                self.assertIn(response.status_code, (200, 503))
                body = response.json()
                self.assertLessEqual(
                    set(body), {"status", "reason", "last_pass", "running", "queued",
                                "oldest_queued_seconds"},
                )  # fmt: skip
                for name in names:
                    self.assertNotIn(name, response.text)
        self.assertEqual(self.opener.post(url, timeout=30).status_code, 405)

    def test_membership_round_trip_leaves_the_user_as_it_was(self):
        """A project admin (no operations administrator) adds a user to the project and
        removes them again: that user's groups and home action must be as before. An
        Operations user in no project (granted by the Settings administrator) must not
        lose the group, nor anyone keep a home action changed by someone else."""
        admin = self.members_a["admin"]
        group = self.env.ref("ipai_ops_core.group_ops_user")
        for victim in (self.outsider, self.internal):
            with self.subTest(victim=victim.login):
                victim.sudo().action_id = False
                groups_before = victim.sudo().group_ids
                member = self.call(
                    admin, "ipai.ops.project.member", "create",
                    [{"project_id": self.project_a.id, "user_id": victim.id, "role": "viewer"}],
                )  # fmt: skip
                self.call(admin, "ipai.ops.project.member", "unlink", member)
                victim.invalidate_recordset()
                self.assertEqual(victim.sudo().group_ids, groups_before,
                                 f"{admin.login} changed {victim.login}'s groups")  # fmt: skip
                self.assertFalse(victim.sudo().action_id,
                                 f"{admin.login} changed {victim.login}'s home action")  # fmt: skip
                if victim == self.outsider:
                    self.assertIn(group, victim.sudo().group_ids)
