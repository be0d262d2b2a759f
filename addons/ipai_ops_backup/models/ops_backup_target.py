import os

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ipai_ops.storage import LocalTarget


class IpaiOpsBackupTarget(models.Model):
    """Where backup sets are stored (a directory, local or mounted)."""

    _name = "ipai.ops.backup.target"
    _description = "Operations: backup storage target"
    _order = "name"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    path = fields.Char(
        required=True,
        help="Absolute directory on the Odoo server where backup sets and deduplicated "
        "filestore blobs are written. Must not be inside any filestore.",
    )

    _path_uniq = models.Constraint("UNIQUE(path)", "Another storage target uses this directory.")

    @api.constrains("path")
    def _check_path(self):
        for target in self:
            if not os.path.isabs(target.path or ""):
                raise ValidationError(
                    self.env._("The storage target's path must be an absolute directory.")
                )

    def _engine_target(self) -> LocalTarget:
        self.ensure_one()
        return LocalTarget(self.sudo().path)
