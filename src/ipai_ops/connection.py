"""How to reach a PostgreSQL server, and connecting to it safely.

A :class:`ServerSpec` holds what a *database server* record holds. The password
only ever travels to libpq as a keyword argument (``connect``) or through
``PGPASSWORD`` in a child process's environment (:func:`client_env`) — never in
an argument list, where any local user could read it from ``ps``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from .errors import (
    AuthenticationFailed,
    ConnectionFailed,
    DatabaseMissing,
    PrivilegeMissing,
    ServerUnreachable,
)

CONNECT_TIMEOUT = 10  # seconds libpq waits for a server before giving up
APPLICATION_NAME = "ipai-ops"


@dataclass(frozen=True)
class ServerSpec:
    """Connection settings; ``None`` leaves a setting to libpq's defaults (``PG*`` variables)."""

    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    sslmode: str | None = None
    dbname: str | None = None
    connect_timeout: int = CONNECT_TIMEOUT

    @classmethod
    def from_dsn(cls, dsn: str) -> ServerSpec:
        """Build a spec from a libpq connection string or URI (``postgresql://…``)."""
        try:
            params = psycopg2.extensions.parse_dsn(dsn)
        except psycopg2.ProgrammingError as exc:
            raise ConnectionFailed(f"Invalid connection string: {exc}") from None
        port = params.get("port")
        return cls(
            host=params.get("host"),
            port=int(port) if port else None,
            user=params.get("user"),
            password=params.get("password"),
            sslmode=params.get("sslmode"),
            dbname=params.get("dbname"),
        )

    def for_database(self, dbname: str) -> ServerSpec:
        """The same server, another database."""
        return replace(self, dbname=dbname)

    def connect_kwargs(self) -> dict:
        kwargs = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "sslmode": self.sslmode,
            "dbname": self.dbname,
            "connect_timeout": self.connect_timeout,
            "application_name": APPLICATION_NAME,
        }
        return {key: value for key, value in kwargs.items() if value is not None}

    def describe(self) -> str:
        """Where this points, for messages (never includes the password)."""
        where = self.host or os.environ.get("PGHOST") or "local socket"
        port = self.port or os.environ.get("PGPORT") or 5432
        role = self.user or os.environ.get("PGUSER") or "default role"
        database = f"/{self.dbname}" if self.dbname else ""
        return f"{role}@{where}:{port}{database}"


def classify_connect_error(spec: ServerSpec, exc: psycopg2.OperationalError) -> ConnectionFailed:
    """Turn libpq's connection error into a precise, actionable engine error."""
    text = str(exc).strip()
    lowered = text.lower()
    where = spec.describe()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return AuthenticationFailed(
            f"{where}: the server refused the role's password. Check the user and password."
        )
    if "role" in lowered and "does not exist" in lowered:
        return AuthenticationFailed(f"{where}: the role does not exist on this server.")
    if "database" in lowered and "does not exist" in lowered:
        return DatabaseMissing(f"{where}: the database does not exist on this server.")
    if "pg_hba.conf" in lowered:
        return AuthenticationFailed(
            f"{where}: pg_hba.conf on the server has no entry allowing this connection."
        )
    unreachable_signs = (
        "connection refused",
        "could not translate host name",
        "timeout expired",
        "no route to host",
        "could not connect",
        "is the server running",
        "network is unreachable",
        "the database system is shutting down",
        "the database system is starting up",
        "the database system is in recovery mode",
        "server closed the connection",
    )
    if any(sign in lowered for sign in unreachable_signs):
        return ServerUnreachable(f"{where}: the server cannot be reached ({text.splitlines()[0]}).")
    return ConnectionFailed(f"{where}: connection failed ({text.splitlines()[0]}).")


def connect(
    spec: ServerSpec, *, autocommit: bool = True, application_name: str | None = None
) -> psycopg2.extensions.connection:
    """Open a connection, raising a :class:`ConnectionFailed` subclass on failure.

    :param application_name: how the session appears in ``pg_stat_activity``
    """
    kwargs = spec.connect_kwargs()
    if application_name:
        kwargs["application_name"] = application_name
    try:
        conn = psycopg2.connect(**kwargs)
    except psycopg2.OperationalError as exc:
        raise classify_connect_error(spec, exc) from None
    conn.autocommit = autocommit
    return conn


@contextmanager
def connection(
    spec: ServerSpec, *, autocommit: bool = True, application_name: str | None = None
) -> Iterator:
    """``with connection(spec) as conn:`` — always closed, whatever happens inside."""
    conn = connect(spec, autocommit=autocommit, application_name=application_name)
    try:
        yield conn
    except psycopg2.errors.InsufficientPrivilege as exc:
        raise missing_privilege(spec, exc) from None
    finally:
        conn.close()


def missing_privilege(spec: ServerSpec, exc: psycopg2.Error) -> PrivilegeMissing:
    """A clear message for a privilege the role lacks, with the usual fix."""
    detail = (exc.pgerror or str(exc)).strip().splitlines()[0].removeprefix("ERROR:  ")
    role = spec.user or os.environ.get("PGUSER") or "the role"
    return PrivilegeMissing(
        f"{spec.describe()}: {detail}. The role needs CREATEDB and membership in the role "
        f"that owns Odoo's databases (GRANT <odoo role> TO {role};) — `ipai-ops probe` and "
        "Test connection list what is missing."
    )


def client_env(spec: ServerSpec, base: dict | None = None) -> dict:
    """Environment for a PostgreSQL client tool (pg_dump, psql…) run as a child process.

    Settings go through ``PG*`` variables so that the argument list carries no secret.
    """
    env = dict(os.environ if base is None else base)
    mapping = {
        "PGHOST": spec.host,
        "PGPORT": str(spec.port) if spec.port else None,
        "PGUSER": spec.user,
        "PGPASSWORD": spec.password,
        "PGSSLMODE": spec.sslmode,
        "PGDATABASE": spec.dbname,
        "PGCONNECT_TIMEOUT": str(spec.connect_timeout),
        "PGAPPNAME": APPLICATION_NAME,
    }
    env.update({key: value for key, value in mapping.items() if value is not None})
    return env


def fetch_dicts(cur, query: str, params=None) -> list[dict]:
    """Run ``query`` and return its rows as dicts keyed by column name."""
    cur.execute(query, params)
    names = [column.name for column in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
