"""What we record about a database before backing it up or cloning it."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .connection import ServerSpec, connection
from .untrusted_sql import harden, refuse_non_tables

_DATABASE_QUERY = """
SELECT current_setting('server_version'), current_setting('server_version_num')::int,
       pg_encoding_to_char(d.encoding), d.datcollate, d.datctype,
       pg_database_size(d.datname),
       to_regclass('public.ir_module_module') IS NOT NULL,
       pg_get_userbyid(d.datdba)
  FROM pg_database d
 WHERE d.datname = current_database()
"""


@dataclass(frozen=True)
class SourceInfo:
    database: str
    server_version: str
    server_version_num: int
    encoding: str
    collate: str
    ctype: str
    size_bytes: int
    odoo: dict | None  # {"version", "base_version", "uuid", "modules": {name: version}}
    owner: str | None = None  # the role owning the database (Odoo's role)

    @property
    def server_major(self) -> int:
        return self.server_version_num // 10000

    def as_dict(self) -> dict:
        return asdict(self)


def inspect_source(spec: ServerSpec, database: str) -> SourceInfo:
    """Server version, locale, size and — for Odoo databases — version and modules."""
    with connection(spec.for_database(database)) as conn, conn.cursor() as cur:
        harden(cur)  # the database's content is its owner's: none of its code runs
        cur.execute(_DATABASE_QUERY)
        version, version_num, encoding, collate, ctype, size, is_odoo, owner = cur.fetchone()
        odoo = _odoo_info(cur) if is_odoo else None
    return SourceInfo(database, version, version_num, encoding, collate, ctype, size, odoo, owner)


def _odoo_info(cur) -> dict:
    refuse_non_tables(cur, ["ir_module_module", "ir_config_parameter", "res_users"])
    cur.execute(
        "SELECT name, latest_version FROM public.ir_module_module WHERE state = 'installed'"
    )
    modules = dict(cur.fetchall())
    cur.execute("SELECT value FROM public.ir_config_parameter WHERE key = 'database.uuid'")
    row = cur.fetchone()
    users = count_users(cur)
    base = modules.get("base") or ""
    return {
        "version": ".".join(base.split(".")[:2]) if base else None,
        "base_version": base or None,
        "uuid": row[0] if row else None,
        "modules": modules,
        "users": users,
    }


def count_users(cur) -> int | None:
    """Number of res_users rows, or None when the table does not exist."""
    cur.execute("SELECT to_regclass('public.res_users') IS NOT NULL")
    if not cur.fetchone()[0]:
        return None
    cur.execute("SELECT count(*) FROM public.res_users")
    return cur.fetchone()[0]
