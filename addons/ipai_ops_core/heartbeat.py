"""Proof of life for a running run, from a thread with its own connection.

While an operation runs (minutes or hours, in the executor's transaction), a
:class:`RunHeartbeat` refreshes ``heartbeat_at`` every few seconds and holds a
session-level advisory lock keyed by the run. If the worker process dies — killed
by ``limit_time_real_cron``, the OOM killer, a restart — its connection closes,
PostgreSQL releases the lock, and the heartbeat stops: the next executor pass
sees both and fails the run instead of leaving it "running" forever.
"""

import logging
import threading

import psycopg2

from odoo import sql_db

_logger = logging.getLogger(__name__)

ADVISORY_LOCK_NAMESPACE = 0x1A1  # first key of pg_advisory_lock(int, int): "runs of ipai-ops"
STATEMENT_TIMEOUT = 5000  # milliseconds a heartbeat statement may take before it gives up
# The run's own transaction may hold its row (it wrote it); waiting for that lock would
# block this thread until the transaction ends — which waits for this thread: a deadlock
# PostgreSQL cannot see. A locked row is skipped instead: its worker is alive anyway, and
# the advisory lock says so to the orphan check.
_BEAT = """
UPDATE ipai_ops_run SET heartbeat_at = now() AT TIME ZONE 'UTC'
 WHERE id = (SELECT id FROM ipai_ops_run WHERE id = %s AND state = 'running'
               FOR UPDATE SKIP LOCKED)
"""


class RunHeartbeat:
    """``with RunHeartbeat(dbname, run_id, interval):`` — beats until the block ends."""

    def __init__(self, dbname: str, run_id: int, interval: float):
        self.dbname = dbname
        self.run_id = run_id
        self.interval = interval
        self._stop = threading.Event()
        self._thread = None
        self._conn = None

    def __enter__(self):
        _db, info = sql_db.connection_info_for(self.dbname)
        self._conn = psycopg2.connect(**{**info, "application_name": "ipai-ops heartbeat"})
        self._conn.autocommit = True
        with self._conn.cursor() as cur:
            cur.execute("SET statement_timeout = %s", (STATEMENT_TIMEOUT,))
            cur.execute("SELECT pg_advisory_lock(%s, %s)", (ADVISORY_LOCK_NAMESPACE, self.run_id))
        self._thread = threading.Thread(
            target=self._beat, name=f"ipai-ops-heartbeat-{self.run_id}", daemon=True
        )
        self._thread.start()
        return self

    def _beat(self):
        while not self._stop.wait(self.interval):
            try:
                with self._conn.cursor() as cur:
                    cur.execute(_BEAT, (self.run_id,))
            except psycopg2.Error:
                # The next executor pass judges the run by the missing heartbeat.
                _logger.warning("heartbeat of run %s failed", self.run_id, exc_info=True)
                return

    def __exit__(self, *exc_info):
        self._stop.set()
        if self._thread:
            self._thread.join()
        if self._conn:
            self._conn.close()  # releases the advisory lock
        return False


def worker_alive(cr, run_id: int) -> bool:
    """Whether some session still holds the run's advisory lock (its worker lives).

    Takes the lock for the rest of ``cr``'s transaction when it is free, so no
    worker can start beating for that run while we fail it.
    """
    cr.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", (ADVISORY_LOCK_NAMESPACE, run_id))
    return not cr.fetchone()[0]
