"""Transient failures are told apart from permanent ones, on the real server."""

import random

import psycopg2
import pytest
from conftest import run_sql

from ipai_ops.check import check_database
from ipai_ops.connection import ServerSpec, connect
from ipai_ops.errors import ClientToolError, DatabaseMissing, OpsError
from ipai_ops.retry import BACKOFF_CAP, backoff, is_transient


def test_a_deadlock_and_a_serialization_failure_are_transient(spec, scratch_db):
    name = scratch_db()
    run_sql(spec, name, "CREATE TABLE t (id int PRIMARY KEY, v int)")
    run_sql(spec, name, "INSERT INTO t VALUES (1, 0), (2, 0)")
    one = psycopg2.connect(**spec.for_database(name).connect_kwargs())
    two = psycopg2.connect(**spec.for_database(name).connect_kwargs())
    try:
        for conn in (one, two):
            conn.set_session(isolation_level="SERIALIZABLE")
        one.cursor().execute("UPDATE t SET v = 1 WHERE id = 1")
        two.cursor().execute("SELECT sum(v) FROM t")
        two.cursor().execute("UPDATE t SET v = 1 WHERE id = 2")
        one.cursor().execute("SELECT sum(v) FROM t")
        one.commit()
        with pytest.raises(psycopg2.Error) as caught:
            two.commit()
        assert is_transient(caught.value), caught.value.pgcode
    finally:
        one.close()
        two.close()


def test_unreachable_is_transient_missing_is_not(spec):
    with pytest.raises(OpsError) as unreachable:
        connect(ServerSpec(host="127.0.0.1", port=1, connect_timeout=2))
    assert is_transient(unreachable.value)
    with pytest.raises(DatabaseMissing) as missing:
        check_database(spec.for_database("ipai_test_no_such_db"), "ipai_test_no_such_db")
    assert not is_transient(missing.value)
    assert not is_transient(OpsError("the backup is corrupt"))
    assert not is_transient(ValueError("a bug"))
    assert is_transient(
        ClientToolError("pg_dump failed: server closed the connection unexpectedly")
    )
    assert not is_transient(ClientToolError("pg_dump failed: permission denied for table x"))


def test_backoff_doubles_with_jitter_and_is_capped():
    rng = random.Random(7)
    delays = [backoff(attempt, rng=rng) for attempt in range(1, 10)]
    assert 24 <= delays[0] <= 36
    assert 48 <= delays[1] <= 72
    assert all(d <= BACKOFF_CAP * 1.2 for d in delays)
    assert delays[-1] >= BACKOFF_CAP * 0.8
