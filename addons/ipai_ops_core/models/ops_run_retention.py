"""Retention of runs: each kind is kept as long as its policy says, and no longer.

Monitoring samples every five minutes: kept forever, its runs would bury last
night's backup in the list and grow without end. Each kind declares how many days
its finished runs are kept (``retention_days``; the system parameter
``ipai_ops.run_retention_days.<kind>`` overrides it). A daily cron deletes, in
batches, finished runs older than that — never one another record still points to
(a backup, an approval, a run queued after it) — with their events.
"""

from datetime import timedelta

from odoo import api, models
from odoo.tools import SQL

from ..run_kinds import DEFAULT_RETENTION_DAYS
from .ops_run import FINISHED, utcnow

BATCH = 5000  # runs deleted per transaction


class IpaiOpsRunRetention(models.AbstractModel):
    """The retention policy of runs, applied by its cron."""

    _name = "ipai.ops.run.retention"
    _description = "Operations: retention of runs"

    @api.model
    def _cron_apply_run_retention(self):
        """Called from a cron: delete finished runs past their kind's retention."""
        Cron = self.env["ir.cron"]
        while deleted := self._apply_run_retention():
            if Cron._commit_progress(deleted) <= 0:
                break

    @api.model
    def _apply_run_retention(self, now=None) -> int:
        """Delete one batch of expired, unreferenced finished runs; return how many."""
        now = now or utcnow()
        params = self.env["ir.config_parameter"].sudo()
        deleted = 0
        for code, default in self._retention_days_by_kind().items():
            days = int(params.get_param(f"ipai_ops.run_retention_days.{code}", default))
            deleted += self._delete_expired(code, now - timedelta(days=days), BATCH - deleted)
            if deleted >= BATCH:
                break
        return deleted

    def _retention_days_by_kind(self) -> dict[str, int]:
        """Days kept, by kind code: the registry's, and the default for the runs of kinds
        whose addon is gone (their history stays readable that long)."""
        kinds = self.env["ipai.ops.run"]._run_kinds()
        days = {code: kind.retention_days for code, kind in kinds.items()}
        self.env.cr.execute(SQL("SELECT DISTINCT kind FROM ipai_ops_run"))
        for (code,) in self.env.cr.fetchall():
            days.setdefault(code, DEFAULT_RETENTION_DAYS)
        return days

    def _delete_expired(self, kind: str, before, limit: int) -> int:
        if limit <= 0:
            return 0
        self.env.flush_all()
        self.env.cr.execute("SET LOCAL ipai_ops.retention = 'on'")
        self.env.cr.execute(
            SQL(
                """
                WITH doomed AS (
                    SELECT id FROM ipai_ops_run r
                     WHERE r.kind = %(kind)s AND r.state IN %(finished)s
                       AND r.finished_at < %(before)s %(unreferenced)s
                     ORDER BY r.id LIMIT %(limit)s),
                events AS (DELETE FROM ipai_ops_run_event WHERE run_id IN (SELECT id FROM doomed))
                DELETE FROM ipai_ops_run WHERE id IN (SELECT id FROM doomed)
                """,
                kind=kind,
                finished=tuple(FINISHED),
                before=before,
                unreferenced=self._unreferenced_condition(),
                limit=limit,
            )
        )
        count = self.env.cr.rowcount
        self.env.cr.execute("SET LOCAL ipai_ops.retention = 'off'")
        self.env.invalidate_all()
        return count

    def _unreferenced_condition(self) -> SQL:
        """``AND NOT EXISTS (…)`` for every stored many2one to runs, in every model:
        whatever an addon links to a run keeps it."""
        conditions = [
            SQL(
                "AND NOT EXISTS (SELECT 1 FROM %s x WHERE x.%s = r.id)",
                SQL.identifier(model._table),
                SQL.identifier(field.name),
            )
            for model in self.env.registry.values()
            if not model._abstract and model._auto
            for field in model._fields.values()
            if field.type == "many2one" and field.comodel_name == "ipai.ops.run" and field.store
            and model._name != "ipai.ops.run.event"
        ]  # fmt: skip
        return SQL(" ").join(conditions)
