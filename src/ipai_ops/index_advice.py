"""Missing-index suggestions, and ``EXPLAIN`` to check them — on a copy, never on production.

:func:`suggest_indexes` looks at the tables read mostly by sequential scans, finds
the costliest statements of ``pg_stat_statements`` that filter them, and proposes
a btree on the column they filter by most (``=``, ``IN``, ranges, ``LIKE 'x%'``)
when no index of the table starts with it. These are suggestions, read from
normalized statement texts: :func:`verify_suggestion` proves one by explaining the
statement before and after building the index, inside a transaction that is
rolled back, on a copy of the database.

:func:`explain` gives the generic plan of a normalized statement (``$1``…):
``EXPLAIN (GENERIC_PLAN)`` on PostgreSQL 16+, else a statement prepared under
``plan_cache_mode = force_generic_plan`` and explained with NULL parameters (a
generic plan does not look at them). Only single statements that read
(``SELECT``, ``WITH``) are explained; ``EXPLAIN`` without ``ANALYZE`` never runs them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg2
from psycopg2 import sql

from .connection import ServerSpec, connection
from .errors import OpsError
from .guards import refuse_production
from .stats import top_statements

MIN_ROWS = 10_000  # smaller tables are read whole faster than through an index
STATEMENTS = 200  # costliest statements looked at
_PREDICATE = re.compile(
    r'(?:"?(?P<table>\w+)"?\.)?"?(?P<column>\w+)"?\s*(?:=|<=|>=|<|>|\bIN\b|\bLIKE\b|\bBETWEEN\b)',
    re.IGNORECASE,
)
_READS = re.compile(r"^\s*(SELECT|WITH)\b", re.IGNORECASE)
# what a statement that starts by reading may still write: a data-modifying CTE, SELECT
# INTO (a new table); "FOR UPDATE" and "FOR NO KEY UPDATE" only lock, and are planned
_WRITES = re.compile(
    r"\b(INSERT|DELETE|MERGE|TRUNCATE|INTO)\b|(?<!\bFOR )(?<!\bKEY )\bUPDATE\b", re.IGNORECASE
)
TRIAL_LOCK_TIMEOUT = "5s"  # a trial index waits this long for its table, no longer
TRIAL_STATEMENT_TIMEOUT = "300s"  # and takes this long to build at most


@dataclass(frozen=True)
class Suggestion:
    table: str
    column: str
    statements: int  # how many of the costly statements filter the table by it
    total_ms: float  # their time
    example: str  # the costliest of them

    @property
    def definition(self) -> str:
        return f'CREATE INDEX ON "{self.table}" ("{self.column}")'


def _seq_scanned_tables(cur) -> dict[str, set[str]]:
    """Tables read mostly sequentially (and big enough to matter), with their columns."""
    cur.execute(
        """
        SELECT s.relname, array_agg(a.attname::text)
          FROM pg_stat_user_tables s
          JOIN pg_attribute a ON a.attrelid = s.relid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE s.schemaname = 'public' AND s.seq_scan > coalesce(s.idx_scan, 0)
           AND s.n_live_tup >= %s
         GROUP BY s.relname
        """,
        (MIN_ROWS,),
    )
    return {table: set(columns) for table, columns in cur.fetchall()}


def _leading_columns(cur, table: str) -> set[str]:
    cur.execute(
        """
        SELECT a.attname FROM pg_index x
          JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]
         WHERE x.indrelid = to_regclass(%s) AND x.indisvalid
        """,
        (f'public."{table}"',),
    )
    return {row[0] for row in cur.fetchall()}


def _filters(text: str, tables: dict[str, set[str]]) -> set[tuple[str, str]]:
    """The (table, column) pairs a read statement filters by, among ``tables``."""
    parts = re.split(r"\bWHERE\b", text, maxsplit=1, flags=re.IGNORECASE)
    if len(parts) < 2 or not _READS.match(text):
        return set()
    named = {t for t in tables if re.search(rf'\b"?{re.escape(t)}"?\b', parts[0])}
    return {
        (table, match["column"])
        for match in _PREDICATE.finditer(parts[1])
        for table in named
        if match["table"] in (None, table) and match["column"] in tables[table]
    }


def suggest_indexes(spec: ServerSpec, database: str, *, limit: int = 5) -> list[Suggestion]:
    """Btree indexes that the costliest statements on sequentially scanned tables lack."""
    with connection(spec.for_database(database)) as conn, conn.cursor() as cur:
        tables = _seq_scanned_tables(cur)
        indexed = {table: _leading_columns(cur, table) for table in tables}
    if not tables:
        return []
    found: dict[tuple[str, str], list[dict]] = {}
    for statement in top_statements(spec, database, limit=STATEMENTS):
        for table, column in _filters(statement["query"], tables):
            if column not in indexed[table]:
                found.setdefault((table, column), []).append(statement)
    ranked = sorted(found.items(), key=lambda item: -sum(s["total_ms"] for s in item[1]))
    return [
        Suggestion(table, column, len(rows), sum(r["total_ms"] for r in rows),
                   max(rows, key=lambda r: r["total_ms"])["query"])
        for (table, column), rows in ranked[:limit]
    ]  # fmt: skip


def explain_on(
    spec: ServerSpec, database: str, statement: str, parameters: list[str] | None = None,
    *, as_role: ServerSpec | None = None,
) -> dict:  # fmt: skip
    """:func:`explain` in ``database``, in a read-only transaction that is rolled back;
    never on a database marked production.

    :param as_role: the login of the role the copy belongs to. Planning a statement runs
        the immutable functions it calls with constants (a custom plan folds them), and
        in a copy a branch's code wrote those: they then run as that role, not ``spec``'s.
    """
    with connection(spec.for_database(spec.dbname or "postgres")) as conn:
        refuse_production(conn, database, "explain a statement on")
    login = (as_role or spec).for_database(database)
    with connection(login, autocommit=False) as conn, conn.cursor() as cur:
        cur.execute("SET TRANSACTION READ ONLY")
        try:
            return explain(cur, statement, parameters)
        finally:
            conn.rollback()


def explain(cur, statement: str, parameters: list[str] | None = None) -> dict:
    """The plan of a normalized read statement, as ``EXPLAIN (FORMAT JSON)``: the generic
    plan, or with ``parameters`` (one text value per ``$n``, typed by the server as the
    statement needs) the plan for those values."""
    statement = statement.strip().removesuffix(";")
    if not _READS.match(statement) or ";" in statement or _WRITES.search(statement):
        raise OpsError("Only single statements that only read (SELECT, WITH) are explained.")
    cur.execute("SELECT current_setting('server_version_num')::int")
    if parameters is None and cur.fetchone()[0] >= 160000:
        cur.execute(sql.SQL("EXPLAIN (GENERIC_PLAN, FORMAT JSON) {}").format(sql.SQL(statement)))
        return cur.fetchone()[0][0]["Plan"]
    mode = "force_generic_plan" if parameters is None else "force_custom_plan"
    cur.execute(sql.SQL("SET LOCAL plan_cache_mode = {}").format(sql.SQL(mode)))
    cur.execute(sql.SQL("PREPARE ipai_ops_explain AS {}").format(sql.SQL(statement)))
    try:
        cur.execute(
            "SELECT cardinality(parameter_types) FROM pg_prepared_statements"
            " WHERE name = 'ipai_ops_explain'"
        )
        count = cur.fetchone()[0]
        # a generic plan does not look at the values: NULLs stand in for them
        values = [None] * count if parameters is None else list(parameters)
        if len(values) != count:
            raise OpsError(f"The statement takes {count} parameter(s); {len(values)} given.")
        execute = (
            sql.SQL("EXECUTE ipai_ops_explain({})").format(
                sql.SQL(", ").join([sql.Placeholder()] * count)
            )
            if count
            else sql.SQL("EXECUTE ipai_ops_explain")
        )
        cur.execute(sql.SQL("EXPLAIN (FORMAT JSON) {}").format(execute), values)
        plan = cur.fetchone()[0][0]["Plan"]
    except psycopg2.Error:
        raise  # the transaction is aborted: its rollback forgets the statement, unmasked
    except BaseException:
        cur.execute("DEALLOCATE ipai_ops_explain")
        raise
    cur.execute("DEALLOCATE ipai_ops_explain")
    return plan


def _scans(plan: dict) -> list[str]:
    """Every node of a plan as "<node type> on <relation>" (or the node type)."""
    node = plan["Node Type"] + (f" on {plan['Relation Name']}" if "Relation Name" in plan else "")
    return [node, *(scan for child in plan.get("Plans", []) for scan in _scans(child))]


def verify_suggestion(
    admin: ServerSpec, copy: str, suggestion: Suggestion, *, as_role: ServerSpec | None = None
) -> dict:
    """Explain the suggestion's statement on ``copy`` without, then with, its index (built
    in a transaction that is rolled back); production databases are refused.

    :param as_role: as for :func:`explain_on` (the role owns the copy's tables, so it may
        build the trial index)
    """
    with connection(admin.for_database("postgres")) as conn:
        refuse_production(conn, copy, "try an index on")
    login = (as_role or admin).for_database(copy)
    with connection(login, autocommit=False) as conn, conn.cursor() as cur:
        try:
            # a copy may be in use: wait for the table briefly, build for a bounded time
            cur.execute(f"SET LOCAL lock_timeout = '{TRIAL_LOCK_TIMEOUT}'")
            cur.execute(f"SET LOCAL statement_timeout = '{TRIAL_STATEMENT_TIMEOUT}'")
            before = explain(cur, suggestion.example)
            cur.execute(
                sql.SQL("CREATE INDEX ON {} ({})").format(
                    sql.Identifier(suggestion.table), sql.Identifier(suggestion.column)
                )
            )
            after = explain(cur, suggestion.example)
        finally:
            conn.rollback()
    return {
        "before_cost": before["Total Cost"],
        "after_cost": after["Total Cost"],
        "before": _scans(before),
        "after": _scans(after),
        "helps": after["Total Cost"] < before["Total Cost"],
    }
