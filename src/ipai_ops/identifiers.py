"""Which database names we accept, and quoting helpers.

PostgreSQL would accept almost any quoted name, but a name also becomes a
filestore directory and appears in URLs and shell-adjacent tools, so we accept
only what Odoo's database manager accepts, within PostgreSQL's 63-byte limit.
"""

from __future__ import annotations

import re

from psycopg2 import sql

from .errors import InvalidName

MAX_IDENTIFIER_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1; longer names are silently truncated
DATABASE_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
RESERVED_DATABASES = frozenset({"postgres", "template0", "template1"})


def validate_database_name(name: str) -> str:
    """Return ``name`` if it is an acceptable database name, else raise :class:`InvalidName`."""
    if not isinstance(name, str) or not name:
        raise InvalidName("A database name is required.")
    size = len(name.encode("utf-8"))
    if size > MAX_IDENTIFIER_BYTES:
        raise InvalidName(
            f"Database name {name[:20]!r}… is {size} bytes long; PostgreSQL allows at most "
            f"{MAX_IDENTIFIER_BYTES} bytes."
        )
    if not DATABASE_NAME_PATTERN.fullmatch(name):
        raise InvalidName(
            f"Database name {name!r} is not allowed: use letters, digits, '_', '.' and '-', "
            "starting with a letter or digit."
        )
    if name.lower() in RESERVED_DATABASES:
        raise InvalidName(f"Database name {name!r} is reserved by PostgreSQL.")
    return name


def database_identifier(name: str) -> sql.Identifier:
    """A validated, quoted database name ready for ``psycopg2.sql`` composition."""
    return sql.Identifier(validate_database_name(name))


def database_exists(conn, name: str) -> bool:
    """Whether the server ``conn`` is connected to has a database called ``name``."""
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return cur.fetchone() is not None
