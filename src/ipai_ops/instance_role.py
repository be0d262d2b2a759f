"""The database role an environment's code runs as.

An environment runs a branch's code: whoever can push to that branch runs code in its
Odoo and SQL in its ``neutralize.sql``. Were that code to connect as the database
server's role (often a superuser, always the owner of every production on it, and of the
control plane's own database when it shares the server), a push would be enough to read
them all. So each environment gets a role of its own: it can log in, owns the
environment's databases and their objects, and nothing else — no superuser, no CREATEDB,
no CREATEROLE, no membership of any other role. Its password is random, kept in a file
only the control plane's user reads, and reaches PostgreSQL as a SCRAM verifier, never
in clear.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path

import psycopg2.extensions
from psycopg2 import sql

from .connection import ServerSpec, connection
from .errors import OpsError, ProtectedDatabase
from .guards import is_production
from .identifiers import MAX_IDENTIFIER_BYTES, database_identifier
from .untrusted_sql import harden

PREFIX = "ipai_ops_env_"
ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"


def role_name(project: str, environment: str) -> str:
    """The role of ``environment`` of ``project``: lower-case, at most 63 bytes."""
    name = PREFIX + re.sub(r"[^a-z0-9]+", "_", f"{project}_{environment}".lower()).strip("_")
    if len(name) > MAX_IDENTIFIER_BYTES:  # still one role per environment: a hash tells them apart
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[: MAX_IDENTIFIER_BYTES - 9]}_{digest}"
    return name


def role_password(directory: Path, role: str) -> tuple[str, bool]:
    """The role's password, from its file in ``directory``, and whether it was made just
    now (the first time: readable by us only). The control plane's database never holds
    it, so no backup of it does."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / role
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip(), False
    password = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(password)
    return password, True


def ensure_role(spec: ServerSpec, role: str, password: str, *, renew: bool = True) -> None:
    """Make ``role`` exist with only the rights an environment's code needs; the engine's
    role becomes a member, to hand databases to it. Its password is set when it is made,
    when ``renew`` says so, and whenever its rights were changed behind our back."""
    _check_name(role)
    with connection(spec.for_database(spec.dbname or "postgres")) as conn, conn.cursor() as cur:
        cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        superuser = cur.fetchone()[0]
        cur.execute(
            "SELECT rolcanlogin AND NOT (rolsuper OR rolcreatedb OR rolcreaterole OR"
            " rolreplication OR rolbypassrls) FROM pg_roles WHERE rolname = %s",
            (role,),
        )
        row = cur.fetchone()
        if row is not None and row[0] and not renew:
            return
        verifier = psycopg2.extensions.encrypt_password(password, role, conn, "scram-sha-256")
        try:
            cur.execute(
                sql.SQL("{} ROLE {} " + ATTRIBUTES + " PASSWORD %s").format(
                    sql.SQL("ALTER" if row else "CREATE"), sql.Identifier(role)
                ),
                (verifier,),
            )
            if not superuser:
                cur.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))
        except psycopg2.Error as exc:
            raise OpsError(
                f"Could not prepare the environment's database role {role}: "
                f"{(exc.pgerror or str(exc)).strip()} (the server's role needs CREATEROLE)."
            ) from None


def create_database(spec: ServerSpec, database: str, role: str) -> None:
    """A new, empty database belonging to ``role`` (Odoo then initializes it)."""
    _check_name(role)
    with connection(spec.for_database("postgres")) as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' TEMPLATE template0").format(
                database_identifier(database), sql.Identifier(role)
            )
        )


# every object another role owns outside the system's schemas, and not an extension's;
# sequences and row types follow their table
_FOREIGN_OBJECTS = """
SELECT 'SCHEMA', format('%%I', n.nspname) FROM pg_namespace n
 WHERE n.nspowner <> %(role)s::regrole AND n.nspname NOT LIKE 'pg\\_%%'
   AND n.nspname <> 'information_schema'
UNION ALL
SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
       WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END,
       format('%%I.%%I', n.nspname, c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relowner <> %(role)s::regrole AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
   AND n.nspname NOT LIKE 'pg\\_%%' AND n.nspname <> 'information_schema'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid
                   AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i', 'e'))
UNION ALL
SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE'
       ELSE 'FUNCTION' END, p.oid::regprocedure::text
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE p.proowner <> %(role)s::regrole AND n.nspname NOT LIKE 'pg\\_%%'
   AND n.nspname <> 'information_schema'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
UNION ALL
SELECT 'TYPE', t.oid::regtype::text
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE t.typowner <> %(role)s::regrole AND t.typrelid = 0 AND t.typelem = 0
   AND n.nspname NOT LIKE 'pg\\_%%' AND n.nspname <> 'information_schema'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')
"""


def adopt_database(spec: ServerSpec, database: str, role: str, *, production: bool = False) -> bool:
    """Hand ``database`` and every object in it to ``role`` (a restore may have brought
    objects of another owner); True if anything changed hands. A database that does not
    exist is left alone. A production database is handed over only with ``production``:
    to production's own role, behind a backup (the server's role stays a member of it, so
    backups and monitoring still read it)."""
    _check_name(role)
    with connection(spec.for_database("postgres")) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (database,)
        )
        row = cur.fetchone()
        if row is None:
            return False
        if is_production(conn, database) and not production:
            raise ProtectedDatabase(
                f"{database} is a production database: it is never given to the role "
                f"{role} of a development or staging environment."
            )
    owner = sql.Identifier(role)
    with connection(spec.for_database(database), autocommit=False) as db:
        with db.cursor() as cur:
            harden(cur)  # the database's content is a branch's: no function of its is called
            cur.execute(_FOREIGN_OBJECTS, {"role": role})
            foreign = cur.fetchall()
            for kind, name in foreign:
                # kind is one of the query's constants; name comes quoted by format/regtype
                cur.execute(f"ALTER {kind} {name} OWNER TO {owner.as_string(db)}")
            if row[0] != role:
                cur.execute(
                    sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                        database_identifier(database), owner
                    )
                )
        db.commit()
    return bool(foreign) or row[0] != role


def _check_name(role: str) -> None:
    if not role.startswith(PREFIX):  # never another role: these are given databases
        raise OpsError(f"{role!r} is not an environment's role.")
