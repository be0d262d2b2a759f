from datetime import timedelta

from odoo import fields
from odoo.tests import tagged

from odoo.addons.ipai_ops_monitoring.tests.common import MonitoringCase


@tagged("post_install", "-at_install")
class TestBuildBehindAChange(MonitoringCase):
    """The monitoring sees production's modules change after a build was deployed: the
    change, the statements it slowed and the alert name that build."""

    def deployed_build(self, commit: str, hours_ago: float):
        return self.env["ipai.ops.build"].sudo().create({
            "environment_id": self.production.id, "branch": "main", "commit": commit,
            "noticed_by": "poll", "message": f"Shop {commit[:3]}", "state": "success",
            "deployed_at": fields.Datetime.now() - timedelta(hours=hours_ago)})  # fmt: skip

    def test_a_slower_statement_names_the_build_that_changed_the_modules(self):
        self._snapshot()  # the baseline
        self.deployed_build("a" * 40, hours_ago=30)  # older: not the one that changed them
        build = self.deployed_build("b" * 40, hours_ago=0.01)
        was = self._set_module_version("web", "19.0.9.9")
        self.addCleanup(self._set_module_version, "web", was)
        self._snapshot()
        change = self.production.module_change_ids
        self.assertEqual(change.build_id, build)
        self.assertIn("Build bbbbbbbbbb (Shop bbb): Modules updated: web", change.summary)

        change.sudo().changed_at = fields.Datetime.now() - timedelta(hours=3)
        self._sample_rows("7301", hours=30, calls=500, mean_ms=2.0)
        self._sample_rows("7301", hours=5, calls=500, mean_ms=2.0)
        self._sample_rows("7301", hours=1, calls=500, mean_ms=6.0)  # after the build
        viewer = self.members_a["viewer"]
        wizard = (
            self.env["ipai.ops.top.queries"]
            .with_user(viewer)
            .create({"environment_id": self.production.id, "window": "24h"})
        )
        wizard.action_refresh()
        [line] = wizard.line_ids.filtered(lambda line: line.queryid == "7301")
        self.assertEqual(line.module_change_id, change)
        self.assertIn("Build bbbbbbbbbb", line.module_change_id.display_name)
        message = self.env["ipai.ops.alert"]._regression_message(self.production, ("7301", 200.0))
        self.assertIn("Build bbbbbbbbbb (Shop bbb)", message)

    def test_a_change_no_build_made_names_none(self):
        self._snapshot()
        self.deployed_build("c" * 40, hours_ago=30)  # long before: another change's
        was = self._set_module_version("web", "19.0.9.8")
        self.addCleanup(self._set_module_version, "web", was)
        self.env["ipai.ops.module.change"].sudo().create({
            "environment_id": self.production.id, "summary": "Modules updated: base",
            "changed_at": fields.Datetime.now() - timedelta(hours=2)})  # fmt: skip
        self._snapshot()
        latest = self.production.module_change_ids[0]
        self.assertFalse(latest.build_id)
        self.assertNotIn("Build", latest.summary)
