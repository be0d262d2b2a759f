from odoo.tests import HttpCase, tagged

from .common import RuntimeCase


@tagged("post_install", "-at_install")
class TestRuntimeTour(HttpCase, RuntimeCase):
    """In a browser, as the project's developer: Deploy, then the URL and the logs."""

    def test_deploy_then_see_it_running_with_its_logs(self):
        developer = self.members_a["developer"]
        form = f"/odoo/action-ipai_ops_core.action_ipai_ops_environment/{self.dev.id}"
        self.start_tour(form, "ipai_ops_runtime_deploy_tour", login=developer.login)
        deploy = self.dev.run_ids.filtered(lambda r: r.kind == "instance_deploy")
        self.assertEqual(deploy.requester_id, developer)
        self.process_runs()
        self.assertEqual(deploy.state, "done", deploy.error)
        self.start_tour(form, "ipai_ops_runtime_running_tour", login=developer.login)
