"""Every Operations menu, view, filter and "New" form opens without a client error, for
every role: Odoo's click-everywhere bot walks the app in headless Chromium as each user,
then each creatable action's "New" form is opened. Any error dialog or console error
fails the test."""

from odoo.tests import HttpCase, new_test_user, tagged

from .common import OPS_ADMIN, OPS_USER, production_database, server_values

ROOT_MENU = "ipai_ops_core.menu_ipai_ops_root"
FORM_OPENED = """
const start = Date.now();
(function wait() {
    if (document.querySelector('.o_form_view .o_form_renderer')) {
        console.log('test successful');
    } else if (Date.now() - start > 20000) {
        console.error('the form did not open');
    } else {
        setTimeout(wait, 100);
    }
})();
"""


@tagged("post_install", "-at_install")
class TestEveryMenuForEveryRole(HttpCase):
    allow_end_on_form = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        database, _sample = production_database(cls.env.cr.dbname)
        server = cls.env["ipai.ops.db.server"].create(server_values(name="Smoke server"))
        cls.project = cls.env["ipai.ops.project"].create({"name": "Smoke", "code": "smoke"})
        cls.env["ipai.ops.environment"].create(
            {"name": "Smoke production", "project_id": cls.project.id, "stage": "production",
             "server_id": server.id, "database_name": database}
        )  # fmt: skip
        cls.users = {"ops_admin": new_test_user(cls.env, "smoke_ops_admin", groups=OPS_ADMIN)}
        for role in ("admin", "developer", "viewer"):
            user = new_test_user(cls.env, f"smoke_{role}", groups=OPS_USER)
            cls.env["ipai.ops.project.member"].create(
                {"project_id": cls.project.id, "user_id": user.id, "role": role}
            )
            cls.users[role] = user
        for user in cls.users.values():
            user.tour_enabled = False

    def test_click_everywhere_in_operations(self):
        for role, user in self.users.items():
            with self.subTest(role=role):
                self.browser_js(
                    "/odoo",
                    "odoo.loader.modules.get('@web/webclient/clickbot/clickbot_loader')"
                    f".startClickEverywhere('{ROOT_MENU}');",
                    "odoo.isReady === true",
                    login=user.login,
                    timeout=600,
                    success_signal="clickbot test succeeded",
                )

    def test_every_new_form_opens(self):
        for role in ("ops_admin", "admin"):
            user = self.users[role]
            for action in self._creatable_actions(user):
                with self.subTest(role=role, action=action.xml_id or action.name):
                    # a list's "New", or a form-only action (a report wizard) itself
                    url = f"/odoo/action-{action.id}"
                    url += "" if action.view_mode == "form" else "/new"
                    self.browser_js(url, FORM_OPENED, "odoo.isReady === true",
                                    login=user.login, timeout=60)  # fmt: skip

    def _creatable_actions(self, user):
        """Window actions of the Operations menus this user sees, on models they may create
        records of, that open a list (their "New" button) or a form."""
        visible = self.env["ir.ui.menu"].with_user(user).search([("id", "child_of", self._root())])
        actions = self.env["ir.actions.act_window"]
        for menu in visible.sudo():  # the menus the user sees
            action = menu.action
            if not action or action._name != actions._name:
                continue
            creatable = self.env[action.res_model].with_user(user).has_access("create")
            if creatable and "form" in (action.view_mode or ""):
                actions |= action
        self.assertTrue(actions, "each of these roles can create something")
        return actions

    def _root(self):
        return self.env.ref(ROOT_MENU).id
