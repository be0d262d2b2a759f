"""Proving a masked copy holds no original value, fail-closed, in one pass per table.

Two proofs, both run by :func:`ipai_ops.safe_copy.make_safe` after masking:

* :func:`check_no_survivors`: no value of a masked column of the copy equals *any*
  original value of that column. The source's values are read once per table (all its
  masked columns in one scan), as MD5s, into one set per column; the copy's are then
  streamed, in one scan per table too, and looked up — never held. Tables go side by
  side on ``jobs`` connections.
* :func:`find_survivors`: a sample of original personal values is searched, as
  substrings, in *every* text, varchar and JSON column of every table of the copy (HTML
  is text): modules copy personal data elsewhere (search helpers, chatter, logs). One
  scan per table, large tables split in ranges of ids, parts side by side.

Both read the copy hardened (:mod:`.untrusted_sql`): its owner wrote what it holds.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from psycopg2 import sql

from .connection import ServerSpec, connection
from .errors import MaskingFailed
from .mask import DEFAULT_RULES, _existing_columns, id_ranges
from .untrusted_sql import harden

SURVIVOR_SAMPLE = 10  # original values sampled per masked column for the full scan
MIN_SAMPLE_LENGTH = 6  # shorter values (initials, short codes) match by chance
TEXT_TYPES = ("character varying", "text", "jsonb", "json")
CHECK_JOBS = 2  # connections checking tables side by side
FETCH_ROWS = 20_000  # rows per round trip of a streamed scan


def check_no_survivors(
    production: ServerSpec, copy: ServerSpec, database_pair: tuple[str, str], rules=None,
    *, jobs: int = CHECK_JOBS,
) -> dict[str, int]:  # fmt: skip
    """Count, per masked column, values of the copy still equal to an original value.

    Compares MD5s of the values (never the values themselves) across both databases.
    """
    rules = DEFAULT_RULES if rules is None else rules
    by_table = defaultdict(list)
    for rule in rules:
        if rule.strategy not in ("keep", "fixed"):
            by_table[rule.table].append(rule)
    source = production.for_database(database_pair[0])
    target = copy.for_database(database_pair[1])
    survivors: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for counts in pool.map(lambda item: _table_survivors(source, target, *item),
                               by_table.items()):  # fmt: skip
            survivors.update(counts)
    return survivors


def _table_survivors(source: ServerSpec, target: ServerSpec, table: str, rules) -> dict:
    with connection(target) as clone, clone.cursor() as cur:
        harden(cur)
        present = _existing_columns(cur, table)
    rules = [rule for rule in rules if rule.column in present]
    if not rules:
        return {}
    originals = [set() for _ in rules]
    for row in _stream(source, _digests(table, rules, masked_side=False)):
        for seen, digest in zip(originals, row, strict=True):
            if digest is not None:
                seen.add(bytes(digest))
    found = [0] * len(rules)
    for row in _stream(target, _digests(table, rules, masked_side=True)):
        for index, digest in enumerate(row):
            if digest is not None and bytes(digest) in originals[index]:
                found[index] += 1
    return {f"{table}.{rule.column}": count for rule, count in zip(rules, found, strict=True)}


def _digests(table: str, rules, *, masked_side: bool) -> sql.Composable:
    """One scan of ``table``: the MD5 of each rule's column (on the masked side, only where
    the rule applied), NULL where there is nothing to compare."""
    columns = []
    for rule in rules:
        digest = sql.SQL("decode(md5({}::text), 'hex')").format(sql.Identifier(rule.column))
        if masked_side and rule.condition:
            digest = sql.SQL("CASE WHEN ({}) THEN {} END").format(sql.SQL(rule.condition), digest)
        columns.append(digest)
    return sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(columns), sql.Identifier("public", table)
    )


def _stream(spec: ServerSpec, query: sql.Composable):
    """Rows of ``query``, fetched :data:`FETCH_ROWS` at a time (a server-side cursor)."""
    with connection(spec, autocommit=False) as conn:
        with conn.cursor() as setup:
            harden(setup)
        with conn.cursor(name="ipai_ops_check") as cur:
            cur.itersize = FETCH_ROWS
            cur.execute(query)
            yield from cur
        conn.rollback()


def find_survivors(
    production: ServerSpec, copy: ServerSpec, database_pair: tuple[str, str], rules=None,
    *, sample: int = SURVIVOR_SAMPLE, jobs: int = CHECK_JOBS,
) -> dict[str, int]:  # fmt: skip
    """Look for a sample of original personal values in *every* text column of the copy.

    :return: ``{"table.column": rows holding an original value}`` for columns that do
    """
    rules = DEFAULT_RULES if rules is None else rules
    source_db, copy_db = database_pair
    with connection(production.for_database(source_db)) as prod, prod.cursor() as cur:
        harden(cur)
        values = _sample_values(cur, rules, sample)
    if not values:
        return {}
    patterns = [f"%{_escape_like(value)}%" for value in values]
    target = copy.for_database(copy_db)
    with connection(target) as clone, clone.cursor() as cur:
        harden(cur)
        parts = [
            (table, columns, part)
            for table, columns in _text_columns(cur).items()
            for part in id_ranges(cur, table, jobs)
        ]
    found: dict[str, int] = defaultdict(int)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        scans = pool.map(lambda item: _scan_part(target, patterns, *item), parts)
        for (table, columns, _part), hits in zip(parts, scans, strict=True):
            for column, count in zip(columns, hits, strict=True):
                if count:
                    found[f"{table}.{column}"] += count
    return dict(found)


def _scan_part(target: ServerSpec, patterns: list[str], table: str, columns, part) -> tuple:
    counts = sql.SQL(", ").join(
        sql.SQL("count(*) FILTER (WHERE {}::text LIKE ANY(%(p)s))").format(sql.Identifier(column))
        for column in columns
    )
    where = sql.SQL(" WHERE {}").format(part) if part is not None else sql.SQL("")
    with connection(target) as clone, clone.cursor() as cur:
        harden(cur)
        cur.execute(
            sql.SQL("SELECT {} FROM {}").format(counts, sql.Identifier("public", table)) + where,
            {"p": patterns},
        )
        return cur.fetchone()


def _escape_like(value: str) -> str:
    """``value`` matched literally inside a LIKE pattern (backslash is LIKE's escape)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _sample_values(cur, rules, sample: int) -> set[str]:
    values: set[str] = set()
    for rule in rules:
        if rule.strategy not in ("email", "name", "phone"):
            continue
        if rule.column not in _existing_columns(cur, rule.table):
            continue
        where = (
            sql.SQL(" AND ({})").format(sql.SQL(rule.condition)) if rule.condition else sql.SQL("")
        )
        cur.execute(
            sql.SQL(
                "SELECT DISTINCT {col}::text FROM {table} WHERE length({col}::text) >= %(min)s"
            ).format(col=sql.Identifier(rule.column), table=sql.Identifier("public", rule.table))
            + where
            + _not_module_data(cur, rule.table)
            + sql.SQL(" LIMIT %(n)s"),
            {"min": MIN_SAMPLE_LENGTH, "n": sample, "model": rule.table.replace("_", ".")},
        )
        values |= {row[0] for row in cur.fetchall()}
    return values


def _not_module_data(cur, table: str) -> sql.Composable:
    """Leave out rows a module created (OdooBot, the public user, demo partners): their
    names are words of the code, found in views and rules, not anybody's personal data."""
    if not _existing_columns(cur, "ir_model_data"):
        return sql.SQL("")
    return sql.SQL(
        " AND NOT EXISTS (SELECT 1 FROM public.ir_model_data d"
        " WHERE d.model = %(model)s AND d.res_id = {table}.id)"
    ).format(table=sql.Identifier(table))


def _text_columns(cur) -> dict[str, list[str]]:
    cur.execute(
        "SELECT c.table_name, array_agg(c.column_name::text ORDER BY c.ordinal_position)"
        "  FROM information_schema.columns c"
        "  JOIN information_schema.tables t USING (table_schema, table_name)"
        " WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'"
        "   AND c.data_type = ANY(%s)"
        " GROUP BY c.table_name",
        (list(TEXT_TYPES),),
    )
    return dict(cur.fetchall())


def raise_on_survivors(survivors: dict[str, int]) -> None:
    leaked = {column: count for column, count in survivors.items() if count}
    if leaked:
        detail = ", ".join(f"{column} ({count})" for column, count in sorted(leaked.items()))
        raise MaskingFailed(f"Original values survived masking in: {detail}.")
