import os
from pathlib import Path

from odoo import api, fields, models
from odoo.tools import config

from ipai_ops.mail_catcher import caught

SPOOL_PARAMETER = "ipai_ops.mail_spool"


class IpaiOpsMail(models.Model):
    """A mail a staging or development copy sent, kept by the mail catcher, delivered to
    nobody. Copies hold masked data: members of the project may read them."""

    _name = "ipai.ops.mail"
    _description = "Operations: caught mail"
    _order = "received_at desc, id desc"
    _rec_name = "subject"

    environment_id = fields.Many2one(
        "ipai.ops.environment", required=True, readonly=True, ondelete="cascade", index=True
    )
    project_id = fields.Many2one(related="environment_id.project_id", store=True, index=True)
    key = fields.Char(required=True, readonly=True, help="The catcher's file of this mail.")
    received_at = fields.Datetime(readonly=True)
    mail_from = fields.Char(string="From", readonly=True)
    mail_to = fields.Char(string="To", readonly=True)
    subject = fields.Char(readonly=True)
    body = fields.Text(readonly=True)
    attachments = fields.Char(readonly=True, help="The names of the attached files.")
    size = fields.Integer(string="Size (bytes)", readonly=True)

    _environment_key_uniq = models.UniqueIndex("(environment_id, key)")

    @api.model
    def _spool(self) -> Path:
        """Where the catcher files mails: an ops-admin setting, by default in Odoo's data
        directory."""
        value = self.env["ir.config_parameter"].sudo().get_param(SPOOL_PARAMETER)
        return Path(value or os.path.join(config["data_dir"], "ipai_ops", "mail"))

    @api.model
    def _cron_collect(self):
        """Called from a cron: the mails the catcher kept for each copy, into its Mails.
        A mail's file is removed once its record is committed; collecting again before
        that makes no second record."""
        spool = self._spool()
        copies = self.env["ipai.ops.environment"].sudo().search([("stage", "!=", "production")])
        for environment in copies:
            self._collect(environment, caught(spool, environment.database_name))

    def _collect(self, environment, mails) -> None:
        known = set(self.sudo().search([("environment_id", "=", environment.id)]).mapped("key"))
        new = [mail for mail in mails if mail.path.name not in known]
        self.sudo().create(
            [
                {
                    "environment_id": environment.id,
                    "key": mail.path.name,
                    "received_at": mail.received_at,
                    "mail_from": mail.mail_from,
                    "mail_to": mail.mail_to,
                    "subject": mail.subject,
                    "body": mail.body,
                    "attachments": ", ".join(mail.attachments),
                    "size": mail.size,
                }
                for mail in new
            ]
        )
        paths = [mail.path for mail in mails]

        @self.env.cr.postcommit.add
        def _remove_collected():
            for path in paths:
                path.unlink(missing_ok=True)
