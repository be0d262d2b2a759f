from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ipai_ops.check import check_database
from ipai_ops.connection import connection
from ipai_ops.errors import ConnectionFailed, OpsError
from ipai_ops.guards import mark_production

from ..audit_trigger import install_run_trigger
from ..roles import STAGES

RUN_STATES = [
    ("queued", "Queued"),
    ("running", "Running"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
]
REDACTED = "********"
MIN_REDACTED_LENGTH = 6  # shorter secrets would blank out ordinary words in messages


class IpaiOpsRun(models.Model):
    """One operation on one environment: who asked, what ran, what it produced.

    Runs are only ever created by :meth:`ipai.ops.environment._queue_run` (which
    checks the requester's role) and only ever changed by the executor, so the
    record is a trustworthy account of what happened.
    """

    _name = "ipai.ops.run"
    _description = "Operations: run"
    _order = "id desc"

    name = fields.Char(readonly=True, copy=False, default="/")
    kind = fields.Selection([("check", "Check")], required=True, readonly=True)
    environment_id = fields.Many2one(
        "ipai.ops.environment", required=True, readonly=True, ondelete="restrict", index=True
    )
    # copied at creation, not related: the audit trail says where it ran, then
    project_id = fields.Many2one(
        "ipai.ops.project", readonly=True, required=True, index=True, ondelete="restrict"
    )
    stage = fields.Selection(STAGES, readonly=True, required=True)
    requester_id = fields.Many2one("res.users", readonly=True, ondelete="restrict")
    requester_name = fields.Char(
        string="Requested by", readonly=True, help="Kept even if the user is renamed."
    )
    state = fields.Selection(RUN_STATES, default="queued", required=True, readonly=True, index=True)
    priority = fields.Integer(default=10, readonly=True, help="Lower runs first.")
    after_run_id = fields.Many2one(
        "ipai.ops.run",
        string="Runs after",
        readonly=True,
        ondelete="restrict",
        help="This run starts only once that one is done, and is cancelled if it is not.",
    )
    queued_at = fields.Datetime(default=fields.Datetime.now, readonly=True)
    started_at = fields.Datetime(readonly=True)
    finished_at = fields.Datetime(readonly=True)
    heartbeat_at = fields.Datetime(readonly=True)
    worker = fields.Char(readonly=True, help="host:pid of the process that ran it.")
    duration = fields.Float(string="Duration (s)", compute="_compute_duration", digits=(16, 1))
    params = fields.Json(readonly=True)
    result = fields.Json(readonly=True)
    summary = fields.Char(readonly=True)
    error = fields.Text(readonly=True)
    event_ids = fields.One2many("ipai.ops.run.event", "run_id", string="Events", readonly=True)

    _queue_idx = models.Index("(priority, id) WHERE state = 'queued'")

    @api.depends("started_at", "finished_at")
    def _compute_duration(self):
        now = fields.Datetime.now()
        for run in self:
            end = run.finished_at or (now if run.state == "running" else None)
            run.duration = (end - run.started_at).total_seconds() if run.started_at and end else 0

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            raise AccessError(
                self.env._(
                    "Runs are queued from an environment's actions, which check your role; "
                    "they cannot be created directly."
                )
            )
        for vals in vals_list:
            vals["name"] = self.env["ir.sequence"].next_by_code("ipai.ops.run") or "/"
            environment = self.env["ipai.ops.environment"].browse(vals["environment_id"])
            vals.setdefault("project_id", environment.project_id.id)
            vals.setdefault("stage", environment.stage)
        return super().create(vals_list)

    def init(self):
        result = super().init()
        install_run_trigger(self.env.cr)
        return result

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(self.env._("Runs are the operations audit trail and cannot be deleted."))

    # --- kinds -------------------------------------------------------------------

    def _run_kinds(self) -> dict:
        """Every kind of run: label, least project role, and the method executing it.

        Addons add kinds by extending the ``kind`` selection and this dict. The
        method runs on the claimed run in the executor's transaction and returns
        ``{"summary": str, "result": dict}``; raising an ``OpsError`` fails the run
        with that message. ``on_failure`` (optional) runs after a failure, in the
        transaction that records it.
        """
        return {
            "check": {
                "label": self.env._("Check"),
                "min_role": "developer",
                "method": "_execute_check",
                "on_failure": "_on_check_failed",
            },
        }

    def _execute_check(self) -> dict:
        environment = self.environment_id.sudo()
        report = check_database(environment._engine_spec(), environment.database_name)
        if environment.stage == "production":
            self._mark_production(environment)
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

    def _mark_production(self, environment) -> None:
        """Let the engine itself refuse to drop or replace this database, whoever asks."""
        try:
            with connection(environment.server_id._engine_spec()) as conn:
                mark_production(conn, environment.database_name)
        except OpsError as exc:
            self._log_event_now("warning", str(exc))

    def _on_check_failed(self, error: Exception) -> None:
        if isinstance(error, ConnectionFailed):
            self.environment_id.sudo().write(
                {
                    "state": "unreachable",
                    "last_check_date": fields.Datetime.now(),
                    "last_check_summary": str(error)[:250],
                }
            )

    # --- events ------------------------------------------------------------------

    def _redact(self, text: str | None) -> str | None:
        """Hide the environment server's password should it ever appear in a text."""
        try:
            secret = self.environment_id.server_id._password()
        except OpsError:
            secret = None
        if text and secret and len(secret) >= MIN_REDACTED_LENGTH:
            return text.replace(secret, REDACTED)
        return text

    def _log_event(self, level: str, message: str, data: dict | None = None):
        """Append an event to this run's audit trail, in the current transaction."""
        self.ensure_one()
        return (
            self.env["ipai.ops.run.event"]
            .sudo()
            .create(
                {
                    "run_id": self.id,
                    "level": level,
                    "message": self._redact(message),
                    "data": data or False,
                }
            )
        )

    def _log_event_now(self, level: str, message: str, data: dict | None = None) -> None:
        """Append an event in its own transaction: visible at once, kept whatever follows."""
        with self.env.registry.cursor() as cr:
            self.with_env(self.env(cr=cr))._log_event(level, message, data)

    # --- actions -----------------------------------------------------------------

    def action_cancel(self):
        """Cancel queued runs; the requester needs the role the run itself needs."""
        for run in self:
            run.environment_id._check_may_run(run.kind)
            if run.state != "queued":
                raise UserError(
                    self.env._(
                        "Only queued runs can be cancelled; %(run)s is %(state)s.",
                        run=run.name,
                        state=run.state,
                    )
                )
            run.sudo().write({"state": "cancelled", "finished_at": fields.Datetime.now()})
            run._log_event("warning", self.env._("Cancelled by %(user)s.", user=self.env.user.name))
        return True
