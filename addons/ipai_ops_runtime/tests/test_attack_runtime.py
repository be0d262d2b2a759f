"""The runtime addon attacked the way an intruder would: as each role, over JSON-RPC and
HTTP, calling models, wizards, fields and routes directly (never through a form).

Each test asserts the safe behaviour: it passes when the way in is closed. Nothing here
needs Docker: the hosts' endpoints answer nothing, so runs are only queued (or fail at
once). What needs a real engine (a failed operation's error and kept log) is attacked
in ``test_instances``.
"""

import shutil
import tempfile
from urllib.parse import urljoin

from odoo.tests import tagged
from odoo.tools import config, mute_logger

from odoo.addons.ipai_ops_core.tests.common import OpsCase
from odoo.addons.ipai_ops_core.tests.rpc import Refused, RpcCase

HOST = "ipai.ops.runtime.host"
ENVIRONMENT = "ipai.ops.environment"
RUN = "ipai.ops.run"
RUN_LOG = "ipai.ops.run.log"
LOG_WIZARD = "ipai.ops.instance.log"
UPDATE_WIZARD = "ipai.ops.instance.update"
ENDPOINT = "unix:///nonexistent/ipai-ops-attack/engine.sock"
OTHER_ENDPOINT = "unix:///nonexistent/ipai-ops-attack/other.sock"
# what an instance's log may quote: the data of the database it serves
INSTANCE_LOG = "2026-01-01 INFO prod odoo.sql_db: customer jane.customer@customer.example paid"
NOT_ON_PRODUCTION = ("viewer", "developer", "tester")


@tagged("post_install", "-at_install")
class TestRuntimeAttacks(RpcCase, OpsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.users = {
            **cls.members_a,
            "ops_admin": cls.ops_admin,
            "outsider": cls.outsider,
            "other_admin": cls.admin_b,
        }
        cls.host = cls.env[HOST].create({"name": "Nowhere", "endpoint": ENDPOINT})
        cls.other_host = cls.env[HOST].create({"name": "Elsewhere", "endpoint": OTHER_ENDPOINT})
        for environment in (*cls.envs_a.values(), *cls.envs_b.values()):
            environment.write({"runtime_host_id": cls.host.id, "backup_before_update": False})
            environment.sudo().write({"instance_state": "running", "instance_port": 18301})
        # a backup of the development environment, for copies made from it
        target_dir = tempfile.mkdtemp(prefix="ipai-ops-attack-target-")
        cls.addClassCleanup(shutil.rmtree, target_dir, ignore_errors=True)
        target = cls.env["ipai.ops.backup.target"].create({"name": "Attack", "path": target_dir})
        dev = cls.envs_a["development"]
        dev.write({"backup_target_id": target.id, "addons_path": ",".join(config["addons_path"])})
        cls.dev_backup = cls.env["ipai.ops.backup"].create(
            {
                "environment_id": dev.id,
                "target_id": target.id,
                "set_id": "set-attack-dev",
                "state": "done",
                "data_class": "registered",
            }
        )

    # --- helpers -------------------------------------------------------------------

    def attempt(self, user, model: str, method: str, *args, **kwargs):
        """``(True, result)`` or ``(False, error class path)``, crashes included (the
        helpers of RpcCase fail the test on a crash; some attacks only need to know
        that nothing went through)."""
        body = self.call_kw(user, model, method, *args, **kwargs)
        if "error" in body:
            return False, body["error"]["data"]["name"]
        return True, body.get("result")

    def jsonrpc(self, user, path: str, params: dict):
        """The ``result`` of a JSON-RPC route, or None when it answered with an error."""
        self.login_as(user)
        response = self.opener.post(
            urljoin(self.base_url(), path),
            json={"id": 0, "jsonrpc": "2.0", "method": "call", "params": params},
            timeout=30,
        )
        return response.json().get("result")

    def get(self, user, path: str):
        self.login_as(user)
        return self.url_open(path)

    def runs(self) -> int:
        return self.env[RUN].sudo().search_count([])

    def read_or_nothing(self, user, model, method, *args, **kwargs):
        """What the call returns; a refusal returns nothing."""
        try:
            return self.call(user, model, method, *args, **kwargs)
        except Refused:
            return None

    def production_deploy_with_log(self):
        """A deploy run of project A's production that kept the instance's log."""
        production = self.envs_a["production"]
        run = production._create_run("instance_deploy", requester=self.members_a["admin"])
        production._attach_log(run, INSTANCE_LOG, "instance")
        return run

    # --- findings: each of these failed when it was written ------------------------

    def test_log_wizards_of_other_users_are_not_readable(self):
        """A log a project admin read from production (the wizard keeps its text) is not
        readable by anyone else (Odoo 19 keeps no transient record private to its creator)."""
        admin = self.members_a["admin"]
        production = self.envs_a["production"]
        wizard = (
            self.env[LOG_WIZARD].with_user(admin).sudo().create({"environment_id": production.id})
        )
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE ipai_ops_instance_log SET text = %s, read_at = now() WHERE id = %s",
            [INSTANCE_LOG, wizard.id],
        )
        wizard.invalidate_recordset()
        leaks = []
        for role in (*NOT_ON_PRODUCTION, "outsider", "other_admin"):
            user = self.users[role]
            for method, args in (
                ("read", ([wizard.id], ["text", "environment_id"])),
                ("search_read", ([], ["text", "environment_id"])),
            ):
                result = self.read_or_nothing(user, LOG_WIZARD, method, *args)
                if INSTANCE_LOG in repr(result):
                    leaks.append(f"{role} {method}")
        self.assertEqual(leaks, [], "production's log read by: " + ", ".join(leaks))

    def test_update_wizards_do_not_name_other_projects_environments(self):
        """A non-member learns nothing of project B through the update wizard: neither by
        pointing one at B's production nor by reading the wizard of B's admin."""
        outsider = self.users["outsider"]
        production_b = self.envs_b["production"]
        leaked = []
        created, wizard_ids = self.attempt(
            outsider,
            UPDATE_WIZARD,
            "create",
            [{"environment_id": production_b.id, "modules": "sale"}],
        )
        if created:
            result = self.read_or_nothing(
                outsider, UPDATE_WIZARD, "read", wizard_ids, ["environment_id"]
            )
            if production_b.name in repr(result):
                leaked.append("its own wizard pointed at B's production")
        theirs = (
            self.env[UPDATE_WIZARD]
            .with_user(self.admin_b)
            .sudo()
            .create({"environment_id": production_b.id, "modules": "sale"})
        )
        result = self.read_or_nothing(
            outsider, UPDATE_WIZARD, "search_read", [("id", "=", theirs.id)], ["environment_id"]
        )
        if production_b.name in repr(result):
            leaked.append("the wizard of B's admin")
        self.assertEqual(
            leaked, [], "an outsider read B's environment through: " + "; ".join(leaked)
        )

    def test_a_log_wizards_text_is_never_the_callers(self):
        """The wizard's text is what the engine said, not what the caller's context says."""
        developer = self.members_a["developer"]
        forged = "All fine. Nothing to see."
        wizard_ids = self.call(
            developer,
            LOG_WIZARD,
            "create",
            [{"environment_id": self.envs_a["development"].id}],
            context={"default_text": forged, "default_read_at": "2030-01-01 00:00:00"},
        )
        wizard = self.env[LOG_WIZARD].browse(wizard_ids)
        self.assertFalse(wizard.text, "the caller wrote the log's text")
        self.assertFalse(wizard.read_at, "the caller wrote when the log was read")

    def test_run_logs_follow_the_stage_rule(self):
        """A deploy keeps the instance's log with its run: that log is read by those who may
        read the instance's log (admins, for production), not by every member."""
        run = self.production_deploy_with_log()
        log = self.env[RUN_LOG].sudo().search([("run_id", "=", run.id)])
        self.assertTrue(log)
        leaks = []
        for role in NOT_ON_PRODUCTION:
            user = self.users[role]
            if INSTANCE_LOG in repr(self.read_or_nothing(user, RUN_LOG, "read", log.ids, ["text"])):
                leaks.append(f"{role} through {RUN_LOG}.read")
            found = self.read_or_nothing(user, RUN_LOG, "search_read", [], ["text"])
            if INSTANCE_LOG in repr(found):
                leaks.append(f"{role} through {RUN_LOG}.search_read")
            if self.read_or_nothing(user, RUN, "read", [run.id], ["has_log"])[0]["has_log"]:
                leaks.append(f"{role} is offered the download")
            response = self.get(user, f"/ipai_ops/run/{run.id}/log")
            if response.status_code == 200 or INSTANCE_LOG in response.text:
                leaks.append(f"{role} through the run's log route")
        self.assertEqual(leaks, [], "production's instance log read by " + ", ".join(leaks))
        response = self.get(self.members_a["admin"], f"/ipai_ops/run/{run.id}/log")
        self.assertEqual(response.status_code, 200)
        self.assertIn(INSTANCE_LOG, response.text)

    def test_host_endpoint_stays_with_operations_administrators(self):
        """Who may operate an environment still does not read its host's endpoint: not in
        the log wizard's refusal, the log route's answer, or a failed run."""
        developer, viewer = self.members_a["developer"], self.members_a["viewer"]
        dev = self.envs_a["development"]
        seen = []
        try:
            self.call(developer, ENVIRONMENT, "action_instance_logs", [dev.id])
        except Refused as refused:
            if ENDPOINT in refused.message:
                seen.append("the log wizard's refusal")
        response = self.get(developer, f"/ipai_ops/instance/{dev.id}/log")
        if ENDPOINT in response.text:
            seen.append("the log route's answer")
        self.call(developer, ENVIRONMENT, "action_instance_restart", [dev.id])
        self.process_runs()
        run = self.env[RUN].search([("environment_id", "=", dev.id)], limit=1)
        self.assertEqual(run.state, "failed")
        runs = self.call(viewer, RUN, "read", [run.id], ["error", "summary", "event_ids"])
        events = self.call(viewer, "ipai.ops.run.event", "read", runs[0]["event_ids"], ["message"])
        if ENDPOINT in repr(runs) + repr(events):
            seen.append("a failed run, read by a viewer")
        self.assertEqual(seen, [], "the host's endpoint reached: " + ", ".join(seen))

    def test_writing_a_host_says_nothing_of_the_current_one(self):
        """A member's refused write of runtime_host_id is refused the same way whichever
        host it names: the refusal is no oracle on the environment's (hidden) host."""
        staging = self.envs_a["staging"]
        for role in ("viewer", "developer", "tester", "admin"):
            with self.subTest(role=role):
                answers = set()
                for host in (self.host, self.other_host):
                    refused = self.assertRefused(
                        self.users[role],
                        ENVIRONMENT,
                        "write",
                        [staging.id],
                        {"runtime_host_id": host.id},
                    )
                    answers.add((refused.name, refused.message))
                self.assertEqual(len(answers), 1, f"the answers differ: {answers}")

    def test_url_template_takes_only_its_three_fields(self):
        """{project}, {environment} and {port}: attribute and index lookups are refused, as
        the constraint says, and never crash the request."""
        for template in (
            "https://{project.__class__.__name__}.example.com:{port}",
            "https://{project.__class__.__mro__}.example.com",
            "https://{environment.__init__.__globals__}.example.com",
            "https://{port.__class__.__subclasses__}.example.com",
        ):
            with self.subTest(template=template):
                with mute_logger("odoo.http"):
                    done, outcome = self.attempt(
                        self.ops_admin,
                        HOST,
                        "create",
                        {"name": "Tricky", "endpoint": ENDPOINT, "url_template": template},
                    )
                self.assertFalse(done, f"accepted: {template}")
                self.assertEqual(outcome, "odoo.exceptions.ValidationError")

    def test_the_log_route_refuses_odd_line_counts_without_crashing(self):
        """``lines`` that look like digits but are not (superscripts) are refused, or read
        as the default; never a server error — least of all for a non-member."""
        for role, environment in (
            ("developer", self.envs_a["development"]),
            ("outsider", self.envs_a["production"]),
        ):
            with self.subTest(role=role), mute_logger("odoo.http"):
                response = self.get(
                    self.users[role], f"/ipai_ops/instance/{environment.id}/log?lines=%C2%B2"
                )
                self.assertNotEqual(response.status_code, 500)

    def test_refusals_tell_non_members_nothing(self):
        """An instance action on another project's environment is an access refusal that
        names nothing, whether that environment is placed on a host or not: neither the
        environment's name nor whether it has a runtime host reaches a non-member."""
        unplaced = self.envs_b["development"]
        unplaced.sudo().instance_state = "none"
        unplaced.write({"runtime_host_id": False})
        for role in ("outsider", "developer", "admin"):
            user = self.users[role]
            for environment in (unplaced, self.envs_b["production"]):
                for method in (
                    "action_instance_deploy",
                    "action_instance_start",
                    "action_instance_stop",
                    "action_instance_restart",
                    "action_instance_update",
                    "action_instance_logs",
                ):
                    with self.subTest(role=role, env=environment.stage, method=method):
                        before = self.runs()
                        refused = self.assertRefused(user, ENVIRONMENT, method, [environment.id])
                        self.assertEqual(refused.name, "odoo.exceptions.AccessError")
                        self.assertNotIn(environment.name, refused.message)
                        self.assertEqual(self.runs(), before)
                with self.subTest(role=role, env=environment.stage, method="update wizard"):
                    done, ids = self.attempt(
                        user,
                        UPDATE_WIZARD,
                        "create",
                        [{"environment_id": environment.id, "modules": "sale"}],
                    )
                    if done:
                        refused = self.assertRefused(user, UPDATE_WIZARD, "action_update", ids)
                        self.assertEqual(refused.name, "odoo.exceptions.AccessError")
                        self.assertNotIn(environment.name, refused.message)

    # --- what held -----------------------------------------------------------------

    def test_host_fields_stay_hidden_from_queries(self):
        """runtime_host_id is not reached by members through domains, grouping, ordering,
        web_search_read's specification or export."""
        production = self.envs_a["production"]
        endpoint_domain = [("runtime_host_id.endpoint", "like", "nonexistent")]
        for role in ("viewer", "developer", "tester", "admin", "outsider"):
            user = self.users[role]
            with self.subTest(role=role):
                attempts = {
                    "search_count by host": (
                        ENVIRONMENT,
                        "search_count",
                        [("runtime_host_id", "=", self.host.id)],
                    ),
                    "search_count by endpoint": (ENVIRONMENT, "search_count", endpoint_domain),
                    "runs by endpoint": (
                        RUN,
                        "search_count",
                        [("environment_id.runtime_host_id.endpoint", "like", "nonexistent")],
                    ),
                    "order by host": (ENVIRONMENT, "search", [], {"order": "runtime_host_id"}),
                    "group by host": (
                        ENVIRONMENT,
                        "formatted_read_group",
                        [],
                        {"groupby": ["runtime_host_id"], "aggregates": ["__count"]},
                    ),
                    "web_search_read": (
                        ENVIRONMENT,
                        "web_search_read",
                        [],
                        {"specification": {"runtime_host_id": {"fields": {"endpoint": {}}}}},
                    ),
                    "export": (
                        ENVIRONMENT,
                        "export_data",
                        [production.id],
                        ["runtime_host_id/endpoint"],
                    ),
                    "web_read": (
                        ENVIRONMENT,
                        "web_read",
                        [production.id],
                        {"specification": {"runtime_host_id": {"fields": {"endpoint": {}}}}},
                    ),
                    "onchange": (
                        ENVIRONMENT,
                        "onchange",
                        [production.id],
                        {
                            "values": {},
                            "field_names": [],
                            "fields_spec": {"runtime_host_id": {"fields": {"endpoint": {}}}},
                        },
                    ),
                    "has_runtime_host domain": (
                        ENVIRONMENT,
                        "search_count",
                        [("has_runtime_host", "=", True)],
                    ),
                }
                for name, (model, method, first, *rest) in attempts.items():
                    kwargs = rest[0] if rest and isinstance(rest[0], dict) else {}
                    args = [first] + ([rest[0]] if rest and not kwargs else [])
                    with mute_logger("odoo.http"):
                        done, result = self.attempt(user, model, method, *args, **kwargs)
                    self.assertFalse(done and ENDPOINT in repr(result), f"{name}: {result}")
                    if name != "has_runtime_host domain":
                        self.assertFalse(done, f"{name} went through: {result}")

    def test_host_fields_stay_hidden_from_binary_routes(self):
        """/web/content does not serve a host's fields, nor an environment's host."""
        production = self.envs_a["production"]
        for role in ("viewer", "developer", "admin", "outsider"):
            for path in (
                f"/web/content/{ENVIRONMENT}/{production.id}/runtime_host_id",
                f"/web/content/{HOST}/{self.host.id}/endpoint",
                f"/web/content/{HOST}/{self.host.id}/name",
            ):
                with self.subTest(role=role, path=path), mute_logger("odoo.http"):
                    response = self.get(self.users[role], path)
                    self.assertNotIn(ENDPOINT, response.text)
                    self.assertNotIn("Nowhere", response.text)

    def test_private_and_system_methods_are_not_callable(self):
        """The cron, the runs' work and the hooks are private: not callable remotely, even
        by operations administrators."""
        dev = self.envs_a["development"]
        run = self.production_deploy_with_log()
        for role in ("ops_admin", "admin", "developer"):
            user = self.users[role]
            for model, method, args in (
                (ENVIRONMENT, "_cron_check_instances", []),
                (ENVIRONMENT, "_check_instance", [[dev.id]]),
                (ENVIRONMENT, "_run_instance_deploy", [[dev.id], run.id]),
                (ENVIRONMENT, "_run_instance_update", [[dev.id], run.id]),
                (ENVIRONMENT, "_on_instance_failed", [[dev.id], run.id, "x"]),
                (ENVIRONMENT, "_queue_instance", [[dev.id], "instance_deploy"]),
                (ENVIRONMENT, "_queue_system_run", [[dev.id], "instance_restart"]),
                (ENVIRONMENT, "_queue_checked_run", [[dev.id], "instance_restart"]),
                (ENVIRONMENT, "_record_instance", [[dev.id], {}]),
                (ENVIRONMENT, "_attach_log", [[dev.id], run.id, "forged", "x"]),
                (ENVIRONMENT, "_instance_logs", [[dev.id], 10]),
                (ENVIRONMENT, "_repair_host", [[dev.id], self.host.id]),
                (HOST, "_repair_services", [[self.host.id], True]),
                (HOST, "_client", [[self.host.id]]),
                (HOST, "_url", [[self.host.id], "a", "b", 1]),
            ):
                with self.subTest(role=role, method=method):
                    before = self.runs()
                    refused = self.assertRefused(user, model, method, *args)
                    self.assertIn("Private methods", refused.message)
                    self.assertEqual(self.runs(), before)

    def test_a_host_down_alert_names_neither_the_host_nor_its_endpoint(self):
        """The health check alerts the environments of a host it cannot reach; the
        project's roles read the alert, which must not tell them where the host is."""
        self.env[ENVIRONMENT]._cron_check_instances()
        domain = [("condition", "=", "host_service_down")]
        for role in ("viewer", "developer", "tester", "admin", "outsider", "other_admin"):
            with self.subTest(role=role):
                seen = self.read_or_nothing(self.users[role], "ipai.ops.alert", "search_read",
                                            domain, ["message", "environment_id"])  # fmt: skip
                self.assertNotIn("Nowhere", repr(seen))
                self.assertNotIn(ENDPOINT, repr(seen))
                if role == "admin":
                    self.assertTrue(seen, "the project's admin is not told the host is down")

    def test_module_names_cannot_smuggle_arguments(self):
        """Only technical names reach ``-u``: no options, separators or paths."""
        developer = self.members_a["developer"]
        dev = self.envs_a["development"]
        for modules in (
            "sale --dev=all",
            "sale,-i evil",
            "--load=evil",
            "sale;id",
            "../x",
            "sale\n-i",
            "Sale",
            "sale,,--without-demo=all",
            " , ",
            "\u017fale",
            "sale\t--addons-path=/tmp",
        ):
            with self.subTest(modules=modules):
                before = self.runs()
                ids = self.call(
                    developer,
                    UPDATE_WIZARD,
                    "create",
                    [{"environment_id": dev.id, "modules": modules}],
                )
                self.assertRefused(developer, UPDATE_WIZARD, "action_update", ids)
                self.assertEqual(self.runs(), before)

    def test_archived_environments_queue_nothing(self):
        """No role queues an instance operation on an archived environment."""
        for stage in ("development", "production"):
            self.envs_a[stage].sudo().active = False
        for role in ("ops_admin", "admin", "developer"):
            user = self.users[role]
            for stage in ("development", "production"):
                environment = self.envs_a[stage]
                for method in (
                    "action_instance_deploy",
                    "action_instance_start",
                    "action_instance_stop",
                    "action_instance_restart",
                ):
                    with self.subTest(role=role, stage=stage, method=method):
                        before = self.runs()
                        self.assertFalse(self.allowed(user, ENVIRONMENT, method, [environment.id]))
                        self.assertEqual(self.runs(), before)
                with self.subTest(role=role, stage=stage, method="update"):
                    before = self.runs()
                    done, ids = self.attempt(
                        user,
                        UPDATE_WIZARD,
                        "create",
                        [{"environment_id": environment.id, "modules": "sale"}],
                    )
                    if done:
                        self.assertRefused(user, UPDATE_WIZARD, "action_update", ids)
                    self.assertEqual(self.runs(), before)

    def test_system_fields_are_the_systems(self):
        """instance_* and health fields are written by ipai-ops only: not by write, create
        (values or default_* keys), copy, or a project's environment_ids."""
        production = self.envs_a["production"]
        system = {
            "instance_state": "stopped",
            "instance_url": "http://evil.example",
            "instance_port": 18069,
            "instance_image": "evil:1",
            "instance_health": "pass",
            "instance_latency_ms": 1.0,
            "instance_checked_at": "2030-01-01 00:00:00",
            "instance_deployed_at": "2030-01-01 00:00:00",
        }
        for role in ("ops_admin", "admin"):
            user = self.users[role]
            for field, value in system.items():
                with self.subTest(role=role, field=field):
                    self.assertRefused(user, ENVIRONMENT, "write", [production.id], {field: value})
                    self.assertRefused(
                        user,
                        "ipai.ops.project",
                        "write",
                        [self.project_a.id],
                        {"environment_ids": [(1, production.id, {field: value})]},
                    )
        new = {
            "name": "New",
            "project_id": self.project_a.id,
            "stage": "development",
            "server_id": self.server.id,
            "database_name": "attack_new",
        }
        for field, value in system.items():
            with self.subTest(create=field):
                self.assertRefused(self.ops_admin, ENVIRONMENT, "create", [{**new, field: value}])
                self.assertRefused(
                    self.ops_admin,
                    ENVIRONMENT,
                    "create",
                    [new],
                    context={f"default_{field}": value},
                )
        for role in ("ops_admin", "admin"):
            with self.subTest(copy=role):
                done, ids = self.attempt(
                    self.users[role],
                    ENVIRONMENT,
                    "copy",
                    [production.id],
                    {"name": "Copy", "database_name": "attack_copied", "stage": "development"},
                )
                if done:
                    copy = self.env[ENVIRONMENT].browse(ids)
                    self.assertFalse(copy.instance_url or copy.instance_port)
                    self.assertEqual(copy.instance_state, "none")
        self.assertEqual(production.instance_port, 18301)
        self.assertFalse(production.instance_url)

    def test_other_projects_run_logs_and_routes(self):
        """Non-members reach neither project A's run logs nor its instances' logs; nobody
        writes, adds or removes a run's log, operations administrators included."""
        run = self.production_deploy_with_log()
        log = self.env[RUN_LOG].sudo().search([("run_id", "=", run.id)])
        for role in ("outsider", "other_admin"):
            user = self.users[role]
            with self.subTest(role=role):
                self.assertFalse(self.read_or_nothing(user, RUN_LOG, "search_read", [], ["text"]))
                self.assertRefused(user, RUN_LOG, "read", log.ids, ["text"])
                self.assertEqual(self.get(user, f"/ipai_ops/run/{run.id}/log").status_code, 404)
                for environment in self.envs_a.values():
                    response = self.get(user, f"/ipai_ops/instance/{environment.id}/log")
                    self.assertEqual(response.status_code, 404)
                self.assertRefused(
                    user, LOG_WIZARD, "create", [{"environment_id": self.envs_a["development"].id}]
                )
        self.assertEqual(self.get(self.outsider, "/ipai_ops/instance/abc/log").status_code, 404)
        for role in ("ops_admin", "admin"):
            user = self.users[role]
            with self.subTest(tamper=role):
                forged = {"run_id": run.id, "name": "forged.log", "text": "all good"}
                self.assertRefused(user, RUN_LOG, "create", [forged])
                self.assertRefused(user, RUN_LOG, "write", log.ids, {"text": "all good"})
                self.assertRefused(user, RUN_LOG, "unlink", log.ids)
        self.assertEqual(log.text, INSTANCE_LOG)

    def test_log_wizard_fields_point_nowhere_else(self):
        """A log wizard is made only for an environment its user may read logs of; its
        environment cannot be changed afterwards, nor its line count set out of range."""
        developer = self.members_a["developer"]
        dev, production = self.envs_a["development"], self.envs_a["production"]
        before = self.env[LOG_WIZARD].sudo().search_count([])
        with mute_logger("odoo.http"):
            done, _ = self.attempt(
                developer,
                LOG_WIZARD,
                "create",
                {},
                context={"default_environment_id": production.id},
            )
        self.assertFalse(done)
        self.assertRefused(developer, LOG_WIZARD, "create", [{"environment_id": production.id}])
        self.assertEqual(self.env[LOG_WIZARD].sudo().search_count([]), before)
        ids = self.call(developer, LOG_WIZARD, "create", [{"environment_id": dev.id}])
        self.call(developer, LOG_WIZARD, "write", ids, {"environment_id": production.id})
        wizard = self.env[LOG_WIZARD].browse(ids)
        self.assertEqual(wizard.environment_id, dev)
        with mute_logger("odoo.http"):
            self.attempt(developer, LOG_WIZARD, "write", ids, {"lines": "10000000"})
        wizard.invalidate_recordset()
        self.assertIn(wizard.lines, ("100", "200", "1000", "5000"))
        self.assertEqual(
            self.call(developer, LOG_WIZARD, "action_download", ids)["url"],
            f"/ipai_ops/instance/{dev.id}/log?lines={wizard.lines}",
        )
        response = self.get(developer, f"/ipai_ops/instance/{dev.id}/log?lines=99999999999999")
        self.assertEqual(response.status_code, 503)  # past the role check; no engine there
        viewer = self.members_a["viewer"]
        self.assertEqual(self.get(viewer, f"/ipai_ops/instance/{dev.id}/log").status_code, 403)

    def test_the_chatter_does_not_tell_where_an_environment_runs(self):
        """runtime_host_id is tracked: its changes are shown to operations administrators
        only, not in the chatter members read."""
        staging = self.envs_a["staging"]
        staging.sudo().instance_state = "none"
        staging.with_user(self.ops_admin).write({"runtime_host_id": self.other_host.id})
        self.env.flush_all()
        self.env.cr.precommit.run()
        tracked = (
            self.env["mail.tracking.value"]
            .sudo()
            .search(
                [
                    ("mail_message_id.model", "=", ENVIRONMENT),
                    ("mail_message_id.res_id", "=", staging.id),
                ]
            )
        )
        self.assertTrue(tracked, "the move was not tracked: nothing to attack")
        thread = {"thread_model": ENVIRONMENT, "thread_id": staging.id}
        domain = [("model", "=", ENVIRONMENT), ("res_id", "=", staging.id)]
        for role in ("viewer", "developer", "tester", "admin"):
            user = self.users[role]
            with self.subTest(role=role):
                seen = repr(self.jsonrpc(user, "/mail/thread/messages", thread))
                seen += repr(self.read_or_nothing(user, "mail.message", "search_read", domain, []))
                seen += repr(
                    self.read_or_nothing(
                        user, "mail.message", "search_read", domain, ["tracking_value_ids"]
                    )
                )
                self.assertNotIn("Elsewhere", seen)
                self.assertNotIn("Nowhere", seen)
        seen = repr(self.jsonrpc(self.ops_admin, "/mail/thread/messages", thread))
        self.assertIn("Elsewhere", seen, "the attack reads nothing even where it should")

    def test_other_users_wizards_act_only_with_the_callers_role(self):
        """Another user's wizard (readable, as transient records are) acts only with the
        caller's own role: refreshing an admin's production log or confirming an admin's
        production update is refused to who may not."""
        production = self.envs_a["production"]
        admin = self.members_a["admin"]
        log = self.env[LOG_WIZARD].with_user(admin).sudo().create({"environment_id": production.id})
        update = (
            self.env[UPDATE_WIZARD]
            .with_user(admin)
            .sudo()
            .create({"environment_id": production.id, "modules": "sale"})
        )
        for role in (*NOT_ON_PRODUCTION, "outsider", "other_admin"):
            user = self.users[role]
            with self.subTest(role=role):
                before = self.runs()
                refused = self.assertRefused(user, LOG_WIZARD, "action_refresh", log.ids)
                self.assertEqual(refused.name, "odoo.exceptions.AccessError")
                refused = self.assertRefused(user, UPDATE_WIZARD, "action_update", update.ids)
                self.assertEqual(refused.name, "odoo.exceptions.AccessError")
                self.assertEqual(self.runs(), before)

    def test_context_defaults_do_not_forge_the_audit_trail(self):
        """The run a button queues, and its events, say who asked and when: the caller's
        ``default_*`` context keys cannot say otherwise (Odoo 19's sudo() drops them)."""
        developer = self.members_a["developer"]
        dev = self.envs_a["development"]
        forged = {
            "default_user_id": self.ops_admin.id,
            "default_user_name": "The operations administrator",
            "default_queued_at": "2001-01-01 00:00:00",
            "default_summary": "Approved by the CTO",
            "default_result": {"approved_by": "CTO"},
            "default_attempt": 3,
            "default_worker": "cto-laptop:1",
        }
        self.call(developer, ENVIRONMENT, "action_instance_deploy", [dev.id], context=forged)
        run = self.env[RUN].search([("environment_id", "=", dev.id)], limit=1)
        self.assertEqual(run.requester_id, developer)
        forgeries = [
            name
            for name, forged_here in (
                ("event author", run.event_ids.user_id != developer),
                (
                    "event author's name",
                    "The operations administrator" in run.event_ids.mapped("user_name"),
                ),
                ("queued_at", run.queued_at.year == 2001),
                ("summary", bool(run.summary)),
                ("result", bool(run.result)),
                ("attempt", run.attempt != 1),
                ("worker", bool(run.worker)),
            )
            if forged_here
        ]
        self.assertEqual(forgeries, [], "forged: " + ", ".join(forgeries))

    def test_copies_are_not_placed_through_context_defaults(self):
        """A developer's copy (a backup restored into a new development environment) is
        made under sudo: the caller's context neither places it on a runtime host nor
        writes its instance's system fields (Odoo 19's sudo() drops default_* keys)."""
        developer = self.members_a["developer"]
        database = "attack-copy-on-host"
        wizard_ids = self.call(
            developer,
            "ipai.ops.restore.wizard",
            "create",
            [
                {
                    "backup_id": self.dev_backup.id,
                    "mode": "new",
                    "new_name": "Mine",
                    "new_stage": "development",
                    "new_database": database,
                }
            ],
        )
        self.call(
            developer,
            "ipai.ops.restore.wizard",
            "action_confirm",
            wizard_ids,
            context={
                "default_runtime_host_id": self.other_host.id,
                "default_instance_state": "running",
                "default_instance_port": 18069,
                "default_instance_url": "http://evil.example",
                "default_instance_image": "evil:1",
            },
        )
        copy = self.env[ENVIRONMENT].search([("database_name", "=", database)])
        self.assertTrue(copy, "the copy was not made")
        # where its source runs (an operations administrator's choice), not where asked
        self.assertEqual(copy.runtime_host_id, self.envs_a["development"].runtime_host_id)
        self.assertNotEqual(copy.runtime_host_id, self.other_host, "a developer placed a copy")
        self.assertEqual(copy.instance_state, "none")
        self.assertFalse(copy.instance_port)
        self.assertFalse(copy.instance_url)
        self.assertFalse(copy.instance_image)
