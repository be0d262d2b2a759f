"""Fixtures for engine tests against the real PostgreSQL that `make test` starts.

The server comes from the PG* variables (setup/pg_cluster.sh writes them). Without
them the tests fail at once: they never silently pass without a server.

The Docker tests (tests/test_runtime.py, tests/test_compose.py) share ``docker_host``:
the engine `make test` starts (IPAI_OPS_DOCKER_HOST), or one of their own, with the
stand-in images loaded.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from ipai_ops.connection import ServerSpec, connect

ROOT = Path(__file__).resolve().parent.parent


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


def why_no_docker() -> str | None:
    """Why no engine can be had here at all (None: one can, so failing to start is a failure)."""
    if os.geteuid() != 0:
        return "starting a Docker engine of the tests' own needs root"
    if not shutil.which("dockerd") and not shutil.which("apt-get"):
        return "no dockerd here and no apt-get to install docker.io"
    return None


@pytest.fixture(scope="session")
def docker_host(tmp_path_factory):
    """The engine's endpoint, with the stand-in images loaded into it."""
    host = os.environ.get("IPAI_OPS_DOCKER_HOST")
    engine_dir = None
    if os.environ.get("IPAI_OPS_RUNTIME_SKIP"):  # the test command said why, loudly, once
        pytest.skip(f"RUNTIME TESTS SKIPPED: {os.environ['IPAI_OPS_RUNTIME_SKIP']}")
    if not host:
        if why := why_no_docker():
            pytest.skip(f"!!!!! RUNTIME TESTS SKIPPED: {why} !!!!!")
        engine_dir = tmp_path_factory.mktemp("engine")
        started = subprocess.run(
            ["bash", str(ROOT / "setup/docker_engine.sh"), "start", str(engine_dir)],
            capture_output=True,
            text=True,
            check=False,
        )
        if started.returncode != 0:
            pytest.fail(f"the Docker engine did not start:\n{started.stderr}", pytrace=False)
        host = f"unix://{engine_dir}/docker.sock"
    images = subprocess.run(
        ["bash", str(ROOT / "setup/docker_images.sh")],
        env={**os.environ, "DOCKER_HOST": host},
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        if images.returncode == 3:
            pytest.skip(
                "!!!!! RUNTIME TESTS SKIPPED: no Odoo 19 configured for the odoo:19 stand-in !!!!!"
            )
        if images.returncode != 0:
            pytest.fail(f"the stand-in images are not available:\n{images.stderr}", pytrace=False)
        yield host
    finally:
        if engine_dir is not None:
            subprocess.run(
                ["bash", str(ROOT / "setup/docker_engine.sh"), "stop", str(engine_dir)],
                check=False,
            )
            shutil.rmtree(engine_dir, ignore_errors=True)  # its data root holds the images
