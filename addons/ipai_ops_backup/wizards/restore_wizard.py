from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.ipai_ops_core.roles import STAGE_RANK, required_role, role_allows


class IpaiOpsRestoreWizard(models.TransientModel):
    """Restore a backup into a new environment, or in place of its own environment's database.

    A replace restores an environment's own backups only: production data reaches
    another environment as a copy, which neutralizes and masks it (or, without the
    staging addon, as a new environment that stays production data, approved as a
    production restore is).
    """

    _name = "ipai.ops.restore.wizard"
    _inherit = ["ipai.ops.wizard.access"]
    _description = "Operations: restore a backup"

    backup_id = fields.Many2one("ipai.ops.backup", required=True, readonly=True)
    source_environment_id = fields.Many2one(related="backup_id.environment_id", compute_sudo=False)
    mode = fields.Selection(
        [("new", "Into a new environment"), ("replace", "Replace the environment's database")],
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
        compute="_compute_target_environment_id",
        compute_sudo=False,
    )
    project_id = fields.Many2one(related="backup_id.project_id", compute_sudo=False)
    explanation = fields.Text(compute="_compute_explanation", compute_sudo=False)

    @api.depends("backup_id")
    def _compute_target_environment_id(self):
        for wizard in self:
            wizard.target_environment_id = wizard.backup_id.environment_id

    @api.depends("mode", "new_database", "new_stage", "backup_id")
    def _compute_explanation(self):
        for wizard in self:
            if wizard.mode == "new":
                wizard.explanation = wizard._new_restore_explanation()
            elif wizard.target_environment_id._access_stage() == "production":
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

    def _new_restore_explanation(self) -> str:
        text = self.env._(
            "The backup is restored into a new database %(db)s and a new environment; "
            "nothing existing is touched. The copy gets a new database UUID.",
            db=self.new_database or "…",
        )
        if self.backup_id.data_class == "production":
            text += " " + self.env._(
                "It holds production data, unneutralized: it stays production data, only the "
                "project's admins may use it, and another admin must approve the restore."
            )
        return text

    def action_confirm(self):
        self.ensure_one()
        self.backup_id.check_access("read")
        if self.backup_id.state != "done":
            raise UserError(self.env._("Only successful backups can be restored."))
        run = self._queue_replace() if self.mode == "replace" else self._queue_new()
        return {
            "type": "ir.actions.act_window",
            "res_model": "ipai.ops.run",
            "res_id": run.id,
            "view_mode": "form",
        }

    def _queue_replace(self):
        environment = self.backup_id.environment_id
        params = {"backup_id": self.backup_id.id, "mode": "replace"}
        if environment._access_stage() == "production":
            return environment._request_approved_run("restore", params)
        return environment._queue_run("restore", params)

    def _queue_new(self):
        if not (self.new_name and self.new_database):
            raise UserError(self.env._("Name the new environment and its database."))
        source = self.backup_id.environment_id
        self._check_new_restore_role()
        self.env["ipai.ops.environment"]._check_new_database_name(
            source.server_id, self.new_database
        )
        return self._queue_new_restore()

    def _check_new_restore_role(self) -> None:
        """Unneutralized, the data keeps the role its source needs (production data stays
        production data: admins only), and the new stage's role is needed too."""
        source = self.backup_id.environment_id
        if not source.active:
            raise UserError(self.env._("%(env)s is archived.", env=source.display_name))
        access_stage = max(
            self.backup_id._access_stage(), self.new_stage, key=STAGE_RANK.__getitem__
        )
        role = source.project_id._effective_role(self.env.user)
        if not role_allows(role, access_stage):
            raise AccessError(
                self.env._(
                    "Restoring this backup into a new %(stage)s environment needs the %(role)s "
                    "role in the project.",
                    stage=self.new_stage,
                    role=required_role(access_stage),
                )
            )

    def _queue_new_restore(self):
        """The new environment keeps the backup's data class: production data stays
        production data (approved like a production restore)."""
        backup = self.backup_id
        production_data = backup.data_class == "production"
        environment = self._create_restored_environment()
        params = {"backup_id": backup.id, "mode": "new"}
        if production_data:
            return environment._request_approved_run("restore", params)
        return environment._queue_run("restore", params)

    def _create_restored_environment(self):
        source = self.backup_id.environment_id.sudo()
        # the role was checked by the caller; placement follows the source's
        return (
            self.env["ipai.ops.environment"]
            .sudo()
            .create(
                {
                    **source._copy_values(self.new_stage, self.new_database, self.new_name),
                    "data_class": self.backup_id.data_class,
                }
            )
            .sudo(False)
        )
