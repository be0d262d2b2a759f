import requests

from odoo.tests import tagged

from odoo.addons.ipai_ops_core.tests.common import drop_database_now
from odoo.addons.ipai_ops_runtime.tests.common import PORTS, docker_host_or_skip, remove_instances

from ipai_ops.runtime import engine

from .test_builds import BuildsCase, git

SHOP_TESTS = """
from odoo.tests import TransactionCase


class TestShop(TransactionCase):
    def test_demo_partners_are_there(self):
        self.assertTrue(self.env.ref("base.res_partner_1", raise_if_not_found=False))

    def test_prices_round_half_up(self):
        self.assertEqual(round(2.5), 3, "prices must round half up")
"""


@tagged("post_install", "-at_install")
class TestDevelopmentBuild(BuildsCase):
    """A push to the development branch: noticed, built with demo data, its tests run and
    reported, and the environment serving the build."""

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
        self.registry_enter_test_mode()  # runs open cursors of their own
        self.addCleanup(remove_instances, self.client, self.project_a.code)

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
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", "Shop: prices")
        git(self.work, "push", "-q", "origin", "HEAD:main")
        return git(self.work, "rev-parse", "HEAD")

    def test_a_pushed_commit_is_built_tested_and_served(self):
        development = self.envs_a["development"]
        commit = self.push_shop()
        self.env["ipai.ops.project"]._cron_poll_repositories()
        build = self.project_a.build_ids
        self.assertEqual(build.commit, commit)
        self.assertEqual(build.run_id.kind, "build", "the build was not queued to run")
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
