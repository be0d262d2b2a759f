from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.ipai_ops_core.roles import required_role, role_allows

from ..models.ops_run import default_filestore_for


class IpaiOpsRestoreWizard(models.TransientModel):
    """Restore a backup into a new environment, or in place of an environment's database."""

    _name = "ipai.ops.restore.wizard"
    _description = "Operations: restore a backup"

    backup_id = fields.Many2one("ipai.ops.backup", required=True, readonly=True)
    source_environment_id = fields.Many2one(related="backup_id.environment_id")
    mode = fields.Selection(
        [("new", "Into a new environment"), ("replace", "Replace an environment's database")],
        required=True,
        default="new",
    )
    new_name = fields.Char(string="New environment")
    new_stage = fields.Selection(
        [("staging", "Staging"), ("development", "Development")], default="staging"
    )
    new_database = fields.Char(string="New database")
    target_environment_id = fields.Many2one(
        "ipai.ops.environment",
        string="Environment to replace",
        domain="[('project_id', '=', project_id)]",
    )
    project_id = fields.Many2one(related="backup_id.project_id")
    explanation = fields.Text(compute="_compute_explanation")

    @api.depends("mode", "target_environment_id", "new_database", "backup_id")
    def _compute_explanation(self):
        for wizard in self:
            if wizard.mode == "new":
                wizard.explanation = self.env._(
                    "The backup is restored into a new database %(db)s and a new environment; "
                    "nothing existing is touched. The copy gets a new database UUID.",
                    db=wizard.new_database or "…",
                )
            elif wizard.target_environment_id.stage == "production":
                wizard.explanation = self.env._(
                    "Production is restored only after another admin of the project approves "
                    "(within 24 hours). The backup is restored and verified in a scratch "
                    "database first; then production's sessions are disconnected, its database is "
                    "kept under a dated name and the restored copy takes its place."
                )
            else:
                wizard.explanation = self.env._(
                    "The backup is restored and verified in a scratch database; then the "
                    "environment's sessions are disconnected, its database is kept under a dated "
                    "name and the restored copy takes its place."
                )

    def action_confirm(self):
        self.ensure_one()
        if self.backup_id.state != "done":
            raise UserError(self.env._("Only successful backups can be restored."))
        environment = self._destination()
        params = {"backup_id": self.backup_id.id, "mode": self.mode}
        if self.mode == "replace" and environment.stage == "production":
            run = environment._request_approved_run("restore", params)
        else:
            run = environment._queue_run("restore", params)
        return {
            "type": "ir.actions.act_window",
            "res_model": "ipai.ops.run",
            "res_id": run.id,
            "view_mode": "form",
        }

    def _destination(self):
        if self.mode == "replace":
            if not self.target_environment_id:
                raise UserError(self.env._("Choose the environment to replace."))
            return self.target_environment_id
        if not (self.new_name and self.new_database):
            raise UserError(self.env._("Name the new environment and its database."))
        source = self.backup_id.environment_id
        role = source.project_id._effective_role(self.env.user)
        if not role_allows(role, self.new_stage):
            raise AccessError(
                self.env._(
                    "Creating a %(stage)s environment needs the %(role)s role in the project.",
                    stage=self.new_stage,
                    role=required_role(self.new_stage),
                )
            )
        # checked above: testers create staging copies, developers development ones
        return (
            self.env["ipai.ops.environment"]
            .sudo()
            .create(
                {
                    "name": self.new_name,
                    "project_id": source.project_id.id,
                    "stage": self.new_stage,
                    "server_id": source.server_id.id,
                    "database_name": self.new_database,
                    "filestore_path": default_filestore_for(source, self.new_database),
                    "backup_target_id": source.backup_target_id.id,
                }
            )
            .sudo(False)
        )
