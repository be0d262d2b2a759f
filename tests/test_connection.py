"""Connecting: precise errors without secrets, and secrets kept out of argument lists."""

import subprocess
from dataclasses import replace

import pytest

from ipai_ops.connection import ServerSpec, client_env, connect
from ipai_ops.errors import AuthenticationFailed, DatabaseMissing, ServerUnreachable


def test_connects_and_reports_the_server(spec):
    conn = connect(spec.for_database("postgres"))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_user, current_setting('application_name')")
            assert cur.fetchone() == (spec.user, "ipai-ops")
    finally:
        conn.close()


def test_wrong_password_is_an_authentication_error_without_the_password(spec, login_role):
    role = login_role("right-password")
    wrong = replace(spec, user=role, password="s3cret-wrong-pw", dbname="postgres")
    with pytest.raises(AuthenticationFailed) as caught:
        connect(wrong)
    assert "password" in str(caught.value)
    assert "s3cret-wrong-pw" not in str(caught.value)
    assert role in str(caught.value)


def test_nothing_listening_is_unreachable(spec):
    closed = replace(spec, port=1, connect_timeout=3, dbname="postgres")
    with pytest.raises(ServerUnreachable, match="cannot be reached"):
        connect(closed)


def test_missing_database_is_named(spec):
    with pytest.raises(DatabaseMissing, match="does not exist"):
        connect(spec.for_database("ipai_no_such_database"))


def test_repr_never_shows_the_password():
    spec = ServerSpec(host="db", user="odoo", password="hunter2")
    assert "hunter2" not in repr(spec)
    assert "hunter2" not in spec.describe()


def test_client_tools_get_the_password_through_the_environment(spec):
    env = client_env(spec.for_database("postgres"), base={"PATH": "/usr/bin:/bin"})
    assert env["PGPASSWORD"] == spec.password
    args = ["psql", "-X", "-At", "-c", "SELECT current_user"]
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == spec.user
    assert spec.password not in " ".join(args)


def test_dsn_uri_is_parsed():
    spec = ServerSpec.from_dsn("postgresql://odoo:pw@db.example:6543/prod?sslmode=require")
    assert (spec.host, spec.port, spec.user, spec.password, spec.dbname, spec.sslmode) == (
        "db.example",
        6543,
        "odoo",
        "pw",
        "prod",
        "require",
    )
