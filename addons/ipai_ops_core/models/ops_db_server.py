import logging
import os

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ipai_ops.connection import ServerSpec, connection
from ipai_ops.errors import OpsError
from ipai_ops.probe import probe_server
from ipai_ops.scratch import sweep
from ipai_ops.secret_refs import resolve_reference, validate_reference

_logger = logging.getLogger(__name__)

SSL_MODES = [
    ("disable", "disable"),
    ("allow", "allow"),
    ("prefer", "prefer"),
    ("require", "require"),
    ("verify-ca", "verify-ca"),
    ("verify-full", "verify-full"),
]


class IpaiOpsDbServer(models.Model):
    """How to reach a PostgreSQL server that hosts environments' databases."""

    _name = "ipai.ops.db.server"
    _description = "Operations: database server"
    _inherit = ["mail.thread"]
    _order = "name"

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True)
    host = fields.Char(
        default="localhost",
        tracking=True,
        help="Host name, IP address, or a directory holding the server's Unix socket.",
    )
    port = fields.Integer(default=5432, tracking=True)
    login = fields.Char(string="Role", required=True, tracking=True)
    password = fields.Char(
        groups="ipai_ops_core.group_ops_admin",
        copy=False,
        help="Stored in this database (and so in its backups). Prefer a password reference, "
        "or leave both empty to use the Odoo server's ~/.pgpass or PGPASSWORD.",
    )
    password_ref = fields.Char(
        string="Password reference",
        groups="ipai_ops_core.group_ops_admin",
        copy=False,
        help="Where the password lives on the Odoo host, read at the moment of use: "
        "env:VARIABLE or file:/absolute/path. Keeps the secret out of this database.",
    )
    filestore_root = fields.Char(
        groups="ipai_ops_core.group_ops_admin",
        help="Absolute directory holding the filestores of this server's databases (Odoo's "
        "<data_dir>/filestore). ipai-ops reads, writes and deletes filestores only inside it.",
    )
    sslmode = fields.Selection(SSL_MODES, string="SSL mode", default="prefer", required=True)
    maintenance_database = fields.Char(
        default="postgres",
        required=True,
        help="Database used for server-wide work (probing, creating and dropping databases).",
    )
    environment_ids = fields.One2many(
        "ipai.ops.environment",
        "server_id",
        string="Environments",
        groups="ipai_ops_core.group_ops_admin",
    )

    last_probe_date = fields.Datetime(readonly=True)
    probe_ok = fields.Boolean(readonly=True)
    probe_report = fields.Text(readonly=True, help="What the last connection test found.")
    server_version = fields.Char(readonly=True)
    is_superuser = fields.Boolean(readonly=True)
    can_create_db = fields.Boolean(string="May create databases", readonly=True)
    can_read_all_stats = fields.Boolean(string="May read all statistics", readonly=True)
    pgss_preloaded = fields.Boolean(string="pg_stat_statements preloaded", readonly=True)
    pgss_installed = fields.Boolean(string="pg_stat_statements installed", readonly=True)

    @api.constrains("password_ref", "filestore_root")
    def _check_host_settings(self):
        for server in self.sudo():
            if server.password_ref:
                try:
                    validate_reference(server.password_ref)
                except OpsError as exc:
                    raise ValidationError(str(exc)) from None
            root = server.filestore_root
            if root and (not os.path.isabs(root) or os.path.realpath(root) == "/"):
                raise ValidationError(
                    self.env._("The filestore root must be an absolute directory other than /.")
                )

    def _password(self) -> str | None:
        """The password, from its reference on the host when there is one."""
        server = self.sudo()
        if server.password_ref:
            return resolve_reference(server.password_ref)
        return server.password or None

    def _engine_spec(self, dbname: str | None = None) -> ServerSpec:
        """Connection settings for the engine; reads the password as superuser.

        Callers must have checked the user's right to act before asking for this.
        """
        self.ensure_one()
        server = self.sudo()
        return ServerSpec(
            host=server.host or None,
            port=server.port or None,
            user=server.login,
            password=server._password(),
            sslmode=server.sslmode,
            dbname=dbname or server.maintenance_database,
        )

    @api.model
    def _cron_sweep_leftovers(self):
        """Called from a cron: remove what killed operations left on each server."""
        for server in self.sudo().search([]):
            roots = [server.filestore_root] if server.filestore_root else []
            try:
                with connection(server._engine_spec()) as conn:
                    removed = sweep(conn, roots)
            except OpsError as exc:
                _logger.warning("could not sweep %s: %s", server.name, exc)
                continue
            if removed:
                server.message_post(
                    body=self.env._(
                        "Removed what interrupted operations left: %(what)s",
                        what=", ".join(removed),
                    )
                )

    def action_test_connection(self):
        """Probe the server and record what it offers, in plain words."""
        self.ensure_one()
        self.check_access("write")
        try:
            caps = probe_server(self._engine_spec())
        except OpsError as exc:
            self.write({"probe_ok": False, "probe_report": str(exc), **self._probe_reset()})
            return self._notify(str(exc), "danger")
        self.write(
            {
                "probe_ok": True,
                "last_probe_date": fields.Datetime.now(),
                "probe_report": "\n".join(caps.findings()),
                "server_version": caps.server_version,
                "is_superuser": caps.superuser,
                "can_create_db": caps.createdb,
                "can_read_all_stats": caps.read_all_stats,
                "pgss_preloaded": caps.pgss_preloaded,
                "pgss_installed": caps.pgss_installed_version is not None,
            }
        )
        return self._notify(
            self.env._("Connected: PostgreSQL %(version)s.", version=caps.server_version),
            "success",
        )

    def _probe_reset(self) -> dict:
        return {
            "last_probe_date": fields.Datetime.now(),
            "server_version": False,
            "is_superuser": False,
            "can_create_db": False,
            "can_read_all_stats": False,
            "pgss_preloaded": False,
            "pgss_installed": False,
        }

    def _notify(self, message: str, kind: str) -> dict:
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.name,
                "message": message,
                "type": kind,
                "sticky": kind == "danger",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }
