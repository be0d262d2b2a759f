from datetime import datetime

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.ipai_ops_backup.models.ops_run import default_filestore_for
from odoo.addons.ipai_ops_core.models.ops_environment import UNMASKED_CLASSES
from odoo.addons.ipai_ops_core.roles import required_role, role_allows


class IpaiOpsEnvironment(models.Model):
    _inherit = "ipai.ops.environment"

    is_build = fields.Boolean(
        string="Copy of another environment", readonly=True, help="Built by ipai-ops from a source."
    )
    source_environment_id = fields.Many2one("ipai.ops.environment", readonly=True)
    source_backup_id = fields.Many2one("ipai.ops.backup", readonly=True)
    build_date = fields.Datetime(readonly=True)
    neutralized = fields.Boolean(readonly=True)
    neutralization_report = fields.Text(readonly=True)
    masking_report = fields.Text(readonly=True)

    def _check_may_create_copy(self, stage: str, data_class: str | None = None) -> None:
        """Testers create staging copies, developers development ones (Odoo.sh's levels);
        a copy of production's data (masked as it will be) takes at least a tester.

        :param data_class: the class of the data copied (None: no data, a new database)
        """
        self.ensure_one()
        self.check_access("read")
        if not self.active:
            raise UserError(self.env._("%(env)s is archived.", env=self.display_name))
        role = self.project_id._effective_role(self.env.user)
        if data_class in UNMASKED_CLASSES and not role_allows(role, "staging"):
            stage = "staging"
        if not role_allows(role, stage):
            raise AccessError(
                self.env._(
                    "Creating a %(stage)s copy needs the %(role)s role in the project.",
                    stage=stage,
                    role=required_role(stage),
                )
            )

    def _new_copy(self, stage: str, database: str | None = None, name: str | None = None,
                  backup=None, scratch: bool = False):  # fmt: skip
        """Create the environment record of a copy of this one (the clone fills it)."""
        self.ensure_one()
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        database = database or f"{self.project_id.code}-{stage}-{stamp}"
        data_class = backup.data_class if backup else self.data_class
        # the caller checked the role: testers create staging copies, developers dev ones
        return (
            self.env["ipai.ops.environment"]
            .sudo()
            .create(
                {
                    "name": name or f"{stage.capitalize()} {stamp}",
                    "project_id": self.project_id.id,
                    "stage": stage,
                    "server_id": self.server_id.id,
                    "database_name": database,
                    "filestore_path": default_filestore_for(self, database),
                    "addons_path": self.addons_path,
                    "branch": self.branch,
                    "backup_target_id": self.backup_target_id.id,
                    "is_build": True,
                    "source_environment_id": self.id,
                    "source_backup_id": backup.id if backup else False,
                    # production data until the copy has neutralized and masked it
                    "data_class": "scratch"
                    if scratch
                    else "production"
                    if data_class in UNMASKED_CLASSES
                    else "neutralized",
                }
            )
        )

    def _other_allowed_actions(self) -> list[str]:
        """Also ``copy``: whether the user may make at least a development copy of it."""
        actions = super()._other_allowed_actions()
        if not (self.id and self.project_id):  # a record being created: nothing to copy
            return actions
        try:
            self._check_may_create_copy("development", self.data_class)
        except (AccessError, UserError):
            return actions
        return [*actions, "copy"]

    def _needs_masking(self) -> bool:
        """Whether this copy's source data must be masked (production or unknown origin)."""
        self.ensure_one()
        source = self.source_backup_id or self.source_environment_id
        return source.data_class in UNMASKED_CLASSES

    def action_create_copy(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "ipai.ops.staging.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_source_environment_id": self.id},
        }

    @api.model
    def _staging_builds(self, project):
        """The project's usable staging builds, newest first."""
        return self.sudo().search(
            [
                ("project_id", "=", project.id),
                ("is_build", "=", True),
                ("stage", "=", "staging"),
                ("neutralized", "=", True),
            ],
            order="build_date desc, id desc",
        )

    @api.model
    def _cron_retire_old_builds(self):
        """Called from a cron: drop staging builds beyond each project's limit."""
        for project in self.env["ipai.ops.project"].sudo().search([]):
            builds = self._staging_builds(project)
            if len(builds) > project.staging_keep:
                builds[0]._queue_system_run("retire", {})

    @api.model
    def _cron_nightly_staging(self):
        """Called from a cron: rebuild staging from production for projects that ask."""
        for project in self.env["ipai.ops.project"].sudo().search([("staging_nightly", "=", True)]):
            production = project.production_environment_id
            if production:
                copy = production._new_copy("staging")
                copy._queue_system_run("clone", {})
