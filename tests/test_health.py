"""Index, vacuum, sequence, settings and replication reports, each on a database built to
show what it reports."""

import time
from datetime import datetime, timedelta, timezone

import psycopg2
import pytest
from conftest import run_sql

from ipai_ops.activity import connections_by, read_activity
from ipai_ops.cli import main
from ipai_ops.connection import client_env
from ipai_ops.errors import OpsError, ProtectedDatabase
from ipai_ops.guards import mark_production
from ipai_ops.health import index_report, replication_report, settings_review, vacuum_report
from ipai_ops.index_advice import explain, suggest_indexes, verify_suggestion
from ipai_ops.stats import top_statements


@pytest.fixture
def shop(spec, scratch_db):
    name = scratch_db()
    run_sql(spec, name, """
        CREATE TABLE customer (id serial PRIMARY KEY, email text, city text, zip text);
        INSERT INTO customer (email, city, zip)
             SELECT 'c' || i || '@example.com', 'City ' || (i % 50), (i % 7)::text
               FROM generate_series(1, 2000) AS i;
        CREATE INDEX customer_city ON customer (city);
        CREATE INDEX customer_city_again ON customer (city);
        CREATE INDEX customer_city_zip ON customer (city, zip);
        CREATE INDEX customer_zip ON customer (zip);
        ANALYZE customer;
    """)  # fmt: skip
    return name


def _names(pairs):
    return {(p["index"], p["covered_by"]) for p in pairs}


def test_duplicate_redundant_and_invalid_indexes_are_named(spec, shop):
    # a unique index built CONCURRENTLY over duplicate values fails and stays, invalid
    conn = psycopg2.connect(**spec.for_database(shop).connect_kwargs())
    conn.autocommit = True
    with conn.cursor() as cur, pytest.raises(psycopg2.errors.UniqueViolation):
        cur.execute("CREATE UNIQUE INDEX CONCURRENTLY customer_city_unique ON customer (city)")
    conn.close()
    report = index_report(spec, shop)
    duplicates = _names(report["duplicates"])
    assert ("customer_city_again", "customer_city") in duplicates
    assert all("customer_zip" not in pair for pair in duplicates)
    redundant = _names(report["redundant"])
    assert {"customer_city", "customer_city_again"} & {drop for drop, _keep in redundant}
    assert all(keep == "customer_city_zip" for _drop, keep in redundant), redundant
    assert "customer_zip" not in {drop for drop, _keep in redundant}, "zip leads no index"
    assert [i["name"] for i in report["invalid"]] == ["customer_city_unique"]
    assert all(i["name"] != "customer_pkey" for i in report["invalid"])
    sizes = {i["name"]: i["bytes"] for i in report["indexes"]}
    assert sizes["customer_pkey"] > 0 and "customer_city_zip" in sizes


def test_unused_indexes_wait_for_statistics_old_enough(spec, shop):
    run_sql(spec, shop, "SELECT count(*) FROM customer WHERE id = 7")  # the pkey is used
    young = index_report(spec, shop, watched_since=datetime.now(timezone.utc))
    assert young["unused"] == [] and not young["unused_conclusive"], "a new database proves nothing"
    old = index_report(spec, shop, watched_since=datetime.now(timezone.utc) - timedelta(days=30))
    unused = {i["name"] for i in old["unused"]}
    assert {"customer_city", "customer_zip", "customer_city_zip"} <= unused
    assert "customer_pkey" not in unused, "constraint indexes are never 'unused'"
    usage = {t["table_name"]: t for t in old["tables"]}["customer"]
    assert usage["seq_scan"] >= 0 and usage["index_usage_pct"] is not None


def _wait_for_stats(spec, database, condition, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        report = vacuum_report(spec, database)
        if condition(report):
            return report
        time.sleep(0.3)
    return report


def test_vacuum_report_shows_overdue_tables_and_wraparound_age(spec, shop):
    run_sql(spec, shop, "ALTER TABLE customer SET (autovacuum_enabled = false)")
    run_sql(spec, shop, "DELETE FROM customer WHERE id > 200")  # 1,800 dead of 2,000
    for _ in range(50):  # transactions that age every table's relfrozenxid
        run_sql(spec, shop, "SELECT txid_current()")

    def customer(report):
        return next(t for t in report["tables"] if t["table_name"] == "customer")

    report = _wait_for_stats(spec, shop, lambda r: customer(r)["dead_rows"] >= 1800)
    table = customer(report)
    assert table["vacuum_overdue"], table
    assert "customer" in {t["table_name"] for t in report["overdue"]}
    assert table["xid_age"] >= 50 and 0 < table["wraparound_pct"] < 0.001
    assert report["databases"][0]["xid_age"] >= table["xid_age"] - 1
    assert {d["database"] for d in report["databases"]} >= {shop, "postgres"}

    conn = psycopg2.connect(**spec.for_database(shop).connect_kwargs())
    conn.autocommit = True  # VACUUM runs outside a transaction block
    conn.cursor().execute("VACUUM (FREEZE) customer")
    conn.close()
    after = _wait_for_stats(spec, shop, lambda r: customer(r)["dead_rows"] == 0)
    assert not customer(after)["vacuum_overdue"]
    assert customer(after)["xid_age"] < table["xid_age"], "freezing resets the table's age"


def test_a_sequence_near_the_maximum_of_its_column_is_flagged(spec, shop):
    run_sql(spec, shop, "CREATE TABLE ticket (id bigserial PRIMARY KEY, n int)")
    run_sql(spec, shop, "CREATE SEQUENCE ticket_n_seq AS bigint OWNED BY ticket.n")
    run_sql(spec, shop, "ALTER TABLE ticket ALTER n SET DEFAULT nextval('ticket_n_seq')")
    run_sql(spec, shop, "SELECT setval('ticket_n_seq', 2000000000)")  # 93 % of an integer
    report = vacuum_report(spec, shop)
    near = {s["name"]: s for s in report["sequences_near_max"]}
    assert set(near) == {"ticket_n_seq"}, "the bigint column's sequence has room"
    assert near["ticket_n_seq"]["limit"] == 2**31 - 1, "the column's maximum, not the sequence's"
    assert 93 <= near["ticket_n_seq"]["used_pct"] < 94
    customer = {s["name"]: s for s in report["sequences"]}["customer_id_seq"]
    assert customer["used_pct"] < 0.001


def test_settings_review_gives_a_reason_for_each_finding(spec):
    review = {item["name"]: item for item in settings_review(spec)}
    assert review["autovacuum"]["status"] == "ok"
    assert review["random_page_cost"]["value"] == "4"
    assert review["random_page_cost"]["status"] == "review"
    assert "SSD" in review["random_page_cost"]["reason"]
    assert all(item["reason"] for item in review.values())
    assert review["pg_stat_statements.max"]["status"] in ("ok", "warning")


def test_replication_report_lists_slots_and_holds_no_standby(spec, admin_conn):
    with admin_conn.cursor() as cur:
        cur.execute("SELECT pg_create_physical_replication_slot('ipai_test_slot', true)")
    try:
        report = replication_report(spec)
        assert report["is_standby"] is False and report["standbys"] == []
        slot = {s["slot_name"]: s for s in report["slots"]}["ipai_test_slot"]
        assert slot["active"] is False and slot["retained_bytes"] >= 0
    finally:
        with admin_conn.cursor() as cur:
            cur.execute("SELECT pg_drop_replication_slot('ipai_test_slot')")


def test_cli_reports_work_when_odoo_is_down(spec, shop, capsys, monkeypatch):
    for key, value in client_env(spec, {}).items():
        monkeypatch.setenv(key, value)
    assert main(["indexes", shop]) == 0
    out = capsys.readouterr().out
    assert "customer_city_again" in out and "duplicate" in out
    assert main(["vacuum-report", shop]) == 0
    assert "customer" in capsys.readouterr().out
    run_sql(spec, shop, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    run_sql(spec, shop, "SELECT count(*) FROM customer WHERE city = 'City 3'")
    assert main(["top", shop, "--limit", "5"]) == 0
    assert "customer" in capsys.readouterr().out


def test_explain_with_an_operator_s_values_plans_for_them(spec, scratch_db):
    """A skewed column: the rare value is read through the index, the common one by a
    sequential scan — the plan for those values, not the generic one."""
    name = scratch_db()
    run_sql(spec, name, """
        CREATE TABLE ticket (id serial PRIMARY KEY, status text);
        INSERT INTO ticket (status) SELECT CASE WHEN i % 100 = 0 THEN 'rare' ELSE 'common' END
          FROM generate_series(1, 20000) AS i;
        CREATE INDEX ticket_status ON ticket (status);
        ANALYZE ticket;
    """)  # fmt: skip
    statement = "SELECT * FROM ticket WHERE status = $1"
    conn = psycopg2.connect(**spec.for_database(name).connect_kwargs())
    try:
        with conn.cursor() as cur:
            rare = explain(cur, statement, ["rare"])
            common = explain(cur, statement, ["common"])
            with pytest.raises(OpsError, match="takes 1 parameter"):
                explain(cur, statement, ["rare", "extra"])
            locking = explain(cur, "SELECT * FROM ticket WHERE id = $1 FOR NO KEY UPDATE")
            for writes in (
                "WITH d AS (DELETE FROM ticket RETURNING id) SELECT * FROM d",
                "SELECT * INTO ticket_copy FROM ticket",
                "WITH u AS (UPDATE ticket SET status = 'x' RETURNING 1) SELECT 1",
            ):
                with pytest.raises(OpsError, match="only read"):
                    explain(cur, writes)  # fmt: skip
    finally:
        conn.close()
    assert rare["Node Type"] in ("Index Scan", "Bitmap Heap Scan"), rare
    assert common["Node Type"] == "Seq Scan", common
    assert locking["Node Type"] == "LockRows", "a statement that only locks is planned"


def test_a_suggested_index_is_proven_by_explain_on_a_copy(spec, scratch_db, admin_conn):
    name = scratch_db()
    run_sql(spec, name, """
        CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
        CREATE TABLE orders (id serial PRIMARY KEY, customer_ref text, total numeric);
        INSERT INTO orders (customer_ref, total)
             SELECT 'c' || (i % 5000), i FROM generate_series(1, 50000) AS i;
        ANALYZE orders;
    """)  # fmt: skip
    conn = psycopg2.connect(**spec.for_database(name).connect_kwargs())
    with conn.cursor() as cur:
        for n in range(20):  # the costly statement: a sequential scan each time
            cur.execute("SELECT * FROM orders WHERE customer_ref = %s", (f"c{n}",))
            cur.execute("SELECT count(*) FROM orders WHERE id = %s", (n,))
    conn.close()  # its statistics are flushed when it ends

    deadline, suggestions = time.monotonic() + 15, []
    while not suggestions and time.monotonic() < deadline:
        suggestions = suggest_indexes(spec, name)
        time.sleep(0.2)
    assert [(s.table, s.column) for s in suggestions] == [("orders", "customer_ref")]
    assert suggestions[0].statements == 1 and "customer_ref" in suggestions[0].example

    copy = f"{name}_copy"
    with admin_conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"')
    try:
        proof = verify_suggestion(spec, copy, suggestions[0])
        assert "Seq Scan on orders" in proof["before"], proof
        assert any(n.startswith(("Index", "Bitmap")) for n in proof["after"]), proof
        assert proof["helps"] and proof["after_cost"] < proof["before_cost"]
        assert main(["--json", "indexes", name, "--suggest", "--verify-on", copy]) == 0
        index_count = "SELECT count(*) FROM pg_indexes WHERE tablename = 'orders'"
        assert run_sql(spec, copy, index_count) == [(1,)], "the trial index was rolled back"
        mark_production(admin_conn, name)
        with pytest.raises(ProtectedDatabase):
            verify_suggestion(spec, name, suggestions[0])
    finally:
        mark_production(admin_conn, name, production=False)
        with admin_conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')


def test_slow_statements_and_connections_grouped(spec, shop, capsys, monkeypatch):
    run_sql(spec, shop, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    run_sql(spec, shop, "SELECT pg_sleep(0.2)")
    run_sql(spec, shop, "SELECT count(*) FROM customer")
    slow = top_statements(spec, shop, min_mean_ms=150)
    assert [row["query"] for row in slow] == ["SELECT pg_sleep($1)"], "only the slow one"
    idle = [psycopg2.connect(**spec.for_database(shop).connect_kwargs()) for _ in range(3)]
    try:
        groups = connections_by(read_activity(spec, with_text=False))
        mine = [g for g in groups if g["datname"] == shop]
        assert [(g["state"], g["count"]) for g in mine] == [("idle", 3)], mine
        for key, value in client_env(spec, {}).items():
            monkeypatch.setenv(key, value)
        assert main(["connections"]) == 0
        assert shop in capsys.readouterr().out
    finally:
        for conn in idle:
            conn.close()
