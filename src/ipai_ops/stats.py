"""pg_stat_statements, sampled and turned into deltas.

``read_statements`` takes one sample of a database's statements (cumulative
counters, as PostgreSQL keeps them) with version-aware SQL: one file per
PostgreSQL version range, chosen by ``server_version_num`` (column names
changed in 13 and 14). ``statement_deltas`` turns two samples into what happened
between them, and stays right across ``pg_stat_statements_reset()``, a server
restart (clean: the counters are saved and reloaded; crash: they are lost) and
entries evicted and re-added: where counters started again from zero, the
current value *is* the delta.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources

from .connection import ServerSpec, connection
from .errors import OpsError

COUNTERS = ("calls", "total_ms", "rows", "shared_blks_hit", "shared_blks_read", "temp_blks_written")
Key = tuple[int, int, int, bool]  # userid, dbid, queryid, toplevel


def _sql_for(version_num: int) -> str:
    name = (
        "pgss_14.sql"
        if version_num >= 140000
        else "pgss_13.sql"
        if version_num >= 130000
        else "pgss_12.sql"
    )
    return resources.files("ipai_ops").joinpath("sql", name).read_text()


@dataclass
class Sample:
    """One reading of a database's statements."""

    taken_at: datetime
    postmaster_start: datetime
    stats_reset: datetime | None
    counters: dict[Key, dict] = field(default_factory=dict)  # key -> COUNTERS + max_ms
    texts: dict[int, str] = field(default_factory=dict)  # queryid -> normalized text

    def as_state(self) -> dict:
        """A JSON-able form to keep until the next sample."""
        return {
            "postmaster_start": self.postmaster_start.isoformat(),
            "stats_reset": self.stats_reset.isoformat() if self.stats_reset else None,
            "counters": [
                [*key, *(values[c] for c in COUNTERS)] for key, values in self.counters.items()
            ],
        }

    @classmethod
    def from_state(cls, state: dict) -> Sample:
        counters = {
            tuple(row[:4]): dict(zip(COUNTERS, row[4:], strict=True)) for row in state["counters"]
        }
        reset = state.get("stats_reset")
        return cls(
            taken_at=datetime.min,
            postmaster_start=datetime.fromisoformat(state["postmaster_start"]),
            stats_reset=datetime.fromisoformat(reset) if reset else None,
            counters=counters,
        )


def _extension_database(conn) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
        return cur.fetchone() is not None


def read_statements(
    spec: ServerSpec, database: str, *, with_text: bool = True, known: set[int] | None = None
) -> Sample:
    """Sample ``database``'s statements (read through any database with the extension).

    :param known: queryids whose text we already have (texts are fetched for the others)
    """
    for where in (database, spec.dbname or "postgres"):
        with connection(spec.for_database(where)) as conn:
            if _extension_database(conn):
                return _read(conn, database, with_text, known or set())
    raise OpsError(
        f"pg_stat_statements is not installed in {database!r} nor in the maintenance database:"
        " run CREATE EXTENSION pg_stat_statements; (and preload the library)."
    )


def _read(conn, database: str, with_text: bool, known: set[int]) -> Sample:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT now(), pg_postmaster_start_time(), current_setting('server_version_num')::int"
        )
        now, started, version_num = cur.fetchone()
        reset = None
        if version_num >= 140000:
            cur.execute("SELECT stats_reset FROM pg_stat_statements_info")
            reset = cur.fetchone()[0]
        # counters first, without texts: most statements are known from earlier samples,
        # and their texts are most of what pg_stat_statements would send
        cur.execute(_sql_for(version_num), {"database": database, "with_text": False})
        sample = Sample(now, started, reset)
        for userid, dbid, queryid, toplevel, calls, total, max_ms, rows, hit, read, temp, _ in cur:
            key = (userid, dbid, queryid, toplevel)
            sample.counters[key] = {
                "calls": calls, "total_ms": total, "rows": rows, "shared_blks_hit": hit,
                "shared_blks_read": read, "temp_blks_written": temp, "max_ms": max_ms,
            }  # fmt: skip
        unknown = list({key[2] for key in sample.counters} - known)
        if with_text and unknown:
            cur.execute(
                "SELECT DISTINCT ON (queryid) queryid, query FROM pg_stat_statements"
                " WHERE queryid = ANY(%s) AND dbid = (SELECT oid FROM pg_database"
                " WHERE datname = %s)",
                (unknown, database),
            )
            sample.texts = dict(cur.fetchall())
    return sample


@dataclass(frozen=True)
class Deltas:
    rows: list[dict]  # one per statement that ran: queryid, userid, toplevel, COUNTERS, max_ms
    reset: bool  # the counters started again from zero (reset, or lost in a crash)
    restart: bool  # the server restarted (a clean restart keeps pg_stat_statements' counters)


def statement_deltas(previous: Sample | None, current: Sample) -> Deltas:
    """What ran between two samples of the same database (nothing for the first one,
    which only sets the baseline: its counters hold the whole history)."""
    if previous is None:
        return Deltas([], False, False)
    restart = previous.postmaster_start != current.postmaster_start
    if current.stats_reset is not None:
        # 14+: a reset, or a crash (no saved statistics to reload), moves stats_reset
        reset = previous.stats_reset != current.stats_reset
    else:
        # 12-13: a clean restart reloads the saved counters; a reset or crash lowers them
        reset = any(
            now["calls"] < previous.counters[key]["calls"]
            for key, now in current.counters.items()
            if key in previous.counters
        )
    start_over = reset
    rows = []
    for key, now in current.counters.items():
        before = None if start_over else previous.counters.get(key)
        if before is None or now["calls"] < before["calls"]:
            change = {c: now[c] for c in COUNTERS}  # new, reset or evicted-and-back: from zero
        else:
            change = {c: now[c] - before[c] for c in COUNTERS}
        if change["calls"] > 0:
            userid, _dbid, queryid, toplevel = key
            rows.append(
                {"queryid": queryid, "userid": userid, "toplevel": toplevel, **change,
                 "max_ms": now.get("max_ms") or 0.0}
            )  # fmt: skip
    return Deltas(rows, reset, restart)
