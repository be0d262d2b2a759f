from odoo import api, fields, models

from odoo.addons.ipai_ops_core.run_kinds import RunKind


class IpaiOpsRun(models.Model):
    _inherit = "ipai.ops.run"

    has_log = fields.Boolean(
        compute="_compute_has_log",
        help="Whether this operation kept a log and you may read it (those who may operate "
        "the environment may: it can quote its data).",
    )

    @api.depends_context("uid")
    def _compute_has_log(self):
        kept = set(
            self.env["ipai.ops.run.log"].sudo().search([("run_id", "in", self.ids)]).run_id.ids
        )
        for run in self:
            run.has_log = run.id in kept and run.environment_id._may_read_logs()

    def _instance_log_text(self) -> str | None:
        """The log this run kept, for a reader who may operate its environment."""
        self.ensure_one()
        self.check_access("read")
        self.environment_id._check_may_read_logs()
        logs = self.env["ipai.ops.run.log"].sudo().search([("run_id", "=", self.id)])
        return "\n".join(logs.mapped("text")) if logs else None

    def action_download_log(self):
        self.ensure_one()
        return {"type": "ir.actions.act_url", "url": f"/ipai_ops/run/{self.id}/log",
                "target": "self"}  # fmt: skip

    pre_update_backup_id = fields.Many2one(
        "ipai.ops.backup",
        compute="_compute_pre_update_backup_id",
        string="Backup before the update",
        help="The backup this module update waited for: the way back if it failed.",
    )

    def _backup_gated_kinds(self) -> set[str]:
        """The kinds of runs that update a database behind a backup queued before them."""
        return {"instance_update", "instance_own_role"}

    def _compute_pre_update_backup_id(self):
        gated = self._backup_gated_kinds()
        for run in self:
            before = run.after_run_id if run.kind in gated else run.browse()
            # a run may wait behind another gated one that waits for the backup (a
            # production build behind production's change of role)
            while before.kind in gated and before.after_run_id:
                before = before.after_run_id
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
            "instance_own_role": kind(
                "instance_own_role",
                self.env._("Give production its own database role"),
                min_role="admin",
            ),
        }
