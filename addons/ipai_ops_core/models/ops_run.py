import json
from datetime import datetime, timezone

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from ..audit_trigger import install_run_trigger
from ..roles import STAGES
from ..run_kinds import RunKind
from .ops_run_progress import ProgressReporter

RUN_STATES = [
    ("waiting", "Waiting for approval"),
    ("queued", "Queued"),
    ("running", "Running"),
    ("retrying", "Retrying"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
]
# every state change a run may make; the executor's claim is the only way to "running"
TRANSITIONS = {
    "waiting": {"queued", "cancelled"},
    "queued": {"running", "cancelled"},
    "retrying": {"running", "cancelled"},
    "running": {"done", "failed", "retrying"},
}
FINISHED = frozenset({"done", "failed", "cancelled"})


def utcnow() -> datetime:
    """Now, in UTC (naive, as Odoo stores it)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def utc_naive(moment: datetime) -> datetime:
    """An aware moment (a timestamptz, git's dates) as Odoo stores times: UTC, no zone."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


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
    # the code of a RunKind (see _run_kinds); plain text, so that the runs of an addon's
    # kinds stay readable history once that addon is uninstalled
    kind = fields.Char(required=True, readonly=True, index=True)
    kind_label = fields.Char(string="Operation", readonly=True)
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
    queued_at = fields.Datetime(default=lambda self: utcnow(), readonly=True)
    attempt = fields.Integer(default=1, readonly=True, help="Which attempt this is (or was).")
    in_operations_log = fields.Boolean(
        default=True,
        readonly=True,
        index=True,
        help="Shown in the operations list by default (routine samples are not).",
    )
    retry_at = fields.Datetime(readonly=True, help="When the next attempt starts.")
    started_at = fields.Datetime(readonly=True)
    finished_at = fields.Datetime(readonly=True)
    heartbeat_at = fields.Datetime(readonly=True)
    worker = fields.Char(readonly=True, help="host:pid of the process that ran it.")
    duration = fields.Float(string="Duration (s)", compute="_compute_duration", digits=(16, 3))
    params = fields.Json(readonly=True)
    result = fields.Json(readonly=True)
    result_text = fields.Text(string="Result as text", compute="_compute_result_text")
    summary = fields.Char(readonly=True)
    error = fields.Text(readonly=True)
    event_ids = fields.One2many("ipai.ops.run.event", "run_id", string="Events", readonly=True)
    progress = fields.Float(
        compute="_compute_progress", help="How far the operation is, as its engine reports it."
    )
    phase = fields.Char(compute="_compute_progress", help="What the operation is doing now.")

    _queue_idx = models.Index("(priority, id) WHERE state IN ('queued', 'retrying')")

    @api.depends("result")
    def _compute_result_text(self):
        for run in self:
            run.result_text = (
                json.dumps(run.result, indent=2, sort_keys=True, default=str) if run.result else ""
            )

    @api.depends("state")
    def _compute_progress(self):
        running = self.filtered(lambda run: run.state == "running")
        found = {
            row.run_id.id: row
            for row in self.env["ipai.ops.run.progress"]
            .sudo()
            .search([("run_id", "in", running.ids)])
        }
        for run in self:
            row = found.get(run.id)
            run.progress = 100.0 if run.state == "done" else 100.0 * row.fraction if row else 0.0
            run.phase = row.phase if row and run.state == "running" else False

    def _progress_reporter(self):
        """The engine's ``progress`` callback for this run (see ``ProgressReporter``)."""
        self.ensure_one()
        return ProgressReporter(self)

    def _live_audience(self):
        """Who is told a run changed: the project's members and operations administrators,
        the users who may read it."""
        admins = self.env.ref("ipai_ops_core.group_ops_admin").sudo().all_user_ids
        return self.sudo().project_id.member_ids.user_id | admins

    def _notify_live(self) -> None:
        """Tell the browsers of the runs' audience that they changed (on commit): open run
        lists and forms reload them. Ids and states only; the reload reads the rest with
        the reader's own rights."""
        for run in self.sudo():
            run._live_audience()._bus_send(
                "ipai_ops.run/changed",
                {"run_id": run.id, "environment_id": run.environment_id.id, "state": run.state},
            )

    @api.depends("started_at", "finished_at")
    def _compute_duration(self):
        now = utcnow()
        for run in self:
            end = run.finished_at or (now if run.state == "running" else None)
            seconds = (end - run.started_at).total_seconds() if run.started_at and end else 0
            run.duration = max(0.0, seconds)

    def _transition(self, state: str, values: dict | None = None, message: str | None = None,
                    level: str = "info") -> None:  # fmt: skip
        """The one way a run changes state (the claim aside): checked against
        :data:`TRANSITIONS`, timestamped, and written to the audit trail.

        :raises UserError: for a change the state machine does not allow
        """
        for run in self:
            if state not in TRANSITIONS.get(run.state, ()):
                raise UserError(
                    self.env._(
                        "%(run)s is %(state)s; it cannot become %(new)s.",
                        run=run.name, state=run.state, new=state,
                    )
                )  # fmt: skip
            changes = dict(values or {}, state=state)
            if state in FINISHED and "finished_at" not in changes:
                # by the server's clock, to the microsecond, like the claim's started_at:
                # the ORM would store whole seconds
                self.env.cr.execute(
                    SQL(
                        "UPDATE ipai_ops_run SET finished_at = clock_timestamp() AT TIME ZONE"
                        " 'UTC' WHERE id = %s",
                        run.id,
                    )
                )
                run.invalidate_recordset(["finished_at"])
            run.sudo().write(changes)
            if message:
                run._log_event(level, message)

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            raise AccessError(
                self.env._(
                    "Runs are queued from an environment's actions, which check your role; "
                    "they cannot be created directly."
                )
            )
        kinds = self._run_kinds()
        for vals in vals_list:
            kind = kinds.get(vals.get("kind"))
            if kind is None:
                raise UserError(self.env._("Unknown operation %(kind)r.", kind=vals.get("kind")))
            vals["name"] = self.env["ir.sequence"].next_by_code("ipai.ops.run") or "/"
            environment = self.env["ipai.ops.environment"].browse(vals["environment_id"])
            vals.setdefault("project_id", environment.project_id.id)
            vals.setdefault("stage", environment.stage)
            vals["kind_label"] = kind.label
            vals.setdefault("in_operations_log", kind.in_operations_log)
            vals.setdefault("priority", kind.priority)
        return super().create(vals_list)

    def init(self):
        result = super().init()
        install_run_trigger(self.env.cr)
        return result

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        raise UserError(self.env._("Runs are the operations audit trail and cannot be deleted."))

    # --- kinds -------------------------------------------------------------------

    def _run_kinds(self) -> dict[str, RunKind]:
        """Every kind of run, by code. Addons extend this with their own kinds (see
        :mod:`..run_kinds`): it is the one place a kind is declared."""
        return {
            "check": RunKind(
                "check",
                self.env._("Check"),
                model="ipai.ops.environment",
                method="_run_check",
                on_failure="_on_check_failed",
                retention_days=90,
            ),
        }

    def _kind(self) -> RunKind | None:
        """This run's kind; None once the addon that provided it is uninstalled."""
        self.ensure_one()
        return self._run_kinds().get(self.kind)

    # --- events ------------------------------------------------------------------

    def _redact(self, text: str | None) -> str | None:
        """Hide the environment server's password should it ever appear in a text."""
        return self.environment_id._redact(text)

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
        """Cancel runs that have not started; it takes the role the run itself needs."""
        for run in self:
            run.environment_id._check_may_run(run.kind)
            if run.state not in ("queued", "retrying", "waiting"):
                raise UserError(
                    self.env._(
                        "Only runs that have not started can be cancelled; %(run)s is %(state)s.",
                        run=run.name,
                        state=run.state,
                    )
                )
            run._transition(
                "cancelled",
                message=self.env._("Cancelled by %(user)s.", user=self.env.user.name),
                level="warning",
            )
        return True
