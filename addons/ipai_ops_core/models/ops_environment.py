from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError

from ipai_ops.errors import InvalidName
from ipai_ops.identifiers import validate_database_name

from ..roles import STAGES, required_role, role_allows

PLACEMENT_FIELDS = frozenset({"server_id", "database_name", "filestore_path", "addons_path"})
ENVIRONMENT_STATES = [
    ("new", "Not checked yet"),
    ("ready", "Ready"),
    ("unreachable", "Unreachable"),
]


class IpaiOpsEnvironment(models.Model):
    """A database on a server, its filestore and the code it runs, at one stage."""

    _name = "ipai.ops.environment"
    _description = "Operations: environment"
    _inherit = ["mail.thread", "mail.activity.mixin"]
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
    run_ids = fields.One2many("ipai.ops.run", "environment_id", string="Runs")
    run_count = fields.Integer(compute="_compute_run_count")
    can_operate = fields.Boolean(
        compute="_compute_can_operate", help="Whether you may run operations on this environment."
    )

    _one_production_per_project = models.UniqueIndex(
        "(project_id) WHERE stage = 'production' AND active",
        "A project can have only one production environment.",
    )
    _database_per_server_uniq = models.Constraint(
        "UNIQUE(server_id, database_name)",
        "Another environment already uses this database on this server.",
    )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_placement(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._check_placement(vals)
        return super().write(vals)

    @api.model
    def _check_placement(self, vals: dict) -> None:
        """Where an environment lives decides what ipai-ops reads, writes and runs (its
        server's credentials, its files, its code): only operations administrators choose
        it. Project admins edit everything else; copies are placed by the system."""
        if self.env.su or not PLACEMENT_FIELDS.intersection(vals):
            return
        if not self.env.user.has_group("ipai_ops_core.group_ops_admin"):
            raise AccessError(
                self.env._(
                    "Only operations administrators may set an environment's server, database, "
                    "filestore or addons path."
                )
            )

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

    def _may_run(self, kind: str) -> bool:
        self.ensure_one()
        spec = self.env["ipai.ops.run"]._run_kinds()[kind]
        role = self.project_id._effective_role(self.env.user)
        return role_allows(role, self.stage, spec["min_role"])

    def _check_may_run(self, kind: str) -> None:
        """Raise an AccessError saying which role the operation needs."""
        self.ensure_one()
        if self._may_run(kind):
            return
        spec = self.env["ipai.ops.run"]._run_kinds()[kind]
        needed = required_role(self.stage, spec["min_role"])
        raise AccessError(
            self.env._(
                "You may not run %(kind)s on %(environment)s: it needs the %(role)s role "
                "in project %(project)s.",
                kind=spec["label"],
                environment=self.display_name,
                role=needed,
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
        run = self._create_run(kind, params, after=after, requester=self.env.user)
        run._log_event("info", self.env._("Queued by %(user)s.", user=self.env.user.name))
        run._trigger_executor()
        return run.sudo(False)

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

    def _engine_spec(self):
        """Connection settings for this environment's database (password included)."""
        self.ensure_one()
        return self.server_id._engine_spec(self.database_name)
