"""The ``check`` operation: what is in an environment's database right now.

Reachability, size, and — when it is an Odoo database — the Odoo version and
how many modules are installed. It only reads; it is safe on production.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .connection import ServerSpec, connection
from .identifiers import validate_database_name
from .untrusted_sql import harden, has_odoo_tables, refuse_non_tables, require_odoo

_ODOO_QUERY = """
SELECT (SELECT latest_version FROM public.ir_module_module WHERE name = 'base'),
       (SELECT count(*) FROM public.ir_module_module WHERE state = 'installed'),
       (SELECT value FROM public.ir_config_parameter WHERE key = 'database.uuid'),
       (SELECT value FROM public.ir_config_parameter WHERE key = 'database.is_neutralized'),
       (SELECT md5(string_agg(name || ' ' || coalesce(latest_version, ''), ',' ORDER BY name))
          FROM public.ir_module_module WHERE state = 'installed')
"""
_MODULES_QUERY = (
    "SELECT name, latest_version FROM public.ir_module_module WHERE state = 'installed'"
)
ODOO_TABLES = ["ir_module_module", "ir_config_parameter"]


@dataclass(frozen=True)
class DatabaseReport:
    """What ``check_database`` found."""

    database: str
    server_version: str
    size_bytes: int
    is_odoo: bool
    odoo_version: str | None = None
    installed_modules: int | None = None
    database_uuid: str | None = None
    neutralized: bool = False
    # changes whenever a module is installed, removed or updated: one value to compare
    modules_digest: str | None = None

    def summary(self) -> str:
        size = format_bytes(self.size_bytes)
        if not self.is_odoo:
            return f"{self.database}: reachable, {size}, not an Odoo database."
        marker = ", neutralized" if self.neutralized else ""
        return (
            f"{self.database}: reachable, {size}, Odoo {self.odoo_version} with "
            f"{self.installed_modules} installed modules{marker}."
        )

    def as_dict(self) -> dict:
        return asdict(self)


def check_database(spec: ServerSpec, database: str) -> DatabaseReport:
    """Connect to ``database`` on ``spec``'s server and report what it holds."""
    validate_database_name(database)
    with connection(spec.for_database(database)) as conn, conn.cursor() as cur:
        harden(cur)  # the database's content is its owner's: none of its code runs
        cur.execute(
            "SELECT current_setting('server_version'), pg_database_size(current_database())"
        )
        server_version, size = cur.fetchone()
        if not has_odoo_tables(cur):
            return DatabaseReport(database, server_version, size, is_odoo=False)
        refuse_non_tables(cur, ODOO_TABLES)
        cur.execute(_ODOO_QUERY)
        version, modules, uuid, neutralized, digest = cur.fetchone()
    return DatabaseReport(
        database,
        server_version,
        size,
        is_odoo=True,
        odoo_version=version,
        installed_modules=modules,
        database_uuid=uuid,
        neutralized=(neutralized or "").lower() in ("1", "true", "t"),
        modules_digest=digest,
    )


def module_versions(spec: ServerSpec, database: str) -> dict[str, str]:
    """The installed modules of an Odoo database and their versions."""
    with connection(spec.for_database(database)) as conn, conn.cursor() as cur:
        harden(cur)
        refuse_non_tables(cur, ODOO_TABLES)
        cur.execute(_MODULES_QUERY)
        return {name: version or "" for name, version in cur.fetchall()}


def module_changes(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    """What a module update did: ``updated`` ("sale 19.0.1.0 → 19.0.1.1"), ``installed``
    and ``removed`` module names, each sorted."""
    return {
        "updated": [
            f"{name} {before[name]} → {after[name]}"
            for name in sorted(before.keys() & after.keys())
            if before[name] != after[name]
        ],
        "installed": sorted(after.keys() - before.keys()),
        "removed": sorted(before.keys() - after.keys()),
    }


def format_bytes(size: int) -> str:
    """1536 -> '1.5 KiB': sizes as administrators read them."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def require_odoo_database(spec: ServerSpec, database: str, operation: str) -> None:
    """Refuse ``operation`` at once on a database that is not Odoo's."""
    with connection(spec.for_database(database)) as conn, conn.cursor() as cur:
        harden(cur)  # the database's content is its owner's: none of its code runs
        require_odoo(cur, database, operation)
