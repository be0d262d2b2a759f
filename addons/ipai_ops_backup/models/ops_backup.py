from odoo import api, fields, models
from odoo.exceptions import AccessError

from odoo.addons.ipai_ops_core.models.ops_environment import DATA_CLASSES
from odoo.addons.ipai_ops_core.roles import required_role, role_allows

BACKUP_STATES = [
    ("running", "Running"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("pruned", "Pruned"),
]
BACKUP_KINDS = [
    ("scheduled", "Scheduled"),
    ("manual", "Manual"),
    ("pre-update", "Before update"),
    ("import", "Imported"),
]
DRILL_STATES = [("none", "Not drilled"), ("passed", "Passed"), ("failed", "Failed")]


class IpaiOpsBackup(models.Model):
    """One backup set of an environment, as published on a storage target."""

    _name = "ipai.ops.backup"
    _description = "Operations: backup"
    _order = "started_at desc, id desc"
    _rec_name = "set_id"

    environment_id = fields.Many2one(
        "ipai.ops.environment", required=True, readonly=True, ondelete="restrict", index=True
    )
    project_id = fields.Many2one(related="environment_id.project_id", store=True, index=True)
    target_id = fields.Many2one("ipai.ops.backup.target", readonly=True, ondelete="restrict")
    run_id = fields.Many2one("ipai.ops.run", readonly=True, ondelete="set null")
    set_id = fields.Char(readonly=True, index=True, help="The set's directory on the target.")
    kind = fields.Selection(BACKUP_KINDS, required=True, readonly=True, default="manual")
    stage = fields.Selection(related="environment_id.stage")
    data_class = fields.Selection(
        DATA_CLASSES,
        readonly=True,
        help="What the backed-up database held when the backup was taken; a backup of "
        "production data is production data wherever it is restored.",
    )
    state = fields.Selection(BACKUP_STATES, required=True, readonly=True, default="running")
    started_at = fields.Datetime(readonly=True, default=fields.Datetime.now)
    finished_at = fields.Datetime(readonly=True)
    duration = fields.Float(string="Duration (s)", readonly=True, digits=(16, 1))
    dump_mb = fields.Float(string="Dump (MiB)", readonly=True, digits=(16, 1))
    filestore_mb = fields.Float(string="Filestore (MiB)", readonly=True, digits=(16, 1))
    filestore_new_mb = fields.Float(
        string="New filestore data (MiB)", readonly=True, digits=(16, 1),
        help="What this backup added to the target; the rest was already stored.",
    )  # fmt: skip
    file_count = fields.Integer(readonly=True)
    odoo_version = fields.Char(readonly=True)
    module_count = fields.Integer(readonly=True)
    offsite_done = fields.Boolean(string="Off-site copy", readonly=True)
    error = fields.Text(readonly=True)
    drill_state = fields.Selection(DRILL_STATES, default="none", required=True, readonly=True)
    drill_date = fields.Datetime(readonly=True)
    drill_message = fields.Text(readonly=True)

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            raise AccessError(
                self.env._("Backups are recorded by the run executor; use “Backup now”.")
            )
        for vals in vals_list:
            if not vals.get("data_class"):
                environment = self.env["ipai.ops.environment"].browse(vals["environment_id"])
                vals["data_class"] = environment.data_class or "registered"
        return super().create(vals_list)

    def _access_stage(self) -> str:
        """The stage whose roles apply to this backup's data (see the environment's)."""
        self.ensure_one()
        if self.data_class == "production":
            return "production"
        return self.environment_id._access_stage()

    def _record_result(self, result) -> None:
        """Fill in what the engine published (``ipai_ops.backup.BackupResult``)."""
        manifest = result.manifest
        files = manifest.get("filestore") or {}
        odoo = manifest.get("odoo") or {}
        self.write(
            {
                "state": "done",
                "set_id": result.set_id,
                "finished_at": fields.Datetime.now(),
                "duration": manifest["seconds"],
                "dump_mb": manifest["dump"]["bytes"] / 1024**2,
                "filestore_mb": files.get("bytes", 0) / 1024**2,
                "filestore_new_mb": files.get("new_bytes", 0) / 1024**2,
                "file_count": files.get("file_count", 0),
                "odoo_version": odoo.get("version") or False,
                "module_count": len(odoo.get("modules") or {}),
            }
        )

    def _check_may_download(self) -> None:
        """A download is all of the environment's data: the role that may restore it."""
        self.ensure_one()
        environment = self.environment_id
        role = environment.project_id._effective_role(self.env.user)
        stage = self._access_stage()
        if self.state != "done" or not role_allows(role, stage):
            raise AccessError(
                self.env._(
                    "Downloading a backup of %(env)s needs the %(role)s role in its project.",
                    env=environment.display_name,
                    role=required_role(stage),
                )
            )

    def action_download(self):
        self.ensure_one()
        self._check_may_download()
        return {
            "type": "ir.actions.act_url",
            "url": f"/ipai_ops/backup/{self.id}/download",
            "target": "self",
        }

    def action_restore(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "ipai.ops.restore.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_backup_id": self.id},
        }

    @api.model
    def _cron_queue_prunes(self):
        """Called from a cron: apply each environment's retention to its storage target."""
        environments = self.sudo().search([("state", "=", "done")]).environment_id
        for environment in environments.filtered("backup_target_id"):
            environment._queue_system_run("prune", {})

    @api.model
    def _cron_queue_drills(self):
        """Called from a cron: restore-test the newest backup of every production environment."""
        for environment in self.sudo().search([("state", "=", "done")]).environment_id:
            if environment.stage != "production":
                continue
            newest = environment.backup_ids.filtered(lambda b: b.state == "done")[:1]
            environment._queue_system_run("drill", {"backup_id": newest.id})
