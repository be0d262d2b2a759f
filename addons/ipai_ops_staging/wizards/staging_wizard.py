from odoo import api, fields, models
from odoo.exceptions import UserError

from odoo.addons.ipai_ops_core.models.ops_environment import UNMASKED_CLASSES


class IpaiOpsStagingWizard(models.TransientModel):
    """Create a staging or development copy, saying first exactly what will happen."""

    _name = "ipai.ops.staging.wizard"
    _inherit = ["ipai.ops.wizard.access"]
    _description = "Operations: create a copy"

    source_environment_id = fields.Many2one("ipai.ops.environment", required=True)
    project_id = fields.Many2one(related="source_environment_id.project_id", compute_sudo=False)
    stage = fields.Selection(
        [("staging", "Staging"), ("development", "Development")], required=True, default="staging"
    )
    origin = fields.Selection(
        [
            ("live", "The live database"),
            ("backup", "A backup"),
            ("scratch", "Nothing: a new database from the code"),
        ],
        required=True,
        default="live",
    )
    modules = fields.Char(
        default="base", help="Comma-separated modules to install in a database made from scratch."
    )
    backup_id = fields.Many2one(
        "ipai.ops.backup",
        domain="[('environment_id', '=', source_environment_id), ('state', '=', 'done')]",
    )
    database_name = fields.Char(help="Default: <project>-<stage>-<date>-<time>.")
    explanation = fields.Text(compute="_compute_explanation", compute_sudo=False)

    @api.depends("source_environment_id", "stage", "origin", "backup_id", "database_name")
    def _compute_explanation(self):
        for wizard in self:
            source = wizard.source_environment_id
            project = source.project_id
            if wizard.origin == "scratch":
                wizard.explanation = self.env._(
                    "A new database%(db)s is created and initialized by the environment's own "
                    "odoo-bin with %(modules)s, then neutralized; no data is copied.",
                    db=f" {wizard.database_name}" if wizard.database_name else "",
                    modules=wizard.modules or "base",
                )
                continue
            origin = (
                self.env._("backup %(set)s", set=wizard.backup_id.set_id or "…")
                if wizard.origin == "backup"
                else self.env._(
                    "the live database %(db)s, online (its sessions are not disturbed)",
                    db=source.database_name,
                )
            )
            steps = [
                self.env._(
                    "Copy %(origin)s into a new database, under a scratch name.", origin=origin
                )
            ]
            data = wizard.backup_id if wizard.origin == "backup" else source
            if data.data_class in UNMASKED_CLASSES:
                rules = self.env["ipai.ops.mask.rule"].sudo().search_count([])
                steps.append(
                    self.env._(
                        "Mask personal data with %(rules)s rules and prove no original value "
                        "survived, before any code of the branch sees the copy; the admin "
                        "account keeps a known password.",
                        rules=rules,
                    )
                )
            steps.append(
                self.env._(
                    "Neutralize it: every installed module's neutralize.sql from %(path)s, "
                    "queued mails and SMS cancelled, outgoing mail to %(catcher)s, crons off "
                    "except %(crons)s, payments, carriers, webhooks and IAP disabled; then "
                    "check each guarantee.",
                    path=source.addons_path or self.env._("(no addons path: set it first)"),
                    catcher=project.sudo().mail_catcher or self.env._("nowhere"),
                    crons=project.sudo().cron_allowlist or "-",
                )
            )
            steps = [f"{number}. {step}" for number, step in enumerate(steps, 1)]
            steps.append(
                self.env._(
                    "Only then does it get its name%(db)s; its filestore is a copy of its own. "
                    "Staging keeps the %(keep)s newest builds.",
                    db=f" {wizard.database_name}" if wizard.database_name else "",
                    keep=project.staging_keep,
                )
            )
            wizard.explanation = "\n".join(steps)

    def action_confirm(self):
        self.ensure_one()
        source = self.source_environment_id
        scratch = self.origin == "scratch"
        if scratch and self.stage != "development":
            raise UserError(self.env._("Only development environments start from scratch."))
        backup = self._checked_backup()
        data_class = None if scratch else (backup or source).data_class
        source._check_may_create_copy(self.stage, data_class)
        source._check_copy_can_start(self.origin)
        if self.database_name:
            source._check_new_database_name(source.server_id, self.database_name)
        copy = source._new_copy(
            self.stage, self.database_name or None, backup=backup, scratch=scratch
        )
        copy = copy.sudo(False)
        if scratch:
            modules = [m.strip() for m in (self.modules or "base").split(",") if m.strip()]
            run = copy._queue_checked_run("init", {"modules": modules})
        else:
            run = copy._queue_checked_run("clone")
        return {"type": "ir.actions.act_window", "res_model": "ipai.ops.run", "res_id": run.id,
                "view_mode": "form"}  # fmt: skip

    def _checked_backup(self):
        """The backup to copy, which must be a finished backup of the source itself."""
        if self.origin != "backup":
            return None
        if not self.backup_id:
            raise UserError(self.env._("Choose the backup to copy."))
        self.backup_id.check_access("read")
        if self.backup_id.environment_id != self.source_environment_id:
            raise UserError(self.env._("Choose a backup of the environment being copied."))
        if self.backup_id.state != "done":
            raise UserError(self.env._("Only successful backups can be copied."))
        return self.backup_id
