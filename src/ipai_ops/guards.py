"""The engine's own guard around production databases.

Role checks live in Odoo; this is the second line, enforced wherever the engine
runs (the CLI included): a database whose comment carries the production marker
is never dropped, renamed away or overwritten unless the caller explicitly says
it is allowed to (an approved production restore). The control plane sets the
marker on every production environment's database.
"""

from __future__ import annotations

import psycopg2
from psycopg2 import sql

from .connection import ServerSpec, connection
from .errors import DatabaseMissing, OpsError, ProtectedDatabase
from .identifiers import database_identifier
from .untrusted_sql import harden, refuse_non_tables

PRODUCTION_MARKER = "ipai-ops:production"


def is_production(conn, database: str) -> bool:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (database,),
        )
        row = cur.fetchone()
    return bool(row and row[0] and row[0].startswith(PRODUCTION_MARKER))


def mark_production(conn, database: str, production: bool = True) -> None:
    """Set (or clear) the production marker; needs ownership of the database."""
    comment = sql.Literal(PRODUCTION_MARKER) if production else sql.SQL("NULL")
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    database_identifier(database), comment
                )
            )
    except psycopg2.Error as exc:
        raise OpsError(
            f"Could not mark {database!r} as production ({exc.pgerror or exc}); "
            "the role needs to own the database."
        ) from None


def odoo_database_uuid(conn) -> str | None:
    """The ``database.uuid`` of the Odoo database ``conn`` is on (None when it is not Odoo).

    ``conn``'s session is left resolving names in ``pg_catalog`` only."""
    with conn.cursor() as cur:
        harden(cur)  # the database's content is its owner's: none of its code runs
        cur.execute("SELECT to_regclass('public.ir_config_parameter') IS NOT NULL")
        if not cur.fetchone()[0]:
            return None
        refuse_non_tables(cur, ["ir_config_parameter"])
        cur.execute("SELECT value FROM public.ir_config_parameter WHERE key = 'database.uuid'")
        row = cur.fetchone()
    return row[0] if row else None


def refuse_control_plane(spec: ServerSpec, control_plane_uuid: str) -> None:
    """Refuse to act on the database ``spec`` names if it is the control plane's own.

    Compared by ``database.uuid``, not by name: the same name may exist on another
    server, and the control plane may be reached under another host name.
    """
    try:
        with connection(spec) as conn:
            found = odoo_database_uuid(conn)
    except DatabaseMissing:
        return
    if found and found == control_plane_uuid:
        raise ProtectedDatabase(
            f"Refusing to act on {spec.dbname!r}: it is the control plane's own database."
        )


def refuse_production(conn, database: str, action: str, *, allow: bool = False) -> None:
    if not allow and is_production(conn, database):
        raise ProtectedDatabase(
            f"Refusing to {action} {database!r}: it is a production database "
            f"(marked {PRODUCTION_MARKER!r})."
        )


def terminate_sessions(conn, database: str) -> int:
    """Disconnect every other session of ``database``; return how many there were."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        )
        return cur.fetchone()[0]


def session_count(conn, database: str) -> int:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        )
        return cur.fetchone()[0]


def drop_database(conn, database: str, *, allow_production: bool = False) -> None:
    """Drop a database (and its sessions), unless it is marked production."""
    refuse_production(conn, database, "drop", allow=allow_production)
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database_identifier(database))
        )
