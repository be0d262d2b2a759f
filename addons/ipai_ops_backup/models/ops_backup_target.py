import logging
import os

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ipai_ops.errors import OpsError
from ipai_ops.prune import collect_orphans
from ipai_ops.remote import RemoteTarget, parse_storage_options
from ipai_ops.storage import LocalTarget

_logger = logging.getLogger(__name__)


class IpaiOpsBackupTarget(models.Model):
    """Where backup sets are stored: a directory, or a remote fsspec URL for off-site copies."""

    _name = "ipai.ops.backup.target"
    _description = "Operations: backup storage target"
    _order = "name"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    kind = fields.Selection(
        [("local", "Directory"), ("remote", "Remote (fsspec URL)")],
        default="local",
        required=True,
        help="Backups are written to a directory; a remote target receives off-site copies "
        "(s3://, sftp://, gs://… with the matching fsspec package installed).",
    )
    path = fields.Char(
        groups="ipai_ops_core.group_ops_admin",
        help="Absolute directory on the Odoo server where backup sets and deduplicated "
        "filestore blobs are written. Must not be inside any filestore.",
    )
    url = fields.Char(
        string="URL", groups="ipai_ops_core.group_ops_admin", help="e.g. s3://bucket/odoo-backups"
    )
    storage_options = fields.Text(
        groups="ipai_ops_core.group_ops_admin",
        help="Options for the fsspec file system (credentials, endpoint…) as a JSON object, "
        'e.g. {"key": "…", "secret": "…", "endpoint_url": "https://…"}, or a reference to that '
        "JSON on the Odoo host (env:VARIABLE or file:/absolute/path), which keeps the "
        "credentials out of this database.",
    )

    _path_uniq = models.Constraint("UNIQUE(path)", "Another storage target uses this directory.")

    @api.constrains("kind", "path", "url", "storage_options")
    def _check_location(self):
        for target in self.sudo():
            if target.kind == "local" and not os.path.isabs(target.path or ""):
                raise ValidationError(
                    self.env._("A directory target needs an absolute directory path.")
                )
            if target.kind == "local" and os.path.realpath(target.path) == "/":
                raise ValidationError(self.env._("A storage target cannot be the root directory."))
            if target.kind == "remote" and "://" not in (target.url or ""):
                raise ValidationError(self.env._("A remote target needs a URL such as s3://…"))
            target.sudo()._options()

    def _options(self) -> dict:
        """The fsspec options: stored JSON, or JSON read from a reference on the host
        (the engine's parsing, which its S3 tests exercise against a real server)."""
        try:
            return parse_storage_options(self.storage_options)
        except OpsError as exc:
            raise ValidationError(str(exc)) from None

    def _engine_target(self):
        """The engine's view of this target (LocalTarget or RemoteTarget)."""
        self.ensure_one()
        target = self.sudo()
        if target.kind == "remote":
            return RemoteTarget(target.url, **target._options())
        return LocalTarget(target.path)

    @api.model
    def _cron_collect_orphans(self):
        """Remove what failed or killed backups stored and no set uses, on each directory
        target nobody is writing to now (the others wait for the next pass)."""
        for target in self.sudo().search([("kind", "=", "local")]):
            engine = target._engine_target()
            if not os.path.isdir(engine.root):
                continue
            try:
                collected = collect_orphans(engine)
            except OpsError as exc:
                _logger.warning("could not collect orphan blobs of %s: %s", target.name, exc)
                continue
            if collected and collected[0]:
                _logger.info("%s: removed %d orphan blob(s)", target.name, collected[0])
