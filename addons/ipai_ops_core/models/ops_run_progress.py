import time

from odoo import fields, models
from odoo.tools import SQL

# how often a running operation may update its progress: each update is a commit and a
# notification to every member's browser
PROGRESS_EVERY = 1.0  # seconds

_UPSERT = """
INSERT INTO ipai_ops_run_progress (run_id, fraction, phase, updated_at)
VALUES (%(run)s, %(fraction)s, %(phase)s, now() AT TIME ZONE 'UTC')
    ON CONFLICT (run_id) DO UPDATE
   SET fraction = GREATEST(ipai_ops_run_progress.fraction, EXCLUDED.fraction),
       phase = EXCLUDED.phase, updated_at = EXCLUDED.updated_at
"""


class IpaiOpsRunProgress(models.Model):
    """How far a running operation is, as its engine reports it.

    Its own table: the run's row belongs to the transaction executing it until the end,
    and the audit trail (events) is append-only — a fraction changing every second is
    neither an event nor a state.
    """

    _name = "ipai.ops.run.progress"
    _description = "Operations: progress of a run"
    _log_access = False

    run_id = fields.Many2one("ipai.ops.run", required=True, ondelete="cascade", index=True)
    fraction = fields.Float(digits=(16, 4))
    phase = fields.Char()
    updated_at = fields.Datetime()

    _run_uniq = models.UniqueIndex("(run_id)")

    def _report(self, run, fraction: float | None, phase: str, new_phase: bool) -> None:
        """Store the run's progress — and a new phase as an event of its trail — and tell
        its audience, in one short transaction of its own."""
        with self.env.registry.cursor() as cr:
            cr.execute(SQL(_UPSERT, run=run.id, fraction=fraction or 0.0, phase=phase[:250]))
            run = run.with_env(run.env(cr=cr))
            if new_phase:
                run._log_event("info", phase)  # which tells the audience
            else:
                run._notify_live()


class ProgressReporter:
    """The ``progress`` callback handed to the engine for a run: each new phase message
    is an event of the run's trail; fractions go to the run's progress, at most once a
    second, each phase change at once."""

    def __init__(self, run):
        self.run = run
        self.phase = None
        self.last = 0.0

    def __call__(self, message: str, fraction: float | None = None) -> None:
        new_phase = message != self.phase
        now = time.monotonic()
        if new_phase or (fraction is not None and now - self.last >= PROGRESS_EVERY):
            self.phase, self.last = message, now
            Progress = self.run.env["ipai.ops.run.progress"].sudo()
            Progress._report(self.run, fraction, message, new_phase)
