import hashlib
import hmac
import json
import os
from unittest.mock import patch

import requests

from odoo.tests import HttpCase, tagged

from odoo.addons.ipai_ops_core.tests.common import drop_database_now
from odoo.addons.ipai_ops_runtime.tests.common import PORTS, docker_host_or_skip, remove_instances

from ipai_ops.runtime import engine

from .test_builds import SECRET_VAR, BuildsCase, git

SHOP_TESTS = """
from odoo.tests import TransactionCase


class TestShop(TransactionCase):
    def test_demo_partners_are_there(self):
        self.assertTrue(self.env.ref("base.res_partner_1", raise_if_not_found=False))

    def test_prices_round_half_up(self):
        self.assertEqual(round(2.5), 3, "prices must round half up")
"""


LEGACY_VIEW = """<odoo>
    <record id="shop_list" model="ir.ui.view">
        <field name="model">res.partner</field>
        <field name="arch" type="xml">
            <tree>
                <field name="name" />
            </tree>
        </field>
    </record>
</odoo>
"""


@tagged("post_install", "-at_install")
class TestDevelopmentBuild(HttpCase, BuildsCase):
    """A push to the development branch: announced by the forge's webhook, built with
    demo data, its tests run and reported, and the environment serving the build; the
    project's dashboard shows it all in a browser."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        endpoint = docker_host_or_skip(cls)
        cls.client = engine.connect(endpoint)
        cls.addClassCleanup(cls.client.close)
        cls.addClassCleanup(remove_instances, cls.client, cls.project_a.code)
        host = cls.env["ipai.ops.runtime.host"].create(
            {"name": "Builds engine", "endpoint": endpoint, "port_low": PORTS[0],
             "port_high": PORTS[1]}
        )  # fmt: skip
        cls.envs_a["development"].runtime_host_id = host

    def setUp(self):
        super().setUp()
        self.addCleanup(remove_instances, self.client, self.project_a.code)
        self.enterContext(patch.dict(os.environ, {SECRET_VAR: "hook-secret"}))

    def announce(self, commit: str) -> None:
        """The forge's push notification, signed with the project's secret; the build is
        described and queued by the poller, which the webhook triggers."""
        body = json.dumps(
            {
                "ref": "refs/heads/main",
                "after": commit,
                "head_commit": {"message": "Shop: prices", "author": {"name": "Ada"}},
            }
        )
        signature = hmac.new(b"hook-secret", body.encode(), hashlib.sha256).hexdigest()
        response = self.url_open("/ipai_ops/webhook/a", data=body, headers={
            "X-Hub-Signature-256": f"sha256={signature}", "X-GitHub-Event": "push",
            "X-GitHub-Delivery": "delivery-1", "Content-Type": "application/json"})  # fmt: skip
        self.assertEqual(response.json(), {"status": "queued", "builds": 1})
        poller = self.env.ref("ipai_ops_builds.cron_poll_repositories")
        self.assertTrue(
            self.env["ir.cron.trigger"].search([("cron_id", "=", poller.id)]),
            "the webhook did not wake the poller",
        )
        self.env["ipai.ops.project"]._cron_poll_repositories()  # what the trigger runs

    def push_shop(self) -> str:
        shop = self.work / "shop"
        (shop / "tests").mkdir(parents=True)
        (shop / "__manifest__.py").write_text(
            repr(
                {"name": "Shop", "version": "19.0.1.0.0", "license": "LGPL-3", "depends": ["base"]}
            )
        )
        (shop / "__init__.py").write_text("")
        (shop / "tests" / "__init__.py").write_text("from . import test_shop\n")
        (shop / "tests" / "test_shop.py").write_text(SHOP_TESTS)
        # left behind by a port from 17.0, loaded by nothing: only the upgrade report sees it
        (shop / "views").mkdir()
        (shop / "views" / "legacy.xml").write_text(LEGACY_VIEW)
        (shop / "tools.py").write_text("def trace(message):\n    print(message)\n")
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", "Shop: prices")
        git(self.work, "push", "-q", "origin", "HEAD:main")
        return git(self.work, "rev-parse", "HEAD")

    def test_a_pushed_commit_is_built_tested_and_served(self):
        development = self.envs_a["development"]
        developer = self.members_a["developer"]
        commit = self.push_shop()
        self.announce(commit)
        build = self.project_a.build_ids
        self.assertEqual((build.commit, build.noticed_by), (commit, "webhook"))
        self.assertEqual(build.run_id.kind, "build", "the build was not queued to run")
        self.start_tour("/odoo/action-ipai_ops_core.action_ipai_ops_project",
                        "ipai_ops_builds_queued_tour", login=developer.login)  # fmt: skip
        self.process_runs()
        self.addCleanup(drop_database_now, build.database_name)
        self.assertEqual(build.run_id.state, "done", build.run_id.error)
        # Python rounds half to even: the failing test is shown, with its traceback
        self.assertEqual(build.state, "warning")
        self.assertEqual((build.tests_run, build.tests_failed, build.tests_errors), (2, 1, 0))
        failure = build.test_failure_ids
        self.assertEqual(
            (failure.module, failure.test), ("shop", "TestShop.test_prices_round_half_up")
        )
        self.assertIn("AssertionError: 2 != 3 : prices must round half up", failure.traceback)
        self.assertEqual(development.database_name, build.database_name)
        self.assertEqual(development.instance_state, "running")
        page = requests.get(f"{build.url}/web/login", timeout=10)
        self.assertEqual(page.status_code, 200, f"{build.url} does not serve the build")
        self.assertGreater(build.tests_seconds, 0)
        self.assertIn("TestShop.test_prices_round_half_up", build.run_id._instance_log_text())
        kept = self.env["ipai.ops.run.log"].search([("run_id", "=", build.run_id.id)])
        self.assertEqual(  # the tests as they ran, and the server that serves the build
            sorted(name.rsplit("-", 1)[1] for name in kept.mapped("name")),
            ["instance.log", "tests.log"],
        )
        # the upgrade report: Odoo 19's own scripts and pylint-odoo, read without a log
        self.assertEqual(build.upgrade_files, 1, build.report_notes)
        self.assertIn("+++ b/shop/views/legacy.xml", build.upgrade_diff)
        self.assertIn("\n+            <list>\n", build.upgrade_diff)
        self.assertIn("\n+            </list>\n", build.upgrade_diff)
        self.assertIn("shop/tools.py:2: [print-used]", build.lint_report)
        self.assertFalse(build.report_notes)
        self.start_tour("/odoo/action-ipai_ops_core.action_ipai_ops_project",
                        "ipai_ops_builds_done_tour", login=developer.login)  # fmt: skip
