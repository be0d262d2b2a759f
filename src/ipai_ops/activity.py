"""Who is connected, what runs, what waits on whom — and stopping a backend."""

from __future__ import annotations

from psycopg2 import sql

from .connection import ServerSpec, connection, fetch_dicts
from .errors import OpsError

_ACTIVITY = """
SELECT a.pid, a.datname, a.usename, a.application_name, a.client_addr::text, a.state,
       a.wait_event_type, a.wait_event,
       extract(epoch FROM now() - a.query_start) AS query_seconds,
       extract(epoch FROM now() - a.xact_start) AS xact_seconds,
       pg_blocking_pids(a.pid) AS blocked_by,
       CASE WHEN %(with_text)s THEN a.query END AS query
  FROM pg_stat_activity a
 WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
   AND (%(database)s IS NULL OR a.datname = %(database)s)
 ORDER BY a.query_start NULLS LAST
"""

_LOCKS = """
SELECT l.pid, l.locktype, l.mode, l.granted, l.relation::regclass::text
  FROM pg_locks l
 WHERE l.pid = ANY(%(pids)s) AND NOT l.granted
"""


def read_activity(
    spec: ServerSpec, *, with_text: bool = True, database: str | None = None
) -> list[dict]:
    """Every client session of the server (or of one ``database`` on it), with what blocks
    it and the lock it waits for."""
    with connection(spec.for_database(spec.dbname or "postgres")) as conn, conn.cursor() as cur:
        sessions = fetch_dicts(cur, _ACTIVITY, {"with_text": with_text, "database": database})
        waiting = [s["pid"] for s in sessions if s["blocked_by"]]
        if waiting:
            cur.execute(_LOCKS, {"pids": waiting})
            for pid, locktype, mode, _granted, relation in cur.fetchall():
                for session in sessions:
                    if session["pid"] == pid:
                        session["waiting_for"] = f"{mode} on {locktype} {relation or ''}".strip()
    return sessions


def max_connections(spec: ServerSpec) -> int:
    with connection(spec.for_database(spec.dbname or "postgres")) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_setting('max_connections')::int")
        return cur.fetchone()[0]


def summarize(sessions: list[dict], max_connections: int) -> dict:
    """Counts an administrator (and the alerts) look at first."""
    by_state: dict[str, int] = {}
    for session in sessions:
        by_state[session["state"] or "unknown"] = by_state.get(session["state"] or "unknown", 0) + 1
    return {
        "connections": len(sessions),
        "max_connections": max_connections,
        "by_state": by_state,
        "blocked": sum(1 for s in sessions if s["blocked_by"]),
        "longest_query_seconds": max(
            (s["query_seconds"] or 0 for s in sessions if s["state"] == "active"), default=0
        ),
    }


def signal_backend(spec: ServerSpec, pid: int, *, database: str, terminate: bool = False) -> bool:
    """Cancel a backend's query (or terminate the session) of ``database``; True when it was
    signalled. A pid of any other database is refused, in the same statement that signals
    it, so a pid reused by another database's session in between is never hit."""
    function = "pg_terminate_backend" if terminate else "pg_cancel_backend"
    with connection(spec.for_database(spec.dbname or "postgres")) as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "SELECT {}(pid) FROM pg_stat_activity"
                " WHERE pid = %s AND datname = %s AND pid <> pg_backend_pid()"
            ).format(sql.Identifier(function)),
            (pid, database),
        )
        row = cur.fetchone()
        if row is None:
            raise OpsError(f"No session with pid {pid} on database {database!r}.")
        return bool(row[0])


GROUPINGS = ("datname", "usename", "state", "application_name")


def connections_by(sessions: list[dict], keys: tuple[str, ...] = GROUPINGS) -> list[dict]:
    """Sessions counted per database, user, state and application (PgHero's
    "connections"), most first: where a pool leaks or a job holds idle transactions."""
    counts: dict[tuple, int] = {}
    for session in sessions:
        group = tuple(session[key] or "" for key in keys)
        counts[group] = counts.get(group, 0) + 1
    rows = [{**dict(zip(keys, group, strict=True)), "count": n} for group, n in counts.items()]
    return sorted(rows, key=lambda row: (-row["count"], *(row[k] for k in keys)))
