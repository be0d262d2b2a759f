"""A dedicated, non-superuser engine role and a separate Odoo role, as the README says."""

import pytest
from conftest import run_sql
from odoo_like import populate, write_filestore
from psycopg2 import sql

from ipai_ops.backup import backup_database
from ipai_ops.clone import clone_database
from ipai_ops.connection import ServerSpec, connection
from ipai_ops.errors import PrivilegeMissing
from ipai_ops.guards import drop_database
from ipai_ops.probe import probe_server
from ipai_ops.restore import restore_backup
from ipai_ops.source import inspect_source


@pytest.fixture
def roles(spec, admin_conn, login_role):
    """(odoo role, engine role): the engine is CREATEDB and a member of the Odoo role."""
    odoo = login_role("odoo-pw")
    engine = login_role("engine-pw", odoo)
    with admin_conn.cursor() as cur:
        cur.execute(sql.SQL("ALTER ROLE {} CREATEDB").format(sql.Identifier(engine)))
    return odoo, engine


@pytest.fixture
def odoo_owned_db(spec, admin_conn, roles, tmp_path):
    odoo, _engine = roles
    name = f"{odoo}_db"
    with admin_conn.cursor() as cur:
        cur.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(odoo)
            )
        )
    as_odoo = ServerSpec(host=spec.host, port=spec.port, user=odoo, password="odoo-pw")
    populate(as_odoo, name, partners=50, messages=50)
    filestore = tmp_path / "filestore" / name
    write_filestore(filestore, as_odoo, name, files=5, size=100)
    yield name, filestore
    drop_database(admin_conn, name)


def _owners(spec, database):
    rows = run_sql(
        spec, database,
        "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'",
    )  # fmt: skip
    (owner,) = run_sql(
        spec, "postgres",
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (database,),
    )  # fmt: skip
    return {row[0] for row in rows}, owner[0]


def test_copies_and_restores_belong_to_the_odoo_role(
    spec, roles, odoo_owned_db, target, tmp_path, admin_conn
):
    odoo, engine = roles
    name, filestore = odoo_owned_db
    as_engine = ServerSpec(host=spec.host, port=spec.port, user=engine, password="engine-pw",
                           dbname="postgres")  # fmt: skip
    result = backup_database(as_engine, name, target, filestore=filestore)
    assert result.manifest["source"]["owner"] == odoo
    restored, copy = f"{name}_restored", f"{name}_copy"
    try:
        restore_backup(as_engine, target, result.set_id, restored,
                       filestore=tmp_path / "filestore" / restored)  # fmt: skip
        clone_database(as_engine, name, copy, source_filestore=filestore,
                       target_filestore=tmp_path / "filestore" / copy, method="dump")  # fmt: skip
        for database in (restored, copy):
            tables, owner = _owners(spec, database)
            assert owner == odoo, f"{database} belongs to the Odoo role"
            assert tables == {odoo}, f"every table of {database} belongs to the Odoo role"
            odoo_spec = ServerSpec(host=spec.host, port=spec.port, user=odoo, password="odoo-pw",
                                   dbname=database)  # fmt: skip
            with connection(odoo_spec) as conn, conn.cursor() as cur:
                cur.execute("UPDATE res_partner SET name = name || ' (copy)' WHERE id = 1")
                cur.execute("CREATE TABLE odoo_can_create (id int)")
    finally:
        drop_database(admin_conn, restored)
        drop_database(admin_conn, copy)


def test_a_missing_membership_is_named_not_a_traceback(spec, odoo_owned_db, login_role):
    name, _filestore = odoo_owned_db
    stranger = login_role("stranger-pw")
    as_stranger = ServerSpec(
        host=spec.host, port=spec.port, user=stranger, password="stranger-pw", dbname="postgres"
    )
    findings = "\n".join(probe_server(as_stranger).findings())
    assert "NOT a member of" in findings
    assert name in findings
    with pytest.raises(PrivilegeMissing, match=r"permission denied.*GRANT <odoo role>"):
        inspect_source(as_stranger, name)
