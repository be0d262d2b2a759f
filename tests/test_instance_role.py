"""A development or staging environment's own database role: what a branch's code can
reach through it (its own databases) and what it cannot (production, the server)."""

import dataclasses
import os
import secrets
import stat

import psycopg2
import pytest
from conftest import run_sql
from psycopg2 import sql

from ipai_ops.backup import backup_database
from ipai_ops.clone import clone_database
from ipai_ops.connection import connect
from ipai_ops.errors import NeutralizationFailed, OpsError, ProtectedDatabase
from ipai_ops.guards import mark_production
from ipai_ops.instance_role import (
    adopt_database,
    create_database,
    ensure_role,
    role_name,
    role_password,
)
from ipai_ops.neutralize import neutralize_database


@pytest.fixture
def env_role(spec, admin_conn, tmp_path):
    """An environment's role, made by the engine; its databases and itself dropped after."""
    role = role_name("shop", f"dev-{secrets.token_hex(3)}")
    password, _new = role_password(tmp_path / "roles", role)
    ensure_role(spec, role, password)
    yield role, dataclasses.replace(spec, user=role, password=password)
    with admin_conn.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database WHERE datdba = %s::regrole", (role,))
        for (name,) in cur.fetchall():
            cur.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        cur.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        cur.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def as_role(login, database, statement):
    """``statement`` run by a branch's code, logged in as the environment's role."""
    conn = connect(login.for_database(database))
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def test_the_role_reaches_no_other_database_and_no_server_power(spec, env_role, odoo_db):
    role, login = env_role
    production, _files = odoo_db
    with connect(spec.for_database("postgres")) as admin:
        mark_production(admin, production)
    for hostile in (
        "SELECT count(*) FROM res_partner",  # production's data
        "UPDATE ir_config_parameter SET value = 'x'",
        "COPY (SELECT 1) TO PROGRAM 'true'",  # the server's shell
        "SELECT pg_read_file('postgresql.conf')",  # the server's files
        f"ALTER ROLE {role} SUPERUSER",
        "CREATE DATABASE stolen TEMPLATE " + production,
    ):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            as_role(login, production, hostile)
    attributes = run_sql(
        spec, "postgres",
        "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls,"
        " (SELECT count(*) FROM pg_auth_members WHERE member = r.oid),"
        " left(rolpassword, 14) FROM pg_authid r WHERE rolname = %s", (role,),
    )  # fmt: skip
    assert attributes == [(False, False, False, False, False, 0, "SCRAM-SHA-256$")]


def test_rights_given_to_the_role_behind_our_back_are_taken_back(spec, env_role, admin_conn):
    role, login = env_role
    with admin_conn.cursor() as cur:
        cur.execute(sql.SQL("ALTER ROLE {} CREATEDB PASSWORD 'guessed'").format(
            sql.Identifier(role)))  # fmt: skip
    ensure_role(spec, role, login.password, renew=False)
    assert run_sql(spec, "postgres", "SELECT rolcreatedb FROM pg_roles WHERE rolname = %s",
                   (role,)) == [(False,)]  # fmt: skip
    connect(login.for_database("postgres")).close()  # its own password again


def test_the_password_lives_in_a_file_only_its_owner_reads(tmp_path):
    role = role_name("shop", "dev")
    first, new = role_password(tmp_path / "roles", role)
    assert new
    assert role_password(tmp_path / "roles", role) == (first, False)  # kept, not renewed
    assert len(first) >= 40
    mode = stat.S_IMODE(os.stat(tmp_path / "roles" / role).st_mode)
    assert mode == 0o600


def test_role_names_are_one_per_environment_and_never_another_role(spec, scratch_db):
    assert role_name("Shop", "feature/Prices") == "ipai_ops_env_shop_feature_prices"
    long_a, long_b = role_name("p" * 40, "a" * 40), role_name("p" * 40, "b" * 40)
    assert len(long_a.encode()) <= 63 and long_a != long_b
    database = scratch_db()
    for other in ("postgres", "odoo"):
        with pytest.raises(OpsError, match="not an environment's role"):
            adopt_database(spec, database, other)
        with pytest.raises(OpsError, match="not an environment's role"):
            ensure_role(spec, other, "x")


def test_a_copy_adopted_by_the_role_is_wholly_its_own(spec, env_role, odoo_db, admin_conn):
    role, login = env_role
    source, _files = odoo_db
    copy = clone_database(spec, source, f"{source}_copy", method="template").database
    try:
        assert adopt_database(spec, copy, role)
        assert not adopt_database(spec, copy, role)  # already its own
        run_sql(spec, copy, "CREATE TABLE restored_by_another (id int)")  # e.g. by a restore
        assert adopt_database(spec, copy, role)
        as_role(login, copy, "DROP TABLE restored_by_another")
        as_role(login, copy, "UPDATE res_partner SET name = name || ''")
        as_role(login, copy, "ALTER TABLE res_partner ADD COLUMN x_new integer")  # -u does this
        as_role(login, copy, "INSERT INTO res_partner (name) VALUES ('new')")  # its sequence
        as_role(login, copy, "CREATE TABLE x_module_table (id serial)")
        owners = run_sql(spec, copy, "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class c"
                                     " JOIN pg_namespace n ON n.oid = c.relnamespace"
                                     " WHERE n.nspname = 'public'")  # fmt: skip
        assert owners == [(role,)]
    finally:
        with admin_conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(copy)))  # fmt: skip


def test_a_production_database_is_never_adopted(spec, env_role, odoo_db):
    role, _login = env_role
    production, _files = odoo_db
    with connect(spec.for_database("postgres")) as admin:
        mark_production(admin, production)
    with pytest.raises(ProtectedDatabase):
        adopt_database(spec, production, role)
    owner = run_sql(spec, "postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database"
                                      " WHERE datname = %s", (production,))  # fmt: skip
    assert owner == [(spec.user,)]


def test_production_given_its_own_role_stays_readable_by_the_server(
    spec, env_role, odoo_db, scratch_db, target
):
    """Production's own role (the run behind a backup): it owns production and nothing
    else; the server's role still backs it up; another database stays out of reach."""
    role, login = env_role
    production, files = odoo_db
    other = scratch_db()
    run_sql(spec, other, "CREATE TABLE secrets (value text); INSERT INTO secrets VALUES ('x')")
    with connect(spec.for_database("postgres")) as admin:
        mark_production(admin, production)
    assert adopt_database(spec, production, role, production=True)
    as_role(login, production, "UPDATE res_partner SET name = name || ''")  # Odoo's own work
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        as_role(login, other, "SELECT * FROM secrets")
    assert backup_database(spec, production, target, filestore=files).manifest["dump"]["bytes"]


def test_a_new_database_belongs_to_the_role(spec, env_role):
    role, login = env_role
    database = f"{role}_build"
    create_database(spec, database, role)
    as_role(login, database, "CREATE TABLE ir_module_module (id serial, name varchar)")
    owner = run_sql(spec, "postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database"
                                      " WHERE datname = %s", (database,))  # fmt: skip
    assert owner == [(role,)]


def test_a_copy_for_the_role_is_restored_as_it_and_its_scripts_run_as_it(
    spec, env_role, odoo_db, tmp_path
):
    role, login = env_role
    source, _files = odoo_db
    run_sql(spec, source, "CREATE EXTENSION pg_trgm")  # trusted: its role may make it
    addons = tmp_path / "addons"
    for module in ("base", "contacts", "mail", "web"):  # what the source has installed
        (addons / module / "data").mkdir(parents=True)
        (addons / module / "__manifest__.py").write_text("{}")
    # a branch's neutralize.sql trying its luck: as the role it is refused, the copy dropped
    (addons / "base" / "data" / "neutralize.sql").write_text(
        f"RESET ROLE; ALTER ROLE {role} SUPERUSER;"
    )

    def prepare(database):
        neutralize_database(spec, database, addons_paths=[str(addons)], as_role=login)

    with pytest.raises(NeutralizationFailed, match="must be superuser"):
        clone_database(spec, source, f"{source}_staging", prepare=prepare, owner=role)
    assert not run_sql(spec, "postgres", "SELECT 1 FROM pg_database WHERE datname = %s",
                       (f"{source}_staging",))  # fmt: skip
    assert run_sql(spec, "postgres", "SELECT rolsuper FROM pg_roles WHERE rolname = %s",
                   (role,)) == [(False,)]  # fmt: skip

    (addons / "base" / "data" / "neutralize.sql").write_text("UPDATE res_partner SET name = name;")
    copy = clone_database(spec, source, f"{source}_staging", prepare=prepare, owner=role)
    assert copy.method == "dump"  # a template copy would keep the source's owners
    owners = run_sql(spec, copy.database, "SELECT DISTINCT pg_get_userbyid(relowner)"
                     " FROM pg_class WHERE relname = 'res_partner'")  # fmt: skip
    assert owners == [(role,)]
