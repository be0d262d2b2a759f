"""Fixtures for engine tests against the real PostgreSQL that `make test` starts.

The server comes from the PG* variables (setup/pg_cluster.sh writes them). Without
them the tests fail at once: they never silently pass without a server.
"""

from __future__ import annotations

import os
import secrets

import psycopg2
import pytest
from psycopg2 import sql

from ipai_ops.connection import ServerSpec, connect


def _server_spec() -> ServerSpec:
    missing = [name for name in ("PGHOST", "PGPORT", "PGUSER") if not os.environ.get(name)]
    if missing:
        pytest.exit(
            f"engine tests need a PostgreSQL server: {', '.join(missing)} not set "
            "(run them through `make test`, which starts one)",
            returncode=3,
        )
    return ServerSpec(
        host=os.environ["PGHOST"],
        port=int(os.environ["PGPORT"]),
        user=os.environ["PGUSER"],
        password=os.environ.get("PGPASSWORD"),
    )


@pytest.fixture(scope="session")
def spec() -> ServerSpec:
    """The superuser connection settings of the test cluster."""
    return _server_spec()


@pytest.fixture
def admin_conn(spec):
    conn = connect(spec.for_database("postgres"))
    yield conn
    conn.close()


def unique_name(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


@pytest.fixture
def scratch_db(spec, admin_conn):
    """Factory: ``scratch_db()`` creates an empty database, dropped after the test."""
    created = []

    def make(name: str | None = None) -> str:
        name = name or unique_name("ipai_test")
        with admin_conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        created.append(name)
        return name

    yield make
    # a fresh connection: the test may have restarted the server under admin_conn
    fresh = connect(spec.for_database("postgres"))
    with fresh.cursor() as cur:
        for name in created:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    fresh.close()


@pytest.fixture
def login_role(admin_conn):
    """Factory: ``login_role(password, *grants)`` makes a plain LOGIN role, dropped after."""
    created = []

    def make(password: str, *grants: str) -> str:
        role = unique_name("ipai_role")
        with admin_conn.cursor() as cur:
            cur.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD %s").format(sql.Identifier(role)),
                (password,),
            )
            for granted in grants:
                cur.execute(
                    sql.SQL("GRANT {} TO {}").format(sql.Identifier(granted), sql.Identifier(role))
                )
        created.append(role)
        return role

    yield make
    with admin_conn.cursor() as cur:
        for role in created:
            cur.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def run_sql(spec: ServerSpec, database: str, statement: str, params=None):
    """Execute one statement in ``database`` (autocommit) and return its rows, if any."""
    with psycopg2.connect(**spec.for_database(database).connect_kwargs()) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else None


@pytest.fixture
def odoo_db(spec, scratch_db, tmp_path):
    """An Odoo-shaped database with 300 partners and a 40-file filestore."""
    from odoo_like import populate, write_filestore  # noqa: PLC0415 - test helper module

    name = scratch_db()
    populate(spec, name, partners=300, messages=600)
    filestore = tmp_path / "filestore" / name
    write_filestore(filestore, spec, name, files=40, size=5000)
    return name, filestore


@pytest.fixture
def target(tmp_path):
    from ipai_ops.storage import LocalTarget  # noqa: PLC0415

    return LocalTarget(tmp_path / "backups")
