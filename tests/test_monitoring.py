"""pg_stat_statements samples and deltas, activity and locks, catalog reports, for real."""

import contextlib
import threading
from datetime import datetime, timedelta

import psycopg2
import pytest
from cluster import restart_cluster
from conftest import run_sql
from hypothesis import given
from hypothesis import strategies as st

from ipai_ops.activity import read_activity, signal_backend, summarize
from ipai_ops.catalog import database_report
from ipai_ops.errors import OpsError
from ipai_ops.stats import COUNTERS, Sample, read_statements, statement_deltas


def workload(spec, database, statement, times):
    conn = psycopg2.connect(**spec.for_database(database).connect_kwargs())
    conn.autocommit = True
    with conn.cursor() as cur:
        for _ in range(times):
            cur.execute(statement)
    conn.close()


def test_the_costliest_queries_rank_first(spec, odoo_db):
    name, _filestore = odoo_db
    run_sql(spec, name, "CREATE EXTENSION pg_stat_statements")
    first = read_statements(spec, name)
    workload(spec, name, "SELECT pg_sleep(0.05)", 4)
    workload(spec, name, "SELECT count(*) FROM res_partner WHERE city = 'City 7'", 40)
    second = read_statements(spec, name, known=set(first.texts))
    deltas = statement_deltas(first, second)
    ranked = sorted(deltas.rows, key=lambda r: r["total_ms"], reverse=True)
    assert "pg_sleep" in second.texts[ranked[0]["queryid"]]
    assert ranked[0]["calls"] == 4 and ranked[0]["total_ms"] >= 190
    partner = next(r for r in deltas.rows if "res_partner" in second.texts.get(r["queryid"], ""))
    assert partner["calls"] == 40
    assert not deltas.reset and not deltas.restart


def test_deltas_stay_right_across_a_reset(spec, odoo_db):
    name, _filestore = odoo_db
    run_sql(spec, name, "CREATE EXTENSION pg_stat_statements")
    workload(spec, name, "SELECT 1 + 1", 30)
    before = read_statements(spec, name)
    run_sql(spec, name, "SELECT pg_stat_statements_reset()")
    workload(spec, name, "SELECT 1 + 1", 3)
    after = read_statements(spec, name)
    deltas = statement_deltas(before, after)
    assert deltas.reset
    plus = [r for r in deltas.rows if after.texts.get(r["queryid"]) == "SELECT $1 + $2"]
    assert [r["calls"] for r in plus] == [3]
    assert all(r["calls"] > 0 and r["total_ms"] >= 0 for r in deltas.rows)


def test_deltas_stay_right_across_a_server_restart(spec, odoo_db):
    name, _filestore = odoo_db
    run_sql(spec, name, "CREATE EXTENSION pg_stat_statements")
    workload(spec, name, "SELECT 2 * 21", 25)
    before = read_statements(spec, name)
    restart_cluster()
    workload(spec, name, "SELECT 2 * 21", 2)
    after = read_statements(spec, name)
    deltas = statement_deltas(before, after)
    assert deltas.restart and not deltas.reset, "a clean restart keeps the saved counters"
    times = [r for r in deltas.rows if after.texts.get(r["queryid"]) == "SELECT $1 * $2"]
    assert [r["calls"] for r in times] == [2]


def _sample(counters, started, reset):
    return Sample(datetime(2026, 1, 1), started, reset, counters)


@given(
    st.dictionaries(
        st.integers(1, 40),
        st.tuples(st.integers(0, 1000), st.integers(0, 1000)),
        max_size=20,
    ),
    st.booleans(),
)
def test_deltas_are_exact_and_never_negative(history, reset):
    """Between two samples: increments exactly; after a reset: the new counts, never below 0."""
    start = datetime(2026, 1, 1)
    before, after = {}, {}
    for queryid, (old, new) in history.items():
        key = (10, 1, queryid, True)
        before[key] = dict.fromkeys(COUNTERS, old)
        after[key] = dict.fromkeys(COUNTERS, new if reset else old + new)
    deltas = statement_deltas(
        _sample(before, start, start), _sample(after, start, start + timedelta(seconds=reset))
    )
    assert deltas.reset == reset
    got = {row["queryid"]: row["calls"] for row in deltas.rows}
    assert got == {q: new for q, (_old, new) in history.items() if new > 0}


def test_blocked_session_is_reported_with_its_blocker(spec, odoo_db):
    name, _filestore = odoo_db
    holder = psycopg2.connect(**spec.for_database(name).connect_kwargs())
    holder.cursor().execute("LOCK TABLE res_partner IN ACCESS EXCLUSIVE MODE")
    waiter = psycopg2.connect(**spec.for_database(name).connect_kwargs())

    def wait_for_the_lock():
        with contextlib.suppress(psycopg2.errors.QueryCanceled):  # cancelled below, on purpose
            waiter.cursor().execute("SELECT count(*) FROM res_partner")

    waiting = threading.Thread(target=wait_for_the_lock)
    waiting.start()
    try:
        for _ in range(100):
            sessions = read_activity(spec, database=name)
            blocked = [s for s in sessions if s["blocked_by"]]
            if blocked:
                break
            threading.Event().wait(0.05)
        assert blocked, "the waiting session is reported"
        assert blocked[0]["blocked_by"] == [holder.get_backend_pid()]
        assert "AccessShareLock" in blocked[0]["waiting_for"]
        assert summarize(sessions, 200)["blocked"] == 1
        assert {s["datname"] for s in sessions} == {name}, "only that database's sessions"
        with pytest.raises(OpsError, match="No session"):  # a pid of another database
            signal_backend(spec, blocked[0]["pid"], database="postgres")
        assert signal_backend(spec, blocked[0]["pid"], database=name)  # cancel the waiting query
    finally:
        holder.rollback()
        waiting.join(timeout=10)
        holder.close()
        waiter.close()


def test_catalog_report_finds_unused_indexes_and_bloat(spec, odoo_db):
    name, _filestore = odoo_db
    run_sql(spec, name, "CREATE INDEX never_used_idx ON mail_message (body)")
    run_sql(spec, name, "DELETE FROM res_partner WHERE id % 2 = 0 AND id NOT IN "
                        "(SELECT author_id FROM mail_message)")  # fmt: skip
    run_sql(spec, name, "ANALYZE")
    report = database_report(spec, name)
    assert report["size_bytes"] > 0
    assert report["tables"][0]["total_bytes"] >= report["tables"][-1]["total_bytes"]
    assert "never_used_idx" in [i["name"] for i in report["unused_indexes"]]


def test_a_statement_reset_alone_is_counted_from_zero(spec, odoo_db):
    """pg_stat_statements_reset(userid, dbid, queryid): 40 calls, a reset of that one
    statement, 60 calls — the window holds 60, not 60 - 40."""
    name, _filestore = odoo_db
    run_sql(spec, name, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    # numeric literals both: pg_sleep(0) would be another statement (an int4 -> float8 cast)
    workload(spec, name, "SELECT pg_sleep(0.05)", 1)  # its maximum: 50 ms
    workload(spec, name, "SELECT pg_sleep(0.0)", 39)  # the same statement, normalized
    first = read_statements(spec, name)
    sleeps = {q for q, text in first.texts.items() if "pg_sleep" in text}
    (queryid,) = {key[2] for key, values in first.counters.items()
                  if key[2] in sleeps and values["calls"] == 40}  # fmt: skip
    run_sql(spec, name, "SELECT pg_stat_statements_reset(0, 0, %s)", (queryid,))
    workload(spec, name, "SELECT pg_sleep(0.0)", 60)  # re-created: a maximum far below 50 ms
    deltas = statement_deltas(first, read_statements(spec, name, known=set(first.texts)))
    row = next(r for r in deltas.rows if r["queryid"] == queryid)
    assert (row["calls"], row["recreated"]) == (60, True)
    assert not deltas.reset, "the other statements were not reset"


def _entry(calls, min_ms=1.0, max_ms=5.0, since=None):
    return {**dict.fromkeys(COUNTERS, calls), "min_ms": min_ms, "max_ms": max_ms,
            "stats_since": since}  # fmt: skip


def test_evictions_mark_the_window_and_stats_since_tells_a_recreated_entry():
    start, key = datetime(2026, 1, 1), (10, 1, 7, True)
    before = Sample(start, start, start, {key: _entry(40, since="t1")}, dealloc=3)
    grown = Sample(start, start, start, {key: _entry(60, since="t1")}, dealloc=5)
    deltas = statement_deltas(before, grown)
    assert deltas.evicted and deltas.rows[0]["calls"] == 20, "same entry: the difference"
    again = Sample(start, start, start, {key: _entry(60, since="t2")}, dealloc=3)
    deltas = statement_deltas(before, again)
    assert not deltas.evicted
    assert (deltas.rows[0]["calls"], deltas.rows[0]["recreated"]) == (60, True), "17+: exact"
    # a minimum that rose means a new entry, whatever the counters say (14-16)
    older = Sample(start, start, start, {key: _entry(40, min_ms=1.0)})
    newer = Sample(start, start, start, {key: _entry(60, min_ms=2.0)})
    assert statement_deltas(older, newer).rows[0]["calls"] == 60
    # a state saved before these columns existed still loads and compares
    legacy = {"postmaster_start": start.isoformat(), "stats_reset": None,
              "counters": [[*key, *(40 for _ in COUNTERS)]]}  # fmt: skip
    now = Sample(start, start, None, {key: _entry(60)})
    assert statement_deltas(Sample.from_state(legacy), now).rows[0]["calls"] == 20


def _alter_system(spec, statement):
    conn = psycopg2.connect(**spec.for_database("postgres").connect_kwargs())
    conn.autocommit = True  # ALTER SYSTEM runs outside a transaction block
    conn.cursor().execute(statement)
    conn.close()


def test_an_eviction_on_the_server_marks_the_window(spec, odoo_db):
    """With room for 100 statements and 300 run, pg_stat_statements evicts: the window
    between the two samples is marked as holding lower bounds."""
    name, _filestore = odoo_db
    _alter_system(spec, "ALTER SYSTEM SET pg_stat_statements.max = 100")
    restart_cluster()
    try:
        run_sql(spec, name, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        first = read_statements(spec, name)
        conn = psycopg2.connect(**spec.for_database(name).connect_kwargs())
        with conn.cursor() as cur:
            for n in range(1, 301):  # distinct statements: n columns each (aliases would not do)
                cur.execute("SELECT " + ", ".join(["1"] * n))
        conn.close()
        second = read_statements(spec, name, known=set(first.texts))
        assert second.dealloc > (first.dealloc or 0)
        assert statement_deltas(first, second).evicted
        assert not statement_deltas(second, second).evicted, "no eviction, no mark"
    finally:
        _alter_system(spec, "ALTER SYSTEM RESET pg_stat_statements.max")
        restart_cluster()
