from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ipai_ops.mask import new_mask_key


class IpaiOpsProject(models.Model):
    _inherit = "ipai.ops.project"

    staging_keep = fields.Integer(
        string="Builds kept",
        default=3,
        help="Staging copies, and the databases of development and staging builds, beyond "
        "the newest ones are dropped.",
    )
    staging_nightly = fields.Boolean(
        string="Nightly staging build", help="Rebuild staging from production every night."
    )
    mail_catcher = fields.Char(
        help="host:port of an SMTP catcher (e.g. Mailpit) receiving the copies' outgoing mail; "
        "empty: outgoing mail goes nowhere."
    )
    cron_allowlist = fields.Char(
        string="Crons kept active",
        default="base.autovacuum_job",
        help="Comma-separated XML ids of the crons a copy keeps running.",
    )
    mask_key = fields.Char(
        groups="ipai_ops_core.group_ops_admin",
        copy=False,
        readonly=True,
        help="The key masking this project's copies: a value masks the same in every copy. "
        "Made at the first copy; it never leaves the control plane.",
    )
    dev_admin_password = fields.Char(
        string="Admin password in copies",
        default="admin",
        groups="ipai_ops_core.group_ops_admin",
        help="The admin account of every copy gets this password; other users' are cleared.",
    )

    last_copy_at = fields.Datetime(
        compute="_compute_last_copy", help="When the project's last copy was made."
    )
    last_copy_environment_id = fields.Many2one(
        "ipai.ops.environment", string="Last copy", compute="_compute_last_copy"
    )

    def _compute_last_copy(self):
        for project in self:
            last = self.env["ipai.ops.run"].sudo().search(
                [("project_id", "=", project.id), ("kind", "=", "clone"), ("state", "=", "done")],
                order="finished_at desc", limit=1,
            )  # fmt: skip
            project.last_copy_at = last.finished_at
            project.last_copy_environment_id = last.environment_id

    def _project_admin_fields(self, creating: bool) -> set[str]:
        fields_ = super()._project_admin_fields(creating)
        return fields_ if creating else fields_ | {"staging_keep", "staging_nightly"}

    def _ops_admin_fields(self, creating: bool) -> set[str]:
        # what a copy may still reach (mail, crons) and its admin password are placement too
        return super()._ops_admin_fields(creating) | {
            "staging_keep", "staging_nightly", "mail_catcher", "cron_allowlist",
            "dev_admin_password",
        }  # fmt: skip

    @api.constrains("staging_keep")
    def _check_staging_keep(self):
        if any(project.staging_keep < 1 for project in self):
            raise ValidationError(self.env._("Keep at least one staging build."))

    def _mask_key(self) -> str:
        """The project's masking key, made at its first copy."""
        project = self.sudo()
        if not project.mask_key:
            project.mask_key = new_mask_key()
        return project.mask_key

    def _mail_catcher(self):
        host, _, port = (self.mail_catcher or "").rpartition(":")
        return (host, int(port)) if host and port.isdigit() else None

    def _cron_allowlist(self) -> tuple[str, ...]:
        return tuple(x.strip() for x in (self.cron_allowlist or "").split(",") if x.strip())
