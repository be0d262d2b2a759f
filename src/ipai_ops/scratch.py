"""Scratch objects: what an operation builds before it may be seen, and sweeping the
leftovers of operations that were killed.

A copy or a restore is built under a scratch name (``<name>-cloning-<token>``,
``-restoring-``, ``-drill-``, ``-init-``, ``-import-``), its files in a hidden
directory beside their destination (``.<name>.cloning-<token>``), a clone's dump in
``.ipai-ops-dump-<token>-…``. Three rules keep them harmless:

* **Owned by a live session.** The operation keeps a connection open whose
  ``application_name`` is ``ipai-ops build <token>`` for as long as the object
  exists. When the process dies — even by ``kill -9`` — the kernel closes that
  connection and the object has no owner any more.
* **Connectable by nobody else.** ``CONNECT`` is revoked from ``PUBLIC`` when a
  scratch database is created and granted back only when it is published under
  its final name, after neutralization and masking.
* **Swept.** Every later operation on the same server (and the control plane's
  cron) drops scratch databases and removes scratch directories whose owner
  session is gone. Child processes (``pg_restore``, ``odoo-bin``) are started to
  die with their parent, so nothing finishes a copy nobody watches.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from psycopg2 import sql

from .connection import connection
from .guards import drop_database
from .identifiers import database_identifier

LABELS = ("cloning", "restoring", "drill", "init", "import")
SCRATCH_DATABASE = re.compile(rf"-(?:{'|'.join(LABELS)})-([0-9a-f]{{6}})$")
SCRATCH_FILES = re.compile(
    r"^\..+\.(?:cloning|restoring)-([0-9a-f]{6})$|^\.ipai-ops-dump-([0-9a-f]{6})-"
)
OWNER_PREFIX = "ipai-ops build "


def token_of(name: str) -> str | None:
    """The owner token of a scratch database or directory name (None: not scratch)."""
    match = SCRATCH_DATABASE.search(name) or SCRATCH_FILES.search(name)
    return next((group for group in match.groups() if group), None) if match else None


def owner_tag(scratch: str) -> str:
    """The ``application_name`` of the session that owns a scratch object."""
    token = token_of(scratch)
    if token is None:
        raise ValueError(f"{scratch!r} is not a scratch name")
    return OWNER_PREFIX + token


def live_tokens(conn) -> set[str]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT application_name FROM pg_stat_activity WHERE application_name LIKE %s",
            (OWNER_PREFIX + "%",),
        )
        return {row[0].removeprefix(OWNER_PREFIX) for row in cur.fetchall()}


def create_private(conn, statement: sql.Composable, name: str) -> None:
    """Run a ``CREATE DATABASE`` for scratch ``name``; nobody but its owner may connect."""
    with conn.cursor() as cur:
        cur.execute(statement)
        cur.execute(
            sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(database_identifier(name))
        )


def open_to_all(conn, name: str, owner: str | None = None) -> None:
    """Hand a finished copy over: to ``owner`` (the role Odoo connects as), with the
    default right of connecting that any database has."""
    if owner:
        give_to(conn, name, owner)
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO PUBLIC").format(database_identifier(name))
        )


def give_to(conn, name: str, owner: str) -> None:
    """Make ``owner`` the owner of database ``name`` (it may then connect to it)."""
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                database_identifier(name), sql.Identifier(owner)
            )
        )


def let_create(spec, owner: str | None) -> None:
    """Let ``owner`` create objects in the scratch database ``spec`` names, so that
    ``pg_restore --role`` can build it as the role Odoo connects as (trusted extensions,
    such as pg_trgm, included: they need CREATE on the database)."""
    if not owner:
        return
    with connection(spec) as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(sql.Identifier(owner))
        )
        cur.execute(
            sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                database_identifier(spec.dbname), sql.Identifier(owner)
            )
        )


def database_owner(conn, name: str) -> str | None:
    with conn.cursor() as cur:
        cur.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (name,))
        row = cur.fetchone()
    return row[0] if row else None


def existing_role(conn, role: str | None) -> str | None:
    """``role`` if it exists on this server (a backup may come from another one)."""
    if not role:
        return None
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        return role if cur.fetchone() else None


def sweep(conn, roots: Iterable[str | Path] = ()) -> list[str]:
    """Drop scratch databases and remove scratch directories (directly inside ``roots``)
    whose owner session is gone; return what was removed.

    Candidates are listed *before* the live owners are read: an operation opens its
    owner session before it creates anything, so one that is listed is either seen
    alive or truly gone.
    """
    with conn.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database")
        databases = [row[0] for row in cur.fetchall() if SCRATCH_DATABASE.search(row[0])]
    directories = [
        entry
        for root in map(Path, roots)
        if root.is_dir()
        for entry in root.iterdir()
        if entry.name.startswith(".") and token_of(entry.name) and entry.is_dir()
    ]
    alive = live_tokens(conn)
    removed = []
    for name in databases:
        if token_of(name) not in alive:
            drop_database(conn, name)
            removed.append(name)
    for entry in directories:
        if token_of(entry.name) not in alive:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(str(entry))
    return removed
