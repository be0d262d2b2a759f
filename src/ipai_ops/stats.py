"""pg_stat_statements, sampled and turned into deltas.

``read_statements`` takes one sample of a database's statements (cumulative
counters, as PostgreSQL keeps them) with version-aware SQL: one file per
PostgreSQL version range, chosen by ``server_version_num`` (column names
changed in 13 and 14). ``statement_deltas`` turns two samples into what happened
between them, and stays right across ``pg_stat_statements_reset()``, a server
restart (clean: the counters are saved and reloaded; crash: they are lost) and
entries evicted and re-added or reset one by one: where an entry started again
from zero, its current value *is* the delta. An entry is known to have started
again when its ``stats_since`` moved (17+), or else when a counter fell, its
minimum time rose or its maximum fell (neither can, for an entry that lived on).
Between such a re-creation and the previous sample some calls may be lost: the
row is marked ``recreated`` and, when the server evicted entries
(``pg_stat_statements_info.dealloc`` grew, 14+), the whole window ``evicted``;
their figures are lower bounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources

from .connection import ServerSpec, connection
from .errors import OpsError
from .untrusted_sql import harden, schema_holds_owner_code

COUNTERS = ("calls", "total_ms", "rows", "shared_blks_hit", "shared_blks_read", "temp_blks_written")
IDENTITY = ("max_ms", "min_ms", "stats_since")  # what tells a re-created entry
Key = tuple[int, int, int, bool]  # userid, dbid, queryid, toplevel


def _sql_for(version_num: int) -> str:
    name = (
        "pgss_17.sql"
        if version_num >= 170000
        else "pgss_14.sql"
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
    # key -> COUNTERS, and the entry's identity: max_ms, min_ms, stats_since (17+)
    counters: dict[Key, dict] = field(default_factory=dict)
    texts: dict[int, str] = field(default_factory=dict)  # queryid -> normalized text
    dealloc: int | None = None  # entries evicted since the reset (14+)

    def as_state(self) -> dict:
        """A JSON-able form to keep until the next sample."""
        return {
            "postmaster_start": self.postmaster_start.isoformat(),
            "stats_reset": self.stats_reset.isoformat() if self.stats_reset else None,
            "dealloc": self.dealloc,
            "counters": [
                [*key, *(values[c] for c in COUNTERS), *(values.get(c) for c in IDENTITY)]
                for key, values in self.counters.items()
            ],
        }

    @classmethod
    def from_state(cls, state: dict) -> Sample:
        counters = {}
        for row in state["counters"]:  # states saved before IDENTITY have no such columns
            values = dict(zip(COUNTERS, row[4 : 4 + len(COUNTERS)], strict=True))
            values.update(zip(IDENTITY, row[4 + len(COUNTERS) :], strict=False))
            counters[tuple(row[:4])] = values
        reset = state.get("stats_reset")
        return cls(
            taken_at=datetime.min,
            postmaster_start=datetime.fromisoformat(state["postmaster_start"]),
            stats_reset=datetime.fromisoformat(reset) if reset else None,
            counters=counters,
            dealloc=state.get("dealloc"),
        )


def _extension_database(conn) -> bool:
    """Whether pg_stat_statements can be read through ``conn``'s database; when it can,
    the session resolves names in ``pg_catalog`` and the extension's schema only.

    The maintenance database is tried first: an environment's own database belongs to
    its role, which the branch's code logs in as, and what it planted (a function with a
    closer match, a schema named after our role) would run with our rights. Through
    such a database the view is read only when its schema holds no code of another's.
    """
    with conn.cursor() as cur:
        cur.execute(
            "SELECT n.nspname FROM pg_catalog.pg_extension e"
            " JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace"
            " WHERE e.extname = 'pg_stat_statements'"
        )
        row = cur.fetchone()
        if row is None:
            return False
        if schema_holds_owner_code(cur, row[0]):
            return False
        harden(cur, also=row[0])
        return True


def read_statements(
    spec: ServerSpec, database: str, *, with_text: bool = True, known: set[int] | None = None
) -> Sample:
    """Sample ``database``'s statements (read through any database with the extension).

    :param known: queryids whose text we already have (texts are fetched for the others)
    """
    for where in (spec.dbname or "postgres", database):
        with connection(spec.for_database(where)) as conn:
            if _extension_database(conn):
                return _read(conn, database, with_text, known or set())
    raise OpsError(
        f"pg_stat_statements cannot be read: install it in the maintenance database (CREATE"
        f" EXTENSION pg_stat_statements; and preload the library), or in {database!r}."
    )


def statement_text(spec: ServerSpec, database: str, queryid: int) -> str | None:
    """The normalized text pg_stat_statements holds for one of ``database``'s statements."""
    for where in (spec.dbname or "postgres", database):
        with connection(spec.for_database(where)) as conn, conn.cursor() as cur:
            if _extension_database(conn):
                cur.execute(
                    "SELECT query FROM pg_stat_statements WHERE queryid = %s AND dbid ="
                    " (SELECT oid FROM pg_database WHERE datname = %s) LIMIT 1",
                    (queryid, database),
                )
                row = cur.fetchone()
                return row[0] if row else None
    return None


def _read(conn, database: str, with_text: bool, known: set[int]) -> Sample:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT now(), pg_postmaster_start_time(), current_setting('server_version_num')::int"
        )
        now, started, version_num = cur.fetchone()
        reset = dealloc = None
        if version_num >= 140000:
            cur.execute("SELECT stats_reset, dealloc FROM pg_stat_statements_info")
            reset, dealloc = cur.fetchone()
        # counters first, without texts: most statements are known from earlier samples,
        # and their texts are most of what pg_stat_statements would send
        cur.execute(_sql_for(version_num), {"database": database, "with_text": False})
        sample = Sample(now, started, reset, dealloc=dealloc)
        names = [column.name for column in cur.description]
        for row in cur:
            values = dict(zip(names, row, strict=True))
            key = (values["userid"], values["dbid"], values["queryid"], values["toplevel"])
            since = values["stats_since"]
            sample.counters[key] = {
                **{c: values[c] for c in COUNTERS}, "max_ms": values["max_ms"],
                "min_ms": values["min_ms"], "stats_since": since.isoformat() if since else None,
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
    # one per statement that ran: queryid, userid, toplevel, COUNTERS, max_ms, recreated
    rows: list[dict]
    reset: bool  # the counters started again from zero (reset, or lost in a crash)
    restart: bool  # the server restarted (a clean restart keeps pg_stat_statements' counters)
    evicted: bool = False  # entries were evicted meanwhile: some figures are lower bounds


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
    rows = []
    for key, now in current.counters.items():
        before = None if reset else previous.counters.get(key)
        recreated = before is not None and _recreated(before, now)
        if before is None or recreated:
            change = {c: now[c] for c in COUNTERS}  # new, reset or evicted-and-back: from zero
        else:
            change = {c: now[c] - before[c] for c in COUNTERS}
        if change["calls"] > 0:
            userid, _dbid, queryid, toplevel = key
            rows.append(
                {"queryid": queryid, "userid": userid, "toplevel": toplevel, **change,
                 "max_ms": now.get("max_ms") or 0.0, "recreated": recreated}
            )  # fmt: skip
    # dealloc counts evictions since the last full reset
    evicted = current.dealloc is not None and current.dealloc > (
        0 if reset or previous.dealloc is None else previous.dealloc
    )
    return Deltas(rows, reset, restart, bool(evicted))


def _recreated(before: dict, now: dict) -> bool:
    """Whether an entry was dropped (reset alone, or evicted) and made again since."""
    if now.get("stats_since") and before.get("stats_since"):
        return now["stats_since"] != before["stats_since"]  # 17+: exact
    if any(now[c] < before[c] for c in COUNTERS):
        return True
    # a living entry's minimum only falls and its maximum only rises
    old_min, new_min = before.get("min_ms"), now.get("min_ms")
    old_max, new_max = before.get("max_ms"), now.get("max_ms")
    return (None not in (old_min, new_min) and new_min > old_min) or (
        None not in (old_max, new_max) and new_max < old_max
    )


def top_statements(
    spec: ServerSpec,
    database: str,
    *,
    limit: int = 20,
    order: str = "total_ms",
    min_mean_ms: float = 0.0,
) -> list[dict]:
    """``database``'s statements as pg_stat_statements holds them now (since its reset),
    one row per statement text, costliest first (``order``: total_ms, mean_ms or calls).

    :param min_mean_ms: only the slow ones: a mean time of at least this
    """
    sample = read_statements(spec, database)
    rows: dict[int, dict] = {}
    for (_user, _db, queryid, _top), values in sample.counters.items():
        row = rows.setdefault(queryid, {"queryid": queryid, **dict.fromkeys(COUNTERS, 0)})
        for counter in COUNTERS:
            row[counter] += values[counter]
        row["max_ms"] = max(row.get("max_ms", 0), values["max_ms"])
    for row in rows.values():
        row["mean_ms"] = row["total_ms"] / row["calls"] if row["calls"] else 0.0
        row["query"] = sample.texts.get(row["queryid"], "")
    slow = [row for row in rows.values() if row["mean_ms"] >= min_mean_ms]
    return sorted(slow, key=lambda r: r[order], reverse=True)[:limit]
