"""SQL the engine runs in a database whose content a stranger wrote.

Whoever pushes a branch runs SQL in its database (``neutralize.sql``, module code), and
production's code writes production's database, which copies carry along. Such a
database may hold triggers, rules, policies and functions waiting for a more powerful
role to touch its tables: a trigger runs as whoever fires it, an index expression or a
CHECK constraint calls its functions as whoever writes the row, and a function or an
operator in ``public`` that matches an unqualified call better than ``pg_catalog``'s
is the one called (the CVE-2018-1058 class).

So, wherever the engine's role acts in such a database:

* :func:`harden` gives the session a ``search_path`` of ``pg_catalog, pg_temp`` (every
  table the engine names is schema-qualified) and ``row_security = off`` (a table a
  policy would filter raises an error instead of running the policy's code);
* :func:`owner_code` lists the code of the owner's that writing rows of given
  tables would run: triggers (which the caller disables for its writes) and anything
  else (rules, index expressions, constraints, generated columns, domain checks),
  which makes the caller refuse. Code is trusted when a superuser owns it: the
  system's functions and those of extensions, which nobody else can replace.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg2 import sql

from .errors import NotAnOdooDatabase, OwnerCodeRefused

SAFE_SEARCH_PATH = "pg_catalog, pg_temp"

# (what, table, trigger name or None, how it is enabled) for every piece of code of the
# owner's that an UPDATE of the tables would run; enabled: pg_trigger.tgenabled
_OWNER_CODE = """
WITH tables AS (SELECT to_regclass(name) AS rel FROM unnest(%(tables)s::text[]) AS name),
untrusted AS (
    SELECT p.oid FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_roles r ON r.oid = p.proowner
     WHERE NOT r.rolsuper
    UNION
    SELECT o.oid FROM pg_catalog.pg_operator o
      JOIN pg_catalog.pg_proc p ON p.oid = o.oprcode
      JOIN pg_catalog.pg_roles r ON r.oid = p.proowner
     WHERE NOT r.rolsuper
),
objects AS (
    SELECT 'pg_catalog.pg_class'::regclass AS classid, i.indexrelid AS objid,
           'index ' || c.relname AS what, i.indrelid AS rel
      FROM pg_catalog.pg_index i JOIN tables t ON i.indrelid = t.rel
      JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
    UNION ALL
    SELECT 'pg_catalog.pg_constraint'::regclass, c.oid, 'constraint ' || c.conname, c.conrelid
      FROM pg_catalog.pg_constraint c JOIN tables t ON c.conrelid = t.rel
    UNION ALL
    SELECT 'pg_catalog.pg_attrdef'::regclass, d.oid, 'the expression of column ' || a.attname,
           d.adrelid
      FROM pg_catalog.pg_attrdef d JOIN tables t ON d.adrelid = t.rel
      JOIN pg_catalog.pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
    UNION ALL
    SELECT 'pg_catalog.pg_constraint'::regclass, c.oid,
           'the check of type ' || c.contypid::regtype::text, a.attrelid
      FROM pg_catalog.pg_attribute a JOIN tables t ON a.attrelid = t.rel
      JOIN pg_catalog.pg_constraint c ON c.contypid = a.atttypid
     WHERE a.attnum > 0 AND NOT a.attisdropped
)
SELECT o.what, o.rel::regclass::text, NULL::text, NULL::"char"
  FROM objects o
  JOIN pg_catalog.pg_depend d ON d.classid = o.classid AND d.objid = o.objid
 WHERE d.refobjid IN (SELECT oid FROM untrusted)
   AND d.refclassid IN ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_operator'::regclass)
UNION
SELECT 'rule ' || w.rulename, w.ev_class::regclass::text, NULL, NULL
  FROM pg_catalog.pg_rewrite w JOIN tables t ON w.ev_class = t.rel
 WHERE w.rulename <> '_RETURN'
UNION
SELECT 'trigger ' || g.tgname, g.tgrelid::regclass::text, g.tgname::text, g.tgenabled
  FROM pg_catalog.pg_trigger g JOIN tables t ON g.tgrelid = t.rel
  JOIN pg_catalog.pg_proc p ON p.oid = g.tgfoid
  JOIN pg_catalog.pg_roles r ON r.oid = p.proowner
 WHERE NOT g.tgisinternal AND g.tgenabled <> 'D' AND NOT r.rolsuper
ORDER BY 2, 1
"""

# how ALTER TABLE … ENABLE puts a trigger back, by pg_trigger.tgenabled
_ENABLE = {"O": "ENABLE TRIGGER", "A": "ENABLE ALWAYS TRIGGER", "R": "ENABLE REPLICA TRIGGER"}


@dataclass(frozen=True)
class OwnerCode:
    """One piece of the owner's code that writing a table would run."""

    what: str  # "trigger t", "index i", "rule r", …
    table: str  # schema-qualified
    trigger: str | None = None  # a trigger's name: it can be disabled for our writes
    enabled: str | None = None  # and how it was enabled (pg_trigger.tgenabled)

    @property
    def disable(self) -> sql.Composable:
        return sql.SQL("ALTER TABLE {} DISABLE TRIGGER {}").format(
            _qualified(self.table), sql.Identifier(self.trigger)
        )

    @property
    def enable(self) -> sql.Composable:
        return sql.SQL("ALTER TABLE {} {} {}").format(
            _qualified(self.table), sql.SQL(_ENABLE[self.enabled]), sql.Identifier(self.trigger)
        )


def _qualified(name: str) -> sql.Composable:
    # regclass::text under the hardened search_path: schema-qualified, quoted by the server
    return sql.SQL(name)


def harden(cur, *, also: str | None = None) -> None:
    """Make the session's name resolution and row security the engine's own.

    :param also: a schema searched after ``pg_catalog`` (an extension's), which the
        caller proved holds no code of the owner's (:func:`schema_holds_owner_code`)
    """
    path = sql.SQL(SAFE_SEARCH_PATH)
    if also:
        path = sql.SQL("pg_catalog, {}, pg_temp").format(sql.Identifier(also))
    cur.execute(sql.SQL("SET search_path = {}").format(path))
    cur.execute("SET row_security = off")


def schema_holds_owner_code(cur, schema: str) -> bool:
    """Whether ``schema`` holds a function (operators' too) no superuser owns."""
    cur.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p"
        " JOIN pg_catalog.pg_roles r ON r.oid = p.proowner"
        " WHERE p.pronamespace = %s::regnamespace AND NOT r.rolsuper)",
        (schema,),
    )
    return cur.fetchone()[0]


def owner_code(cur, tables: list[str]) -> list[OwnerCode]:
    """The owner's code that writing rows of ``tables`` (``public`` names) would run."""
    cur.execute(_OWNER_CODE, {"tables": [f"public.{table}" for table in tables]})
    return [OwnerCode(*row) for row in cur.fetchall()]


_NOT_PLAIN = """
SELECT c.relname, c.relkind FROM pg_catalog.pg_class c
 WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY(%(names)s)
   AND c.relkind NOT IN ('r', 'p')
"""


def refuse_non_tables(cur, tables: list[str]) -> None:
    """Raise :class:`OwnerCodeRefused` if one of ``tables`` (in ``public``) is not a plain
    table: reading a view runs whatever functions its owner put in it, as the reader."""
    cur.execute(_NOT_PLAIN, {"names": list(tables)})
    found = cur.fetchall()
    if found:
        names = ", ".join(f"public.{name}" for name, _kind in found)
        raise OwnerCodeRefused(
            f"{names} should be Odoo's table(s) but is not: reading it would run code of "
            "the database owner's with ipai-ops's rights, so ipai-ops does not."
        )


def disable_owner_triggers(cur, tables: list[str], doing: str) -> list[OwnerCode]:
    """Disable the owner's triggers on ``tables`` for the engine's writes (enable them
    again with :func:`enable_triggers`); raise :class:`OwnerCodeRefused` when the writes would
    run any other code of the owner's. ``doing`` names the operation in the message."""
    found = owner_code(cur, tables)
    refused = [f"{code.what} on {code.table}" for code in found if code.trigger is None]
    if refused:
        raise OwnerCodeRefused(
            f"{doing} would run code the database's owner wrote, with the engine's rights: "
            f"{', '.join(refused)}."
        )
    for trigger in found:
        cur.execute(trigger.disable)
    return found


def enable_triggers(cur, triggers: list[OwnerCode]) -> None:
    for trigger in triggers:
        cur.execute(trigger.enable)


def has_odoo_tables(cur) -> bool:
    cur.execute(
        "SELECT to_regclass('public.ir_module_module') IS NOT NULL"
        " AND to_regclass('public.ir_config_parameter') IS NOT NULL"
    )
    return cur.fetchone()[0]


def require_odoo(cur, database: str, operation: str) -> None:
    """Refuse ``operation`` on a database without Odoo's tables, before it changes
    anything (rather than failing on the first query that needs them)."""
    if not has_odoo_tables(cur):
        raise NotAnOdooDatabase(
            f"{database} is not an Odoo database (it has no ir_module_module and "
            f"ir_config_parameter tables): nothing to {operation}, nothing was changed."
        )
