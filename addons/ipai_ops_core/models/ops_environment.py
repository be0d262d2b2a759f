import logging
import os
from pathlib import Path

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ipai_ops.check import check_database
from ipai_ops.connection import connection
from ipai_ops.errors import ConnectionFailed, InvalidName, OpsError, ProtectedDatabase
from ipai_ops.guards import mark_production, refuse_control_plane
from ipai_ops.identifiers import database_exists, validate_database_name
from ipai_ops.paths import path_under

from ..roles import STAGES, role_allows

_logger = logging.getLogger(__name__)

REDACTED = "********"
MIN_REDACTED_LENGTH = 6  # shorter secrets would blank out ordinary words in messages

# where an environment lives decides what ipai-ops reads, writes and runs
PLACEMENT_FIELDS = frozenset({"server_id", "database_name", "filestore_path", "addons_path"})
ENVIRONMENT_STATES = [
    ("new", "Not checked yet"),
    ("ready", "Ready"),
    ("unreachable", "Unreachable"),  # the last check could not connect
    ("build_failed", "Build failed"),  # a copy or restore into it failed: nothing usable
    ("retired", "Retired"),  # an old build, dropped by the system
]
DATA_CLASSES = [
    ("production", "Production data"),
    ("registered", "Registered by an administrator"),
    ("masked", "Neutralized and masked copy"),
    ("neutralized", "Neutralized copy of non-production data"),
    ("scratch", "No copied data"),
]
# classes whose copies must be masked: the real data of production
UNMASKED_CLASSES = frozenset({"production"})


class IpaiOpsEnvironment(models.Model):
    """A database on a server, its filestore and the code it runs, at one stage."""

    _name = "ipai.ops.environment"
    _description = "Operations: environment"
    _inherit = ["mail.thread", "mail.activity.mixin", "ipai.ops.field.policy"]
    _order = "project_id, stage, name"

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True)
    project_id = fields.Many2one(
        "ipai.ops.project", required=True, ondelete="restrict", index=True, tracking=True
    )
    stage = fields.Selection(STAGES, required=True, default="development", tracking=True)
    server_id = fields.Many2one(
        "ipai.ops.db.server",
        string="Database server",
        required=True,
        ondelete="restrict",
        default=lambda self: self._default_server(),
    )
    database_name = fields.Char(required=True, tracking=True)
    filestore_path = fields.Char(
        help="Directory holding this database's attachments "
        "(usually <data_dir>/filestore/<database>)."
    )
    base_url = fields.Char(string="Base URL")
    branch = fields.Char(help="Branch or revision of the code this environment runs.")
    addons_path = fields.Char(help="Comma-separated addons directories of this environment's code.")
    state = fields.Selection(
        ENVIRONMENT_STATES, default="new", required=True, readonly=True, tracking=True
    )
    last_check_date = fields.Datetime(readonly=True)
    last_check_summary = fields.Char(readonly=True)
    odoo_version = fields.Char(readonly=True)
    installed_modules = fields.Integer(readonly=True)
    database_size_mb = fields.Float(string="Database size (MiB)", readonly=True, digits=(16, 1))
    data_class = fields.Selection(
        DATA_CLASSES,
        readonly=True,
        help="What the database holds, recorded by ipai-ops: anything restored or copied from "
        "production stays production data until it has been neutralized and masked.",
    )
    run_ids = fields.One2many("ipai.ops.run", "environment_id", string="Runs")
    run_count = fields.Integer(compute="_compute_run_count")
    can_operate = fields.Boolean(
        compute="_compute_can_operate", help="Whether you may run operations on this environment."
    )
    executor_warning = fields.Char(
        compute="_compute_executor_warning",
        help="Set when the run executor has stopped: queued operations wait until it runs.",
    )
    allowed_kinds = fields.Char(
        compute="_compute_allowed_kinds",
        help="The operations you may start here, space-separated: the buttons shown are these.",
    )

    _one_production_per_project = models.UniqueIndex(
        "(project_id) WHERE stage = 'production' AND active",
        "A project can have only one production environment.",
    )
    _database_per_server_uniq = models.UniqueIndex(
        "(server_id, database_name) WHERE active",
        "Another environment already uses this database on this server.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_writable(vals, creating=True)
            if not vals.get("data_class"):
                stage = vals.get("stage", "development")
                vals["data_class"] = "production" if stage == "production" else "registered"
        environments = super().create(vals_list)
        environments._refuse_registering_the_control_plane()
        environments._mark_production_databases()
        return environments

    def write(self, vals):
        self._check_writable(vals)
        if vals.get("stage") == "production":
            vals = {**vals, "data_class": "production"}
        result = super().write(vals)
        if {"database_name", "server_id"} & set(vals):
            self._refuse_registering_the_control_plane()
            if not self.env.su:
                self._forget_what_the_database_held()
        if {"stage", "database_name", "server_id"} & set(vals):
            self._mark_production_databases()
        return result

    def _forget_what_the_database_held(self) -> None:
        """An environment an operator points at another database no longer holds what
        ipai-ops recorded (a masked copy, say): it is as if just registered, not checked
        yet. Production stays production data."""
        self.sudo().filtered(lambda e: e.data_class != "production").write(
            {"data_class": "registered", "state": "new"}
        )

    def _refuse_registering_the_control_plane(self) -> None:
        """Say at once, not at the first run, that the control plane cannot be managed."""
        for environment in self.filtered("active"):
            try:
                environment._refuse_control_plane()
            except ProtectedDatabase as exc:
                raise ValidationError(str(exc)) from None
            except OpsError:
                continue  # unreachable now: the executor checks again before every run

    def _project_admin_fields(self, creating: bool) -> set[str]:
        """Project admins name and describe their environments; environments are
        registered by operations administrators and copies are placed by the system."""
        return set() if creating else {"name", "base_url", "branch"}

    def _ops_admin_fields(self, creating: bool) -> set[str]:
        fields_ = super()._ops_admin_fields(False) | PLACEMENT_FIELDS | {"stage", "active"}
        return fields_ | {"project_id"} if creating else fields_

    def _mark_production_databases(self) -> None:
        """Let the engine itself refuse to drop or replace a production database, from the
        moment it is registered (every check marks it again)."""
        for environment in self.sudo().filtered(lambda e: e.stage == "production" and e.active):
            try:
                with connection(environment.server_id._engine_spec()) as conn:
                    if database_exists(conn, environment.database_name):
                        mark_production(conn, environment.database_name)
            except OpsError as exc:
                _logger.warning("could not mark %s as production: %s", environment.name, exc)
                environment.message_post(
                    body=self.env._(
                        "Could not mark the database as production yet: %(error)s", error=exc
                    )
                )

    # --- work of the "check" run --------------------------------------------------

    def _run_check(self, run) -> dict:
        environment = run.environment_id.sudo()
        report = check_database(environment._engine_spec(), environment.database_name)
        if environment.stage == "production":
            try:  # every check marks it again: the engine itself then refuses to drop it
                with connection(environment.server_id._engine_spec()) as conn:
                    mark_production(conn, environment.database_name)
            except OpsError as exc:
                run._log_event_now("warning", str(exc))
        environment.write(
            {
                "state": "ready",
                "last_check_date": fields.Datetime.now(),
                "last_check_summary": report.summary(),
                "odoo_version": report.odoo_version or False,
                "installed_modules": report.installed_modules or 0,
                "database_size_mb": report.size_bytes / 1024**2,
            }
        )
        return {"summary": report.summary(), "result": report.as_dict()}

    def _on_check_failed(self, run, error: Exception) -> None:
        if isinstance(error, ConnectionFailed):
            run.environment_id.sudo().write(
                {
                    "state": "unreachable",
                    "last_check_date": fields.Datetime.now(),
                    "last_check_summary": str(error)[:250],
                }
            )

    @api.constrains("filestore_path", "server_id")
    def _check_filestore_path(self):
        for environment in self.filtered("filestore_path"):
            try:
                environment._filestore_dir()
            except OpsError as exc:
                raise ValidationError(str(exc)) from None

    def _filestore_dir(self) -> str | None:
        """The filestore directory, checked to lie inside the server's filestore root
        (after resolving links, at the moment of use), or None when there is none."""
        self.ensure_one()
        if not self.filestore_path:
            return None
        root = self.server_id.sudo().filestore_root
        if not root:
            raise ValidationError(
                self.env._(
                    "Set the filestore root of server %(server)s before giving %(env)s a "
                    "filestore: ipai-ops only reads and writes files inside it.",
                    server=self.server_id.sudo().name,
                    env=self.name,
                )
            )
        return str(path_under(self.filestore_path, [root]))

    def _default_filestore_for(self, database: str) -> str | bool:
        """Odoo's layout, ``<filestore root>/<database>``, when this one has a filestore."""
        root = self.server_id.sudo().filestore_root
        if not (self.filestore_path and root):
            return False
        return os.fspath(Path(root) / database)

    def _copy_values(self, stage: str, database: str, name: str) -> dict:
        """The values of a new environment holding a copy of this one's data (a restore
        into a new environment, a staging copy): same project and server, Odoo's
        filestore layout, same code. Callers check the role and the name
        (:meth:`_check_new_database_name`); addons add their fields."""
        self.ensure_one()
        return {
            "name": name,
            "project_id": self.project_id.id,
            "stage": stage,
            "server_id": self.server_id.id,
            "database_name": database,
            "filestore_path": self._default_filestore_for(database),
            "addons_path": self.addons_path,
        }

    def _access_stage(self) -> str:
        """The stage whose role rules apply: production data counts as production
        wherever it sits, until a copy has neutralized and masked it."""
        self.ensure_one()
        return "production" if self.data_class == "production" else self.stage

    def _refuse_control_plane(self) -> None:
        """The executor never acts on the control plane's own database (compared by
        ``database.uuid``, so another name or host for the same database is caught)."""
        self.ensure_one()
        own_uuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid")
        refuse_control_plane(self.sudo()._engine_spec(), own_uuid)

    def _backup_staleness(self, now) -> str | None:
        """Why this environment's backups are late, or None. Without the backup addon
        nothing is known about backups; it overrides this with the one rule."""
        return None

    def _notify_admins_once(self, activity_type, message: str) -> None:
        """Post ``message`` on the chatter and give each project admin (or, with none, the
        administrator) one open to-do of ``activity_type`` about it — not one per repeat."""
        self.ensure_one()
        environment = self.sudo()
        environment.message_post(body=message, subtype_xmlid="mail.mt_note")
        admins = environment.project_id.member_ids.filtered(lambda m: m.role == "admin").user_id
        for user in admins or self.env.ref("base.user_admin"):
            already = environment.activity_ids.filtered(
                lambda a, u=user: a.activity_type_id == activity_type and a.user_id == u
                and a.summary == message[:120]
            )  # fmt: skip
            if not already:
                environment.activity_schedule(
                    activity_type_id=activity_type.id, summary=message[:120], user_id=user.id
                )

    def _retire_unbuilt(self, error: Exception) -> None:
        """A copy or restore that failed leaves no usable environment behind: the record
        made for it is archived (its runs stay, as history) and frees its name."""
        self.ensure_one()
        self.sudo().write(
            {"active": False, "state": "build_failed", "last_check_summary": str(error)[:250]}
        )
        self.sudo().message_post(
            body=self.env._(
                "This environment was not built, and nothing usable was left: %(error)s",
                error=error,
            )
        )

    @api.model
    def _check_new_database_name(self, server, name: str) -> str:
        """A database a wizard is about to create: valid, not protected, not an
        environment's, and absent from the server — checked before anything is created."""
        try:
            validate_database_name(name)
        except InvalidName as exc:
            raise UserError(str(exc)) from None
        server = server.sudo()
        protected = {self.env.cr.dbname, server.maintenance_database}
        if name in protected:
            raise UserError(self.env._("%(db)s is a protected database.", db=name))
        if self.sudo().search_count([("server_id", "=", server.id), ("database_name", "=", name)]):
            raise UserError(
                self.env._("%(db)s already belongs to an environment; pick another name.", db=name)
            )
        try:
            with connection(server._engine_spec()) as conn:
                exists = database_exists(conn, name)
        except OpsError as exc:
            raise UserError(str(exc)) from None
        if exists:
            raise UserError(
                self.env._(
                    "A database %(db)s already exists on %(server)s; pick another name.",
                    db=name,
                    server=server.name,
                )
            )
        return name

    @api.model
    def _default_server(self):
        """The only active server, when there is exactly one."""
        servers = self.env["ipai.ops.db.server"].search([], limit=2)
        return servers if len(servers) == 1 else False

    @api.constrains("database_name")
    def _check_database_name(self):
        for environment in self:
            try:
                validate_database_name(environment.database_name)
            except InvalidName as exc:
                raise ValidationError(str(exc)) from None

    def _compute_run_count(self):
        counts = dict(
            self.env["ipai.ops.run"]._read_group(
                [("environment_id", "in", self.ids)], ["environment_id"], ["__count"]
            )
        )
        for environment in self:
            environment.run_count = counts.get(environment, 0)

    @api.depends_context("uid")
    @api.depends("stage", "project_id")
    def _compute_can_operate(self):
        for environment in self:
            environment.can_operate = environment._may_run("check")

    def _compute_executor_warning(self):
        health = self.env["ipai.ops.run"].sudo()._executor_health()
        warning = False
        if not health.alive:
            last = health.last_pass
            warning = self.env._(
                "The run executor has not run %(since)s: %(queued)s queued operation(s) wait. "
                "Odoo's cron workers are not running — restart Odoo, and run it with "
                "workers > 0 so that cron workers are respawned (see the README).",
                since=f"since {fields.Datetime.to_string(last)} UTC" if last else "yet",
                queued=health.queued,
            )
        for environment in self:
            environment.executor_warning = warning

    @api.depends_context("uid")
    @api.depends("stage", "project_id", "data_class", "active")
    def _compute_allowed_kinds(self):
        kinds = self.env["ipai.ops.run"]._run_kinds()
        for environment in self:
            allowed = [k for k in kinds if environment.active and environment._may_run(k)]
            allowed += environment._other_allowed_actions() if environment.active else []
            environment.allowed_kinds = f" {' '.join(allowed)} " if allowed else ""

    def _other_allowed_actions(self) -> list[str]:
        """Actions other than run kinds the user may start here (addons add theirs)."""
        return []

    def _may_run(self, kind: str) -> bool:
        self.ensure_one()
        run_kind = self.env["ipai.ops.run"]._run_kinds()[kind]
        role = self.project_id._effective_role(self.env.user)
        return role_allows(role, self._access_stage(), run_kind.min_role)

    def _check_may_run(self, kind: str) -> None:
        """Raise an AccessError saying which role the operation needs."""
        self.ensure_one()
        if self._may_run(kind):
            return
        run_kind = self.env["ipai.ops.run"]._run_kinds()[kind]
        raise AccessError(
            self.env._(
                "You may not run %(kind)s on %(environment)s: it needs the %(role)s role "
                "in project %(project)s.",
                kind=run_kind.label,
                environment=self.display_name,
                role=run_kind.role_for(self._access_stage()),
                project=self.project_id.display_name,
            )
        )

    def _queue_run(self, kind: str, params: dict | None = None, after=None):
        """Queue an operation after checking the user's role; the executor runs it soon.

        :param after: a run that must be done before this one starts
        :return: the queued ``ipai.ops.run``, as seen by the current user
        """
        self.ensure_one()
        self.check_access("read")
        self._check_may_run(kind)
        if not self.active:
            raise UserError(self.env._("%(env)s is archived.", env=self.display_name))
        run = self._create_run(kind, params, after=after, requester=self.env.user)
        run._log_event("info", self.env._("Queued by %(user)s.", user=self.env.user.name))
        run._trigger_executor()
        return run.sudo(False)

    def _queue_checked_run(self, kind: str, params: dict | None = None):
        """Queue a run the caller has already authorised for the current user (a wizard
        that checked the role its whole operation needs, on another record)."""
        self.ensure_one()
        run = self._create_run(kind, params, requester=self.env.user)
        run._log_event("info", self.env._("Queued by %(user)s.", user=self.env.user.name))
        run._trigger_executor()
        return run

    def _queue_system_run(self, kind: str, params: dict | None = None):
        """Queue a run on behalf of the system (crons): no user role applies."""
        self.ensure_one()
        run = self._create_run(kind, params)
        run._log_event("info", self.env._("Queued by the schedule."))
        run._trigger_executor()
        return run

    def _create_run(self, kind, params=None, *, after=None, requester=None, state="queued"):
        """The run record itself; callers check roles and log how it was asked for."""
        return (
            self.env["ipai.ops.run"]
            .sudo()
            .create(
                {
                    "kind": kind,
                    "environment_id": self.id,
                    "requester_id": requester.id if requester else False,
                    "requester_name": requester.name if requester else False,
                    "project_id": self.project_id.id,
                    "stage": self.stage,
                    "params": params or {},
                    "after_run_id": after.id if after else False,
                    "state": state,
                }
            )
        )

    def action_run_check(self):
        for environment in self:
            environment._queue_run("check")
        return self.action_open_runs()

    def action_open_runs(self):
        action = self.env["ir.actions.act_window"]._for_xml_id("ipai_ops_core.action_ipai_ops_run")
        action["domain"] = [("environment_id", "in", self.ids)]
        return action

    def _redact(self, text: str | None) -> str | None:
        """Hide the database server's password should it ever appear in a text (a log,
        an error) shown to people who may not know it."""
        try:
            secret = self.server_id._password()
        except OpsError:
            secret = None
        if text and secret and len(secret) >= MIN_REDACTED_LENGTH:
            return text.replace(secret, REDACTED)
        return text

    def _engine_spec(self):
        """Connection settings for this environment's database (password included)."""
        self.ensure_one()
        return self.server_id._engine_spec(self.database_name)
