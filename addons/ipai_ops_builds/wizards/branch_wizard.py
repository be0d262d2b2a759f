import re

from odoo import fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.ipai_ops_core.cron_trigger import trigger_soon
from odoo.addons.ipai_ops_core.roles import required_role, role_allows

from ipai_ops.errors import OpsError
from ipai_ops.git_repo import validate_branch


class IpaiOpsBranchWizard(models.TransientModel):
    """A development environment for a branch, as Odoo.sh makes one: it follows the
    branch, and each push to it is built (a fresh database with demo data, the tests)."""

    _name = "ipai.ops.branch.wizard"
    _inherit = ["ipai.ops.wizard.access"]
    _description = "Operations: a development environment for a branch"

    project_id = fields.Many2one("ipai.ops.project", required=True)
    branch = fields.Char(required=True, help="The git branch to follow, e.g. feature/prices.")

    def action_confirm(self):
        self.ensure_one()
        project = self.project_id
        branch = self._checked_branch()
        environments = project.sudo().environment_ids
        if environments.filtered(lambda e: e.branch == branch and e.stage == "development"):
            raise UserError(self.env._("A development environment follows %(branch)s already.",
                                       branch=branch))  # fmt: skip
        self._check_branch_limit(project, environments)
        template = self._template(environments)
        slug = re.sub(r"[^a-z0-9]+", "-", branch.lower()).strip("-")[:40]
        database = template._check_new_database_name(
            template.server_id, f"{project.code}-dev-{slug}"
        )
        # placed where the project's other environments run (an operations administrator
        # placed those); a branch's builds are disposable: not backed up with production's
        environment = self.env["ipai.ops.environment"].sudo().create({
            **template._copy_values("development", database, branch), "branch": branch,
            "data_class": "scratch", "backup_target_id": False})  # fmt: skip
        trigger_soon(self.env.ref("ipai_ops_builds.cron_poll_repositories"))
        note = self.env._("Follows %(branch)s, for %(user)s.", branch=branch,
                          user=self.env.user.name)  # fmt: skip
        environment.message_post(body=note)
        return project.action_open_dashboard()

    def _checked_branch(self) -> str:
        """The branch, once the user may make a development environment of the project."""
        self.project_id.check_access("read")
        if not role_allows(self.project_id._effective_role(self.env.user), "development"):
            message = self.env._("A development branch needs the %(role)s role in the project.",
                                 role=required_role("development"))  # fmt: skip
            raise AccessError(message)
        try:
            return validate_branch((self.branch or "").strip())
        except OpsError as error:
            raise UserError(str(error)) from None

    def _check_branch_limit(self, project, environments) -> None:
        made = environments.filtered(lambda e: e.stage == "development")
        limit = project.sudo().branch_limit
        if len(made) >= limit:
            raise UserError(
                self.env._(
                    "%(project)s already has %(count)s development environments, its limit: "
                    "archive one, or ask an operations administrator to raise the limit.",
                    project=project.display_name,
                    count=len(made),
                )
            )

    def _template(self, environments):
        """The environment a new development one is made like: another development one
        placed on a host, else the production."""
        placed = environments.filtered(lambda e: e.sudo().runtime_host_id)
        template = (placed.filtered(lambda e: e.stage == "development")[:1]
                    or placed.filtered(lambda e: e.stage == "production")[:1])  # fmt: skip
        if not template:
            raise UserError(
                self.env._(
                    "The project has no environment on a runtime host to build branches on: "
                    "an operations administrator places its production or a development "
                    "environment on one first."
                )
            )
        return template
