"""Database names: what we accept, what we refuse, and that accepted names work for real."""

import pytest
from psycopg2 import sql

from ipai_ops.errors import InvalidName
from ipai_ops.identifiers import (
    MAX_IDENTIFIER_BYTES,
    database_exists,
    database_identifier,
    validate_database_name,
)


@pytest.mark.parametrize("name", ["prod", "acme-staging.2026-11-25", "a", "9lives", "x" * 63])
def test_ordinary_names_are_accepted(name):
    assert validate_database_name(name) == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ('prod"; DROP DATABASE prod; --', "not allowed"),
        ("prod'", "not allowed"),
        ("a;b", "not allowed"),
        ("with space", "not allowed"),
        ("-leading-dash", "not allowed"),
        ("../etc", "not allowed"),
        ("x" * 64, "at most 63 bytes"),
        ("é" * 32, "at most 63 bytes"),  # 32 characters, 64 bytes
        ("", "required"),
        ("postgres", "reserved"),
        ("Template1", "reserved"),
    ],
)
def test_hostile_names_are_refused_with_a_reason(name, reason):
    with pytest.raises(InvalidName, match=reason):
        validate_database_name(name)


def test_limit_is_postgresql_identifier_length():
    assert MAX_IDENTIFIER_BYTES == 63
    validate_database_name("d" * MAX_IDENTIFIER_BYTES)


def test_accepted_name_with_dots_and_dashes_creates_that_exact_database(admin_conn):
    name = "ipai-test.dots-and-dashes"
    with admin_conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(database_identifier(name)))
    try:
        assert database_exists(admin_conn, name)
        assert not database_exists(admin_conn, name.upper())
    finally:
        with admin_conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
    assert not database_exists(admin_conn, name)
