"""Attacks on builds, their logs, the branch wizard, the dashboard and the webhook, made
the way a hostile logged-in user (or an anonymous caller of the webhook) would: over
JSON-RPC and HTTP. Each test asserts the safe behaviour: a failure is a weakness."""

import hashlib
import hmac
import http.client
import json
import os
from unittest.mock import patch

from odoo import Command
from odoo.tests import tagged

from odoo.addons.ipai_ops_core.tests.common import OpsCase
from odoo.addons.ipai_ops_core.tests.rpc import Refused, RpcCase, by_stage

SECRET_VAR = "IPAI_OPS_ATTACK_WEBHOOK_SECRET"
SECRET_VAR_B = "IPAI_OPS_ATTACK_WEBHOOK_SECRET_B"
LOG_TEXT = "customer jane@customer.example paid 1200 EUR"
BUILD = "ipai.ops.build"
LOG = "ipai.ops.build.log"
WIZARD = "ipai.ops.branch.wizard"
ENV = "ipai.ops.environment"
PROJECT = "ipai.ops.project"


@tagged("post_install", "-at_install")
class TestBuildAttacks(RpcCase, OpsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        host = cls.env["ipai.ops.runtime.host"].create(
            {"name": "Nowhere", "endpoint": "unix:///nonexistent/ipai-ops/docker.sock"}
        )
        cls.envs_a["development"].runtime_host_id = host
        cls.project_a.webhook_secret_ref = f"env:{SECRET_VAR}"
        cls.project_b.webhook_secret_ref = f"env:{SECRET_VAR_B}"
        for env in (cls.envs_a["development"], cls.envs_b["development"]):
            env.branch = "main"
        cls.builds = {stage: cls._build_with_log(env) for stage, env in cls.envs_a.items()}
        cls.build_b = cls._build_with_log(cls.envs_b["development"])

    @classmethod
    def _build_with_log(cls, environment):
        build = (
            cls.env[BUILD]
            .sudo()
            .create(
                {
                    "environment_id": environment.id,
                    "branch": "main",
                    "commit": "a" * 40,
                    "noticed_by": "poll",
                    "message": f"Secret work of {environment.name}",
                    "state": "failed",
                }
            )
        )
        build.run_id = environment._create_run("build", {"build_id": build.id}, state="failed")
        cls.env["ipai.ops.run.log"].sudo().create(
            {"run_id": build.run_id.id, "name": "tests", "text": LOG_TEXT}
        )
        cls.env["ipai.ops.build.failure"].sudo().create(
            {
                "build_id": build.id,
                "module": "shop",
                "test": "test_x",
                "kind": "fail",
                "traceback": "Traceback: " + LOG_TEXT,
            }
        )
        return build

    def setUp(self):
        super().setUp()
        self.enterContext(
            patch.dict(os.environ, {SECRET_VAR: "hook-secret", SECRET_VAR_B: "other-secret"})
        )

    def users(self) -> dict:
        return {
            **self.members_a,
            "ops_admin": self.ops_admin,
            "outsider": self.outsider,
            "admin_b": self.admin_b,
            "internal": self.internal,
        }

    def test_nobody_writes_why_a_build_failed_or_its_state(self):
        """A build's error and state are the system's, for every role, ops admins too."""
        build = self.builds["development"]
        for name, user in self.users().items():
            with self.subTest(user=name):
                self.assertRefused(user, BUILD, "write", build.ids,
                                   {"error": "all fine", "state": "success"})  # fmt: skip

    def test_only_operations_administrators_set_a_project_s_branch_limit(self):
        for name, user in self.users().items():
            with self.subTest(user=name):
                if name == "ops_admin":
                    self.call(user, PROJECT, "write", self.project_a.ids, {"branch_limit": 3})
                else:
                    self.assertRefused(user, PROJECT, "write", self.project_a.ids,
                                       {"branch_limit": 100})  # fmt: skip
        self.assertEqual(self.project_a.branch_limit, 3)

    # --- reading another project's builds -------------------------------------------

    def test_strangers_read_no_build_failure_or_last_build_of_a_project(self):
        build = self.builds["development"]
        failure = build.test_failure_ids
        dev = self.envs_a["development"]
        for name in ("outsider", "admin_b", "internal"):
            user = self.users()[name]
            with self.subTest(user=name):
                for model, ids in ((BUILD, build.ids), ("ipai.ops.build.failure", failure.ids)):
                    self.assertRefused(user, model, "read", ids, ["display_name"])
                    if name == "internal":
                        self.assertRefused(user, model, "search_read", [], ["id"])
                        continue
                    seen = self.call(user, model, "search_read", [], ["project_id"])
                    self.assertNotIn(self.project_a.id, [r["project_id"][0] for r in seen])
                    self.assertEqual(
                        self.call(
                            user, model, "search_count", [("project_id", "=", self.project_a.id)]
                        ),
                        0,
                    )
                    groups = self.call(
                        user, model, "read_group", [], ["project_id"], ["project_id"]
                    )
                    self.assertNotIn(
                        self.project_a.id, [g["project_id"] and g["project_id"][0] for g in groups]
                    )
                self.assertRefused(
                    user,
                    ENV,
                    "read",
                    dev.ids,
                    ["last_build_id", "last_build_message", "last_build_commit"],
                )
                self.assertRefused(user, ENV, "action_open_last_build", dev.ids)
                self.assertRefused(user, PROJECT, "read", self.project_a.ids, ["build_ids"])
                self.assertRefused(user, PROJECT, "action_open_dashboard", self.project_a.ids)
        # a member reads it (the fixture is right)
        seen = self.call(self.members_a["viewer"], ENV, "read", dev.ids, ["last_build_message"])
        self.assertEqual(seen[0]["last_build_message"], build.message)

    def test_dashboard_methods_check_the_project_named_in_the_context(self):
        for name in ("outsider", "admin_b", "internal"):
            user = self.users()[name]
            for method in ("action_open_project_settings", "action_new_branch"):
                with self.subTest(user=name, method=method):
                    self.assertRefused(
                        user, ENV, method, [], context={"default_project_id": self.project_a.id}
                    )
        viewer = self.members_a["viewer"]
        action = self.call(
            viewer,
            ENV,
            "action_open_project_settings",
            [],  # the records selected, as the web client sends them: none
            context={"default_project_id": self.project_a.id},
        )
        self.assertEqual(action["res_id"], self.project_a.id)

    def test_a_malformed_dashboard_context_is_refused_not_a_crash(self):
        """ensure_one() on the context's project raises a ValueError: a 500, not a refusal."""
        admin_b = self.admin_b
        for value in (False, [self.project_a.id, self.project_b.id]):
            for method in ("action_open_project_settings", "action_new_branch"):
                with self.subTest(value=value, method=method):
                    self.assertRefused(admin_b, ENV, method, [],
                                       context={"default_project_id": value})  # fmt: skip

    # --- a build's logs -------------------------------------------------------------

    def test_logs_are_read_by_those_who_may_operate_the_environment_only(self):
        allowed = by_stage(development="developer", staging="tester", production="admin")
        for name, user in self.users().items():
            for stage, build in self.builds.items():
                with self.subTest(user=name, stage=stage):
                    may = (name, stage) in allowed
                    for how in ("action", "create"):
                        try:
                            if how == "action":
                                action = self.call(user, BUILD, "action_open_logs", build.ids)
                                wizard_id = action["res_id"]
                            else:
                                wizard_id = self.call(
                                    user, LOG, "create", [{"build_id": build.id, "text": "forged"}]
                                )[0]
                            [log] = self.call(user, LOG, "read", [wizard_id], ["text"])
                        except Refused:
                            self.assertFalse(may, f"{name} may read {stage} logs ({how})")
                            continue
                        self.assertTrue(may, f"{name} read the {stage} log ({how})")
                        self.assertEqual(log["text"], LOG_TEXT, "the server's text, not forged")
        for name in ("outsider", "admin_b"):  # nor project B's logs through project A's
            self.assertRefused(
                self.users()[name], LOG, "create", [{"build_id": self.builds["development"].id}]
            )

    def test_a_log_dialog_is_its_creator_s_and_holds_what_the_server_wrote(self):
        developer, tester = self.members_a["developer"], self.members_a["tester"]
        build = self.builds["development"]
        wizard_id = self.call(developer, BUILD, "action_open_logs", build.ids)["res_id"]
        # the tester may read this log, but not the developer's dialog
        self.assertRefused(tester, LOG, "read", [wizard_id], ["text"])
        self.assertEqual(self.call(tester, LOG, "search_read", [("id", "=", wizard_id)], []), [])
        self.assertRefused(tester, LOG, "write", [wizard_id], {"build_id": build.id})
        # the creator changes nothing in it, nor copies it with another text
        self.call(
            developer,
            LOG,
            "write",
            [wizard_id],
            {"text": "forged", "build_id": self.builds["production"].id},
        )
        [log] = self.call(developer, LOG, "read", [wizard_id], ["text", "build_id"])
        self.assertEqual((log["text"], log["build_id"][0]), (LOG_TEXT, build.id))
        try:
            copy = self.call(developer, LOG, "copy", [wizard_id], {"text": "forged"})
        except Refused:
            copy = None
        if copy:
            [log] = self.call(developer, LOG, "read", copy, ["text"])
            self.assertEqual(log["text"], LOG_TEXT)
        # a build named only in the context is no build to read
        self.assertRefused(
            developer,
            LOG,
            "create",
            [{}],
            context={"default_build_id": self.builds["production"].id},
        )
        # nor is the production build's log the developer's through a copy
        self.assertRefused(
            developer, LOG, "copy", [wizard_id], {"build_id": self.builds["production"].id}
        )

    # --- the branch wizard ----------------------------------------------------------

    def wizard(self, user, branch: str, project=None, **kwargs) -> list[int]:
        project = project or self.project_a
        return self.call(
            user, WIZARD, "create", [{"project_id": project.id, "branch": branch}], **kwargs
        )

    def test_the_branch_wizard_names_only_the_caller_s_projects(self):
        for name in ("outsider", "admin_b", "internal"):
            user = self.users()[name]
            with self.subTest(user=name):
                self.assertRefused(
                    user,
                    WIZARD,
                    "create",
                    [{"project_id": self.project_a.id, "branch": "feature/x"}],
                )
                self.assertRefused(
                    user,
                    WIZARD,
                    "create",
                    [{"branch": "feature/x"}],
                    context={"default_project_id": self.project_a.id},
                )
        developer = self.members_a["developer"]
        wizard = self.wizard(developer, "feature/x")
        self.assertRefused(developer, WIZARD, "write", wizard, {"project_id": self.project_b.id})
        self.assertRefused(
            self.members_a["viewer"],
            WIZARD,
            "action_confirm",
            self.wizard(self.members_a["viewer"], "feature/v"),
        )
        self.assertFalse(
            self.env[ENV]
            .sudo()
            .search([("project_id", "=", self.project_b.id), ("branch", "=", "feature/x")])
        )

    def test_another_user_s_branch_wizard_is_not_mine_to_read_change_or_confirm(self):
        developer, admin = self.members_a["developer"], self.members_a["admin"]
        wizard = self.wizard(developer, "feature/mine")
        self.assertRefused(admin, WIZARD, "read", wizard, ["branch"])
        self.assertRefused(admin, WIZARD, "write", wizard, {"branch": "feature/theirs"})
        self.assertRefused(admin, WIZARD, "action_confirm", wizard)
        self.assertEqual(self.call(admin, WIZARD, "search_read", [], ["id"]), [])

    def test_duplicates_and_colliding_names_are_refused_not_crashed(self):
        developer = self.members_a["developer"]
        long = "feature/" + "x" * 60
        self.call(developer, WIZARD, "action_confirm", self.wizard(developer, "feature/dup"))
        self.call(developer, WIZARD, "action_confirm", self.wizard(developer, long + "-one"))
        for branch in ("feature/dup", " feature/dup ", "Feature/Dup", "feature-dup", long + "-two"):
            with self.subTest(branch=branch):
                self.assertRefused(
                    developer, WIZARD, "action_confirm", self.wizard(developer, branch)
                )
        for hostile in ("*", "feature/*", "a?b", "refs/../x", "-", "\u00e9t\u00e9"):
            with self.subTest(branch=hostile):
                try:
                    self.call(developer, WIZARD, "action_confirm", self.wizard(developer, hostile))
                except Refused:
                    continue
                created = self.env[ENV].sudo().search([("branch", "=", hostile.strip())])
                self.assertFalse(created, f"an environment follows {hostile!r}")

    def test_the_branch_wizard_plants_no_system_field_through_the_context(self):
        """action_confirm creates the environment under sudo() with the caller's context:
        a ``default_<field>`` it held would land on the new environment unchecked (Odoo 19's
        sudo() drops them: clean_context)."""
        developer = self.members_a["developer"]
        fields_ = self.env[ENV]._fields
        planted = {
            "source_environment_id": self.envs_b["production"].id,  # another project's
            "instance_url": "https://login.evil.example/",
            "instance_port": 8069,
            "restart_policy": "never",
            "state": "ready",
            "base_url": "https://evil.example",
            "previous_database": "a-dev-feature-ctx-old-1",
            "neutralized": True,
            "monitoring_enabled": True,
            "retention_daily": 0,
            "backup_before_update": False,
        }
        planted = {name: value for name, value in planted.items() if name in fields_}
        context = {f"default_{name}": value for name, value in planted.items()}
        try:
            self.call(
                developer,
                WIZARD,
                "action_confirm",
                self.wizard(developer, "feature/ctx"),
                context=context,
            )
        except Refused:
            return  # refusing such a context is safe too
        environment = self.env[ENV].sudo().search([("branch", "=", "feature/ctx")])
        self.assertEqual(len(environment), 1)
        landed = {}
        for name, value in planted.items():
            actual = environment[name]
            actual = actual.id if hasattr(actual, "_name") else actual
            if actual == value:
                landed[name] = value
        self.assertFalse(landed, f"a developer set system fields of the new environment: {landed}")

    # --- project settings and environments ------------------------------------------

    def test_project_admins_neither_read_nor_probe_nor_write_the_repository_placement(self):
        admin = self.members_a["admin"]
        project = self.project_a.ids
        for field in ("git_token_ref", "webhook_secret_ref", "git_ssh_key_file"):
            with self.subTest(field=field):
                # an oracle: which projects' reference starts so
                self.assertRefused(admin, PROJECT, "search_count", [(field, "=like", "env:%")])
                self.assertRefused(admin, PROJECT, "read_group", [], [field], [field])
                self.assertRefused(admin, PROJECT, "search", [], order=f"{field} desc")
                self.assertRefused(admin, PROJECT, "web_read", project, {field: {}})
        for vals in (
            {"restore_on_failed_update": True},
            {"repository_url": "/tmp/elsewhere"},
            {"git_token_ref": "env:PATH"},
        ):
            with self.subTest(vals=vals):
                self.assertRefused(admin, PROJECT, "web_save", project, vals, {})
        self.assertFalse(self.project_a.restore_on_failed_update)
        build = self.builds["production"]
        for command in (
            Command.update(build.id, {"state": "success"}),
            Command.unlink(build.id),
            Command.create(
                {
                    "environment_id": self.envs_a["production"].id,
                    "branch": "main",
                    "commit": "b" * 40,
                    "noticed_by": "poll",
                }
            ),
        ):
            with self.subTest(command=command[0]):
                self.assertRefused(admin, PROJECT, "write", project, {"build_ids": [command]})
        self.assertEqual(build.state, "failed")

    def test_an_environment_s_branch_is_a_branch_name_git_cannot_misread(self):
        """A project admin writes branches (the README's table); the wizard validates its
        branch, a write does not: ``*`` is a pattern to ``git ls-remote``, which the
        poller runs with ``refs/heads/<branch>``, so it builds whichever matching branch sorts
        first: whoever can push a branch named so chooses the code the environment runs."""
        admin = self.members_a["admin"]
        for hostile in ("*", "feature/*", "ma?n"):
            with self.subTest(branch=hostile):
                self.assertRefused(
                    admin, ENV, "write", self.envs_a["staging"].ids, {"branch": hostile}
                )

    # --- runs and approvals ----------------------------------------------------------

    def test_the_system_s_methods_and_runs_are_not_callable(self):
        admin = self.members_a["admin"]
        build = self.builds["production"]
        run = build.run_id
        for model, ids, method in (
            (BUILD, build.ids, "_notice"),
            (BUILD, build.ids, "_queue_builds"),
            (BUILD, build.ids, "_run_build"),
            (BUILD, build.ids, "_on_build_failed"),
            (BUILD, build.ids, "_restores_after_failure"),
            ("ipai.ops.run", run.ids, "_approved"),
            ("ipai.ops.run", run.ids, "_restores_failed_build"),
            (PROJECT, self.project_a.ids, "_cron_poll_repositories"),
            (PROJECT, self.project_a.ids, "_webhook_secret"),
            (PROJECT, self.project_a.ids, "_repo_auth"),
        ):
            with self.subTest(method=method):
                self.assertRefused(admin, model, method, ids)
        params = {"backup_id": 1, "mode": "replace", "failed_build_id": build.id}
        self.assertRefused(
            admin,
            "ipai.ops.run",
            "create",
            [
                {
                    "kind": "restore",
                    "environment_id": self.envs_a["production"].id,
                    "project_id": self.project_a.id,
                    "stage": "production",
                    "params": params,
                }
            ],
        )
        self.assertRefused(admin, "ipai.ops.run", "write", run.ids, {"params": params})
        self.assertRefused(
            admin,
            "ipai.ops.approval",
            "create",
            [{"run_id": run.id, "requester_id": self.ops_admin.id, "state": "approved"}],
        )

    # --- monitoring -----------------------------------------------------------------

    def test_module_changes_name_no_build_of_the_caller_s_choosing(self):
        admin = self.members_a["admin"]
        self.assertRefused(
            admin,
            "ipai.ops.module.change",
            "create",
            [
                {
                    "environment_id": self.envs_a["production"].id,
                    "summary": "x",
                    "changed_at": "2025-01-01 00:00:00",
                    "build_id": self.build_b.id,
                }
            ],
        )
        change = (
            self.env["ipai.ops.module.change"]
            .sudo()
            .create(
                {
                    "environment_id": self.envs_a["production"].id,
                    "summary": "Modules updated: web",
                    "changed_at": "2025-01-01 00:00:00",
                }
            )
        )
        self.assertRefused(
            admin, "ipai.ops.module.change", "write", change.ids, {"build_id": self.build_b.id}
        )
        self.assertRefused(self.admin_b, "ipai.ops.module.change", "read", change.ids, ["summary"])

    # --- the webhook ----------------------------------------------------------------

    def _post(self, code, body: bytes, headers: dict):
        response = self.url_open(f"/ipai_ops/webhook/{code}", data=body, headers=headers)
        return response.status_code

    def _announce_without_sending(self, code, length: int) -> int:
        """The answer to a request that says it carries ``length`` bytes and sends none:
        refused at once by its Content-Length, not after waiting for (or reading) them."""
        connection = http.client.HTTPConnection("127.0.0.1", self.http_port(), timeout=10)
        # the test server serves requests bearing the test's cookie, within this block
        with self.allow_requests():
            cookies = "; ".join(f"{k}={v}" for k, v in self.opener.cookies.items())
            try:
                connection.putrequest("POST", f"/ipai_ops/webhook/{code}")
                connection.putheader("Content-Length", str(length))
                connection.putheader("Content-Type", "application/json")
                connection.putheader("Cookie", cookies)
                connection.endheaders()
                return connection.getresponse().status
            finally:
                connection.close()

    def _signed(self, body: bytes, secret="hook-secret", delivery="d-1"):
        signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return {
            "X-Hub-Signature-256": signature,
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery,
            "Content-Type": "application/json",
        }

    def _push(self, branch="main", after="c" * 40):
        return json.dumps(
            {
                "ref": f"refs/heads/{branch}",
                "after": after,
                "head_commit": {"message": "Push", "author": {"name": "Bo"}},
            }
        ).encode()

    def _new_builds(self):
        return self.env[BUILD].sudo().search([("commit", "=", "c" * 40)])

    def test_the_webhook_builds_only_the_signing_project_s_environments(self):
        body = self._push()
        # project A's signature on project B's address, and B's on A's
        self.assertEqual(self._post("b", body, self._signed(body)), 403)
        self.assertEqual(self._post("a", body, self._signed(body, "other-secret")), 403)
        # a secret reference that cannot be read is a refusal, not an error
        self.project_b.sudo().webhook_secret_ref = "file:/nonexistent/ipai-ops/secret"
        self.assertEqual(self._post("b", body, self._signed(body, "")), 403)
        self.assertEqual(
            self._post("b", body, {"X-Gitlab-Token": "", "X-Gitlab-Event": "Push Hook"}), 403
        )
        self.assertFalse(self._new_builds())
        # too large is refused before anything is read or verified
        big = b"{" + b" " * (2 * 1024 * 1024 + 10) + b"}"
        self.assertEqual(self._post("a", big, self._signed(big)), 413)
        self.assertEqual(self._announce_without_sending("a", 10**9), 413)
        # a signed push for A's main builds A's environments on main, never B's
        self.envs_a["staging"].branch = "main"
        self.envs_a["staging"].sudo().active = False
        self.assertEqual(self._post("a", body, self._signed(body)), 202)
        self.assertEqual(self._new_builds().environment_id, self.envs_a["development"])
