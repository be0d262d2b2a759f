"""The run executor: claims queued runs, executes them, and fails orphans.

How it works
------------
* Buttons and crons only *queue* runs and ``_trigger()`` the executor crons, so
  a queued run starts within seconds on whichever cron worker is free.
* A pass claims one run at a time with ``UPDATE … WHERE id = (SELECT … FOR
  UPDATE SKIP LOCKED)`` in its own short transaction: any number of workers on
  any number of hosts share the queue and never take the same run twice.
* The run executes in a second transaction while a :class:`RunHeartbeat` keeps
  ``heartbeat_at`` fresh and holds an advisory lock keyed by the run.
* Every pass first fails runs whose heartbeat is older than
  ``ipai_ops.heartbeat_timeout`` seconds (default 30) *and* whose advisory
  lock is free — their worker is gone (killed, crashed, restarted).

Long runs and ``limit_time_real``
---------------------------------
In multi-process mode (``workers > 0``) Odoo kills a cron worker after
``limit_time_real_cron`` seconds (``-1``: use ``limit_time_real``, 120 by
default). A backup or clone can take longer, so set ``limit_time_real_cron = 0``
on the hosts that run crons (see odoo.conf.example). A run killed anyway is
failed cleanly by the next pass, never left "running" or marked done.
"""

import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg2

from odoo import api, fields, models, sql_db
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL, config

from ipai_ops.errors import OpsError
from ipai_ops.retry import backoff, is_transient

from ..cron_trigger import trigger_soon
from ..heartbeat import RunHeartbeat, worker_alive
from .ops_run import utcnow

_logger = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 10  # seconds between two heartbeats of a running run
# Seconds of silence before a run's worker may be presumed dead. The proof is its advisory
# lock, free once its session is gone; the silence only covers the instant between a
# claim and the heartbeat taking that lock.
DEFAULT_HEARTBEAT_TIMEOUT = 30
PASS_BUDGET = 300  # seconds one executor pass keeps claiming new runs before yielding
PASS_MARGIN = 30  # a pass with less cron time left than this claims no new run
EXPECTED_ERRORS = (OpsError, UserError, ValidationError, AccessError)


EXECUTOR_SILENCE = 600  # seconds without an executor pass or a live run: the executor is down
LOCK_TIMEOUT = "5s"  # the longest an executor statement waits for a lock held elsewhere


@dataclass(frozen=True)
class ExecutorHealth:
    """The dead man's switch of the run executor."""

    alive: bool
    last_pass: datetime | None  # the newest successful pass of any lane
    running: int  # runs whose heartbeat is fresh
    queued: int
    oldest_queued_seconds: float

    def as_dict(self) -> dict:
        return {
            "status": "ok" if self.alive else "executor down",
            "last_pass": self.last_pass.isoformat() + "Z" if self.last_pass else None,
            "running": self.running,
            "queued": self.queued,
            "oldest_queued_seconds": round(self.oldest_queued_seconds),
        }


class WorkerLost(Exception):
    """The process running a run died (killed, restarted): worth another attempt."""


def bound_lock_waits(cr) -> None:
    """No statement of the executor's transaction ``cr`` waits more than
    :data:`LOCK_TIMEOUT` for a lock: a run meeting a row another transaction holds fails
    with a lock timeout, which is transient, and is tried again later with back-off."""
    if isinstance(cr, sql_db.Cursor):  # tests share one transaction: no setting of theirs
        cr.execute(SQL("SET LOCAL lock_timeout = %s", LOCK_TIMEOUT))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def cron_time_limit() -> int | None:
    """Seconds after which Odoo kills this cron worker, or None when it never does."""
    if not config["workers"]:
        return None  # threaded server: cron threads are not killed
    limit = config["limit_time_real_cron"]
    if limit == -1:
        limit = config["limit_time_real"]
    return limit or None


class IpaiOpsRun(models.Model):
    _inherit = "ipai.ops.run"

    @api.model
    def _cron_process_runs(self):
        """Called from a cron: fail orphaned runs, then execute queued ones.

        A pass yields after :data:`PASS_BUDGET` seconds, or sooner when Odoo's cron
        progress (``_commit_progress``, which also shows the runs done in the cron's
        log) says its time is nearly up; it then triggers itself to go on.
        """
        self._in_own_transaction("_fail_orphaned_runs")
        deadline = time.monotonic() + PASS_BUDGET
        while time.monotonic() < deadline:
            self._in_own_transaction("_cancel_runs_whose_predecessor_failed")
            with self.env.registry.cursor() as cr:
                bound_lock_waits(cr)
                run_id = self._claim_next_run_id(cr, worker_name())
            if not run_id:
                return
            self._execute_run_id(run_id)
            if self._cron_time_left() < PASS_MARGIN:
                break
        if self.sudo().search_count([("state", "in", ("queued", "retrying"))], limit=1):
            self._trigger_executor()

    def _cron_time_left(self) -> float:
        """Seconds the running cron has left, one more run counted as done; unlimited
        outside a cron (a test calling the executor directly)."""
        if not self.env.context.get("ir_cron_progress_id"):
            return float("inf")
        return self.env["ir.cron"]._commit_progress(1)

    @api.model
    def _executor_health(self) -> ExecutorHealth:
        """Alive when a lane finished a pass recently or a run beats now. Crons stop for
        good when their threads die (a PostgreSQL restart under Odoo's threaded server):
        then nothing else would say so, and queued runs would wait without end."""
        silence = int(
            self.env["ir.config_parameter"].sudo().get_param(
                "ipai_ops.executor_silence", EXECUTOR_SILENCE
            )
        )  # fmt: skip
        self.env.cr.execute(
            SQL(
                """
                -- lanes that never ran yet count from their installation
                SELECT (SELECT max(coalesce(lastcall, create_date)) FROM ir_cron
                         WHERE id IN %(lanes)s AND active),
                       (SELECT count(*) FROM ipai_ops_run WHERE state = 'running'
                           AND heartbeat_at > now() AT TIME ZONE 'UTC' - %(beat)s * interval '1 s'),
                       (SELECT count(*) FROM ipai_ops_run WHERE state = 'queued'),
                       (SELECT extract(epoch FROM now() AT TIME ZONE 'UTC' - min(queued_at))
                          FROM ipai_ops_run WHERE state = 'queued')
                """,
                lanes=tuple(self._executor_crons().ids) or (0,),
                beat=self._heartbeat_timeout(),
            )
        )
        last_pass, running, queued, oldest = self.env.cr.fetchone()
        recent = last_pass is not None and last_pass > utcnow() - timedelta(seconds=silence)
        return ExecutorHealth(bool(recent or running), last_pass, running, queued, oldest or 0.0)

    def _heartbeat_timeout(self) -> int:
        return int(
            self.env["ir.config_parameter"].sudo().get_param(
                "ipai_ops.heartbeat_timeout", DEFAULT_HEARTBEAT_TIMEOUT
            )
        )  # fmt: skip

    @api.model
    def _in_own_transaction(self, method: str) -> None:
        """Run a bookkeeping step in a short transaction of its own, committed at once,
        rather than in the cron's, which lasts as long as the whole pass."""
        with self.env.registry.cursor() as cr:
            bound_lock_waits(cr)
            getattr(self.with_env(self.env(cr=cr)), method)()

    @api.model
    def _claim_next_run_id(self, cr, worker: str) -> int | None:
        """Mark the next queued run as running by ``worker`` and return its id.

        ``SKIP LOCKED``: a run another transaction is claiming is passed over, not
        waited for, so concurrent claimers each get a different run (or none).
        The caller commits ``cr`` to make the claim visible.
        """
        cr.execute(
            SQL(
                """
                UPDATE ipai_ops_run
                   SET state = 'running', worker = %(worker)s,
                       attempt = attempt + (state = 'retrying')::int, retry_at = NULL,
                       started_at = clock_timestamp() AT TIME ZONE 'UTC',
                       heartbeat_at = clock_timestamp() AT TIME ZONE 'UTC'
                 WHERE id = (SELECT run.id
                               FROM ipai_ops_run run
                          LEFT JOIN ipai_ops_run before ON before.id = run.after_run_id
                              WHERE (run.state = 'queued' OR (run.state = 'retrying'
                                     AND run.retry_at <= clock_timestamp() AT TIME ZONE 'UTC'))
                                AND (run.after_run_id IS NULL OR before.state = 'done')
                              ORDER BY run.priority, run.id
                              LIMIT 1
                                FOR UPDATE OF run SKIP LOCKED)
             RETURNING id
                """,
                worker=worker,
            )
        )
        row = cr.fetchone()
        return row[0] if row else None

    @api.model
    def _execute_run_id(self, run_id: int) -> None:
        """Execute a claimed run in its own transaction and record how it ended."""
        try:
            self._execute_in_own_transaction(run_id)
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            # PostgreSQL went away under the run (a restart, a lost link): its transaction
            # is gone and so is the heartbeat's session. Say so as soon as the server is
            # back, rather than leave it to the orphan check's timeout, then end this pass:
            # the cron's own transaction is gone too.
            _logger.warning("run %s lost its database connection", run_id, exc_info=True)
            self._retry_lost_run(run_id)
            raise

    def _execute_in_own_transaction(self, run_id: int) -> None:
        with self.env.registry.cursor() as cr:
            if isinstance(cr, sql_db.Cursor):  # a real transaction (tests share theirs)
                # A run lasts minutes; under Odoo's REPEATABLE READ its final writes would
                # fail on any row another run updated meanwhile (the environment, say), and
                # a published backup would be reported failed. Each statement of a run sees
                # the latest committed data instead.
                cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            bound_lock_waits(cr)
            run = self.with_env(self.env(cr=cr)).sudo().browse(run_id)
            with RunHeartbeat(cr.dbname, run_id, HEARTBEAT_INTERVAL):
                run._execute()

    def _execute(self) -> None:
        self.ensure_one()
        kind = self._kind()
        if kind is None:
            self._finish_failed(
                UserError(
                    self.env._(
                        "The addon that provides %(kind)s is not installed: nothing ran.",
                        kind=self.kind_label or self.kind,
                    )
                ),
                None,
            )
            return
        limit = cron_time_limit()
        self._log_event_now("info", self.env._("Started on %(worker)s.", worker=self.worker))
        if limit:
            self._log_event_now(
                "warning",
                self.env._(
                    "This worker is killed after %(limit)s s (limit_time_real_cron); set "
                    "limit_time_real_cron = 0 so long operations can finish.",
                    limit=limit,
                ),
            )
        try:
            with self.env.cr.savepoint():
                self.environment_id._refuse_control_plane()
                # the work lives on its business model; the run is only its envelope
                outcome = getattr(self.env[kind.model], kind.method)(self) or {}
        except EXPECTED_ERRORS as exc:
            self._finish_failed(exc, kind)
        except Exception as exc:
            if is_transient(exc):  # a lock timeout, a serialization failure: no crash
                self._finish_failed(exc, kind)
                return
            _logger.exception("run %s (%s) crashed", self.name, self.kind)
            self._finish_failed(exc, kind, unexpected=True)
        else:
            self._finish_done(outcome)

    def _still_ours(self) -> bool:
        """False when the run was failed by another worker while we were executing it."""
        self.invalidate_recordset(["state"])
        return self.state == "running"

    def _finish_done(self, outcome: dict) -> None:
        if not self._still_ours():
            return
        summary = outcome.get("summary") or self.env._("Done.")
        self._transition(
            "done",
            {"summary": self._redact(summary)[:250], "result": outcome.get("result") or False},
        )
        self._log_event("info", summary, outcome.get("result"))

    def _finish_failed(self, error: Exception, kind, unexpected: bool = False) -> None:
        """Record a failure (or a retry); ``kind`` is None for a kind no longer installed."""
        if not self._still_ours():
            return
        message = str(error) or type(error).__name__
        if unexpected:
            message = self.env._(
                "Unexpected error (%(type)s): %(message)s",
                type=type(error).__name__,
                message=message,
            )
        message = self._redact(message)
        if kind and self._retry_later(error, kind, message):
            return
        self._transition("failed", {"error": message, "summary": message.splitlines()[0][:250]})
        self._log_event("error", message)
        if kind and kind.on_failure:
            getattr(self.env[kind.model], kind.on_failure)(self, error)

    def _retry_later(self, error: Exception, kind, message: str) -> bool:
        """Requeue a run whose failure is transient while it has attempts left."""
        attempts = kind.max_attempts
        if self.attempt >= attempts or not (isinstance(error, WorkerLost) or is_transient(error)):
            return False
        delay = backoff(self.attempt)
        retry_at = utcnow() + timedelta(seconds=delay)
        self._transition(
            "retrying",
            {"retry_at": retry_at, "summary": message.splitlines()[0][:250]},
            self.env._(
                "Attempt %(n)s of %(max)s failed, which may pass: %(error)s — trying again in "
                "%(delay).0f s.",
                n=self.attempt, max=attempts, error=message, delay=delay,
            ),
            level="warning",
        )  # fmt: skip
        for cron in self._executor_crons():
            trigger_soon(cron, at=retry_at)
        return True

    @api.model
    def _fail_orphaned_runs(self) -> None:
        """Fail running runs whose worker is gone (stale heartbeat, advisory lock free)."""
        timeout = self._heartbeat_timeout()
        limit = fields.Datetime.now() - timedelta(seconds=timeout)
        stale = self.sudo().search([("state", "=", "running"), ("heartbeat_at", "<", limit)])
        for run in stale:
            if worker_alive(self.env.cr, run.id):
                continue
            message = self.env._(
                "The worker %(worker)s stopped without finishing (no heartbeat for %(timeout)s s):"
                " it was killed, crashed or lost its database connection. Nothing was marked "
                "done.",
                worker=run.worker or "?",
                timeout=timeout,
            )
            run._finish_failed(WorkerLost(message), run._kind())

    @api.model
    def _retry_lost_run(self, run_id: int) -> None:
        """Retry (or fail) a run whose database connection broke while it executed."""
        try:
            with self.env.registry.cursor() as cr:
                bound_lock_waits(cr)
                run = self.with_env(self.env(cr=cr)).sudo().browse(run_id)
                if run.state != "running" or worker_alive(cr, run_id):
                    return  # finished after all, or already taken up again elsewhere
                message = self.env._(
                    "The connection to the control plane's database was lost while the run "
                    "executed (PostgreSQL restarted or went away). Nothing was marked done."
                )
                run._finish_failed(WorkerLost(message), run._kind())
        except psycopg2.Error:
            _logger.warning("database still away: the orphan check will take up run %s", run_id)

    @api.model
    def _cancel_runs_whose_predecessor_failed(self) -> None:
        """A run queued after another (a backup before an update) never runs without it."""
        doomed = self.sudo().search(
            [("state", "=", "queued"), ("after_run_id.state", "in", ("failed", "cancelled"))]
        )
        for run in doomed:
            run._transition(
                "cancelled",
                message=self.env._(
                    "Cancelled: %(before)s, which had to succeed first, %(state)s.",
                    before=run.after_run_id.name,
                    state=run.after_run_id.state,
                ),
                level="error",
            )

    @api.model
    def _trigger_executor(self) -> None:
        """Ask every executor cron (every lane) to run as soon as a cron worker is free."""
        for cron in self._executor_crons():
            trigger_soon(cron)

    @api.model
    def _executor_crons(self):
        return (
            self.env["ir.cron"]
            .sudo()
            .search(
                [("model_id.model", "=", self._name), ("code", "=like", "%_cron_process_runs%")]
            )
        )
