from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ipai_ops.errors import OpsError
from ipai_ops.git_repo import validate_branch

from .actions import form_action
from .ops_build import BUILD_STATES


class IpaiOpsEnvironment(models.Model):
    """What a project's dashboard card says of an environment: its branch's last build."""

    _inherit = "ipai.ops.environment"

    # the dashboard's columns: production, staging, development, as on Odoo.sh
    stage = fields.Selection(group_expand=True)
    last_build_id = fields.Many2one("ipai.ops.build", compute="_compute_last_build")
    last_build_state = fields.Selection(BUILD_STATES, compute="_compute_last_build")
    last_build_commit = fields.Char(compute="_compute_last_build")
    last_build_message = fields.Char(compute="_compute_last_build")

    @api.constrains("branch")
    def _check_branch(self):
        """A branch git reads as a name: a pattern (``*``) would let whoever pushes a
        matching branch choose what the environment builds."""
        for environment in self.filtered("branch"):
            try:
                validate_branch(environment.branch)
            except OpsError as error:
                raise ValidationError(str(error)) from None

    @api.depends_context("uid")
    def _compute_last_build(self):
        # the builds the reader may see (the record rules of their projects)
        builds = self.env["ipai.ops.build"].search([("environment_id", "in", self.ids)])
        last = {}
        for build in builds:  # newest first
            last.setdefault(build.environment_id.id, build)
        for environment in self:
            build = last.get(environment.id, builds.browse())
            environment.last_build_id = build
            environment.last_build_state = build.state
            environment.last_build_commit = build.short_commit
            environment.last_build_message = build.message

    def action_open_last_build(self):
        self.ensure_one()
        self.check_access("read")
        return form_action(self.last_build_id)

    # The dashboard's header buttons: the web client calls them with the records selected
    # (often none) as their first argument, so they are recordset methods, not api.model;
    # the project comes from the dashboard's context, checked.

    def action_open_project_settings(self):
        """The dashboard's Settings button: the project's own form."""
        return form_action(self._dashboard_project())

    def action_new_branch(self):
        """The dashboard's New development branch button."""
        project = self._dashboard_project()
        return {
            "type": "ir.actions.act_window",
            "res_model": "ipai.ops.branch.wizard",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_project_id": project.id},
        }

    @api.model
    def _dashboard_project(self):
        project_id = self.env.context.get("default_project_id")
        if not isinstance(project_id, int) or isinstance(project_id, bool):
            raise UserError(self.env._("Open a project's dashboard first."))
        project = self.env["ipai.ops.project"].browse(project_id)
        project.check_access("read")
        return project
