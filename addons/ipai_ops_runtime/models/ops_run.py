from odoo import fields, models

from odoo.addons.ipai_ops_core.run_kinds import RunKind


class IpaiOpsRun(models.Model):
    _inherit = "ipai.ops.run"

    log_ids = fields.One2many(
        "ir.attachment",
        compute="_compute_log_ids",
        string="Logs",
        help="The whole log of what this operation ran: an update's, a failed start's.",
    )

    pre_update_backup_id = fields.Many2one(
        "ipai.ops.backup",
        compute="_compute_pre_update_backup_id",
        string="Backup before the update",
        help="The backup this module update waited for: the way back if it failed.",
    )

    def _compute_pre_update_backup_id(self):
        for run in self:
            before = run.after_run_id if run.kind == "instance_update" else run.browse()
            backup = before.backup_id if before.kind == "backup" else before.backup_id.browse()
            run.pre_update_backup_id = backup if backup.state == "done" else False

    def action_restore_pre_update_backup(self):
        """The path back from a failed update: the restore wizard, replacing the database
        with the backup taken just before (the wizard checks who may, and asks a second
        admin's approval for production)."""
        self.ensure_one()
        action = self.pre_update_backup_id.action_restore()
        action["context"] = {**action["context"], "default_mode": "replace"}
        return action

    def _compute_log_ids(self):
        attachments = self.env["ir.attachment"].search(
            [("res_model", "=", "ipai.ops.run"), ("res_id", "in", self.ids)]
        )
        for run in self:
            run.log_ids = attachments.filtered(lambda a, r=run: a.res_id == r.id)

    def _run_kinds(self) -> dict[str, RunKind]:
        environment = "ipai.ops.environment"
        failed = "_on_instance_failed"

        def kind(code, label, **options):
            method = f"_run_{code}"
            return RunKind(code, label, environment, method, on_failure=failed, max_attempts=1,
                           **options)  # fmt: skip

        return {
            **super()._run_kinds(),
            "instance_deploy": kind("instance_deploy", self.env._("Deploy")),
            "instance_start": kind("instance_start", self.env._("Start")),
            "instance_stop": kind("instance_stop", self.env._("Stop")),
            "instance_restart": kind("instance_restart", self.env._("Restart")),
            "instance_update": kind("instance_update", self.env._("Update modules")),
        }
