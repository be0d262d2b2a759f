import re
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..roles import ROLES

PROJECT_CODE_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")


class IpaiOpsProject(models.Model):
    """An Odoo deployment: its code, its people and its environments."""

    _name = "ipai.ops.project"
    _description = "Operations: project"
    _inherit = ["mail.thread", "mail.activity.mixin", "ipai.ops.field.policy"]
    _order = "name"

    name = fields.Char(required=True, tracking=True)
    code = fields.Char(
        required=True,
        tracking=True,
        help="Short lowercase identifier (letters, digits, '-') used in database names.",
    )
    active = fields.Boolean(default=True)
    color = fields.Integer()
    description = fields.Text()
    repository_url = fields.Char(string="Repository URL")
    odoo_version = fields.Char(default="19.0", required=True)
    # Odoo's own labels, singular: the "Add a line" dialogs read "Create Member/Environment"
    member_ids = fields.One2many("ipai.ops.project.member", "project_id")
    environment_ids = fields.One2many("ipai.ops.environment", "project_id")
    environment_count = fields.Integer(compute="_compute_environment_count")
    health = fields.Selection(
        [("ok", "All well"), ("attention", "Needs attention")], compute="_compute_health"
    )
    health_problems = fields.Text(
        compute="_compute_health", help="What needs attention in this project, one per line."
    )
    environment_overview = fields.Char(
        compute="_compute_environment_overview", help="Each environment with its stage and state."
    )
    production_environment_id = fields.Many2one(
        "ipai.ops.environment", compute="_compute_production_environment_id"
    )
    current_user_role = fields.Selection(
        [*ROLES, ("ops_admin", "Operations administrator")],
        compute="_compute_current_user_role",
        help="Your role in this project.",
    )

    _code_uniq = models.Constraint("UNIQUE(code)", "Another project already uses this code.")

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_writable(vals, creating=True)
        return super().create(vals_list)

    def write(self, vals):
        self._check_writable(vals)
        return super().write(vals)

    def _project_admin_fields(self, creating: bool) -> set[str]:
        # members and environments are checked by their own models
        return set() if creating else {"name", "description", "color", "member_ids",
                                       "environment_ids"}  # fmt: skip

    def _ops_admin_fields(self, creating: bool) -> set[str]:
        # the code names every database of the project's copies
        return super()._ops_admin_fields(False) | {
            "code", "active", "repository_url", "odoo_version",
        }  # fmt: skip

    @api.constrains("code")
    def _check_code(self):
        for project in self:
            if not PROJECT_CODE_PATTERN.fullmatch(project.code or ""):
                raise ValidationError(
                    self.env._(
                        "Project code %(code)r is not allowed: use at most 32 lowercase letters, "
                        "digits and '-', starting with a letter or digit.",
                        code=project.code,
                    )
                )

    @api.depends("environment_ids")
    def _compute_environment_count(self):
        for project in self:
            project.environment_count = len(project.environment_ids)

    @api.depends("environment_ids.stage", "environment_ids.state", "environment_ids.name")
    def _compute_environment_overview(self):
        stages = dict(self.env["ipai.ops.environment"]._fields["stage"].selection)
        states = dict(self.env["ipai.ops.environment"]._fields["state"].selection)
        for project in self:
            project.environment_overview = " · ".join(
                f"{env.name} ({stages[env.stage]}, {states[env.state]})"
                for env in project.environment_ids
            )

    def _compute_health(self):
        for project in self:
            problems = project._health_problems()
            project.health = "attention" if problems else "ok"
            project.health_problems = "\n".join(problems)

    def _health_problems(self) -> list[str]:
        """What needs attention, in plain words; addons add theirs (backups, alerts)."""
        self.ensure_one()
        problems = [
            self.env._("%(env)s: %(state)s", env=env.name,
                       state=dict(env._fields["state"].selection)[env.state])
            for env in self.sudo().environment_ids
            if env.state in ("unreachable", "build_failed")
        ]  # fmt: skip
        since = fields.Datetime.now() - timedelta(days=1)
        failed = self.env["ipai.ops.run"].sudo().search_count(
            [("project_id", "=", self.id), ("state", "=", "failed"),
             ("finished_at", ">=", since), ("in_operations_log", "=", True)]
        )  # fmt: skip
        if failed:
            problems.append(self.env._("%(n)s operation(s) failed in the last 24 hours", n=failed))
        return problems

    @api.depends("environment_ids.stage")
    def _compute_production_environment_id(self):
        for project in self:
            production = project.environment_ids.filtered(lambda e: e.stage == "production")
            project.production_environment_id = production[:1]

    @api.depends_context("uid")
    def _compute_current_user_role(self):
        for project in self:
            project.current_user_role = project._role_of(self.env.user)

    def _role_of(self, user) -> str | None:
        """The role ``user`` holds in this project; ops administrators act as admins.

        No project (a record being created) gives no role, never an error: forms compute
        their buttons before a project is chosen.
        """
        if not self:
            return None
        self.ensure_one()
        if user.has_group("ipai_ops_core.group_ops_admin"):
            return "ops_admin"
        member = self.sudo().member_ids.filtered(lambda m: m.user_id == user)
        return member.role if member else None

    def _effective_role(self, user) -> str | None:
        """Like :meth:`_role_of`, with ops administrators mapped to the project admin role."""
        role = self._role_of(user)
        return "admin" if role == "ops_admin" else role

    def action_open_environments(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "ipai_ops_core.action_ipai_ops_environment"
        )
        action["domain"] = [("project_id", "=", self.id)]
        action["context"] = {"default_project_id": self.id}
        return action
