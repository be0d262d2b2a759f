"""What a PostgreSQL expert checks beyond the query statistics, one database at a time.

* :func:`index_report` — every index with its size and use, duplicates (same table,
  method, columns, expressions and predicate), redundant ones (a btree whose
  columns begin another btree of the table), invalid ones (a ``CREATE INDEX
  CONCURRENTLY`` that failed), unused ones — only once the statistics are old
  enough to mean something — and each table's share of index scans.
* :func:`vacuum_report` — last (auto)vacuum and analyze per table, dead rows,
  tables past their autovacuum threshold, transaction-ID (and multixact) age per
  table and per database against wraparound, and sequences near their maximum
  (that of the column they feed, when it is smaller).
* :func:`settings_review` — server settings worth a look, each with the reason.
* :func:`replication_report` — standbys and their lag, replication slots and the
  WAL they hold back; a standby's own replay delay.

Everything is read from the catalogs and statistics views: nothing is written,
no table is scanned.
"""

from __future__ import annotations

from datetime import datetime, timezone

from .connection import ServerSpec, connection, fetch_dicts

WRAPAROUND = 2**31  # transaction IDs a database can age before PostgreSQL stops writes
MIN_STATS_DAYS = 7  # statistics younger than this cannot call an index unused
SEQUENCE_WARNING = 0.75  # share of its range a sequence may use before it is flagged
TYPE_MAX = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": 2**63 - 1}

_INDEXES = """
SELECT n.nspname AS schema, t.relname AS table_name, i.relname AS name, am.amname AS method,
       x.indisunique AS is_unique, x.indisprimary AS is_primary, x.indisvalid AS is_valid,
       EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
           AS backs_constraint,
       x.indkey::int2[] AS keys, x.indclass::oid[] AS opclasses,
       pg_get_expr(x.indexprs, x.indrelid) AS expressions,
       pg_get_expr(x.indpred, x.indrelid) AS predicate,
       pg_get_indexdef(x.indexrelid) AS definition,
       pg_relation_size(x.indexrelid) AS bytes, coalesce(s.idx_scan, 0) AS scans
  FROM pg_index x
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_class t ON t.oid = x.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
  JOIN pg_am am ON am.oid = i.relam
  LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = x.indexrelid
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
 ORDER BY n.nspname, t.relname, i.relname
"""

_TABLE_USAGE = """
SELECT schemaname AS schema, relname AS table_name, seq_scan, coalesce(idx_scan, 0) AS idx_scan,
       n_live_tup AS live_rows
  FROM pg_stat_user_tables
 ORDER BY seq_scan DESC
"""

_STATS_SINCE = """
SELECT now(), d.stats_reset, pg_postmaster_start_time()
  FROM pg_stat_database d WHERE d.datname = current_database()
"""


def index_report(spec: ServerSpec, database: str, *, watched_since: datetime | None = None) -> dict:
    """Indexes of ``database``: all of them, and the duplicate, redundant, invalid and
    unused ones, with the age of the statistics the last judgement rests on.

    :param watched_since: since when the caller knows the database (a control plane
        registered it then); statistics count from the latest of that and their reset,
        or else from the server's start
    """
    with connection(spec.for_database(database)) as conn, conn.cursor() as cur:
        indexes = fetch_dicts(cur, _INDEXES)
        tables = fetch_dicts(cur, _TABLE_USAGE)
        cur.execute(_STATS_SINCE)
        now, reset, started = cur.fetchone()
    if watched_since is not None and watched_since.tzinfo is None:
        watched_since = watched_since.replace(tzinfo=timezone.utc)  # naive means UTC
    known = [moment for moment in (reset, watched_since) if moment is not None]
    stats_days = (now - max(known or [started])).total_seconds() / 86400
    for table in tables:
        scans = table["seq_scan"] + table["idx_scan"]
        table["index_usage_pct"] = round(100.0 * table["idx_scan"] / scans, 1) if scans else None
    conclusive = stats_days >= MIN_STATS_DAYS
    unused = [
        i for i in indexes
        if i["scans"] == 0 and not (i["is_unique"] or i["is_primary"] or i["backs_constraint"])
    ]  # fmt: skip
    valid = [i for i in indexes if i["is_valid"]]  # an invalid index serves no search
    return {
        "indexes": [_public(i) for i in indexes],
        "duplicates": _duplicates(valid),
        "redundant": _redundant(valid),
        "invalid": [_public(i) for i in indexes if not i["is_valid"]],
        "unused": [_public(i) for i in unused] if conclusive else [],
        "stats_days": round(stats_days, 2),
        "unused_conclusive": conclusive,
        "tables": tables,
    }


def _public(index: dict) -> dict:
    return {k: v for k, v in index.items() if k not in ("keys", "opclasses")}


def _same_shape(a: dict, b: dict) -> bool:
    return (a["schema"], a["table_name"], a["method"], a["expressions"], a["predicate"]) == (
        b["schema"], b["table_name"], b["method"], b["expressions"], b["predicate"],
    )  # fmt: skip


def _droppable(index: dict) -> bool:
    return not (index["is_primary"] or index["backs_constraint"])


def _duplicates(indexes: list[dict]) -> list[dict]:
    """Pairs of indexes that are the same index twice: the one to drop is the one that
    enforces less (a plain index beside a unique one), else the second."""
    found = []
    for n, a in enumerate(indexes):
        for b in indexes[n + 1 :]:
            if _same_shape(a, b) and (a["keys"], a["opclasses"]) == (b["keys"], b["opclasses"]):
                drop, keep = (a, b) if _enforces(a) < _enforces(b) else (b, a)
                if _droppable(drop):
                    found.append(_pair(drop, keep, "the same columns, method and condition"))
    return found


def _enforces(index: dict) -> tuple[bool, bool, bool]:
    return index["is_primary"], index["backs_constraint"], index["is_unique"]


def _redundant(indexes: list[dict]) -> list[dict]:
    """Btree indexes whose columns are the leading columns of another btree index of the
    same table (and condition): the longer one serves their searches too."""
    found = []
    for a in indexes:
        if a["method"] != "btree" or a["is_unique"] or not _droppable(a) or a["expressions"]:
            continue
        for b in indexes:
            if b is a or not _same_shape(a, b) or len(b["keys"]) <= len(a["keys"]):
                continue
            n = len(a["keys"])
            if b["keys"][:n] == a["keys"] and b["opclasses"][:n] == a["opclasses"]:
                found.append(_pair(a, b, "its columns begin the other index"))
                break
    return found


def _pair(drop: dict, keep: dict, why: str) -> dict:
    return {
        "table_name": drop["table_name"],
        "index": drop["name"],
        "covered_by": keep["name"],
        "bytes": drop["bytes"],
        "why": why,
        "definition": drop["definition"],
        "covered_by_definition": keep["definition"],
    }


# --- vacuum, wraparound, sequences ---------------------------------------------------

# autovacuum's own thresholds: a table's storage parameters, else the server's settings
_VACUUM = """
WITH t AS (
    SELECT s.*, c.relfrozenxid, c.relminmxid, greatest(c.reltuples, 0) AS tuples,
           (SELECT option_value::float8 FROM pg_options_to_table(c.reloptions)
             WHERE option_name = 'autovacuum_vacuum_threshold') AS vt,
           (SELECT option_value::float8 FROM pg_options_to_table(c.reloptions)
             WHERE option_name = 'autovacuum_vacuum_scale_factor') AS vs,
           (SELECT option_value::float8 FROM pg_options_to_table(c.reloptions)
             WHERE option_name = 'autovacuum_analyze_threshold') AS at,
           (SELECT option_value::float8 FROM pg_options_to_table(c.reloptions)
             WHERE option_name = 'autovacuum_analyze_scale_factor') AS ascale
      FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid)
SELECT schemaname AS schema, relname AS table_name, n_live_tup AS live_rows,
       n_dead_tup AS dead_rows, n_mod_since_analyze AS changed_since_analyze,
       last_vacuum, last_autovacuum, last_analyze, last_autoanalyze,
       vacuum_count + autovacuum_count AS vacuums,
       age(relfrozenxid) AS xid_age, mxid_age(relminmxid) AS mxid_age,
       coalesce(vt, current_setting('autovacuum_vacuum_threshold')::float8)
         + coalesce(vs, current_setting('autovacuum_vacuum_scale_factor')::float8) * tuples
           AS vacuum_threshold,
       coalesce(at, current_setting('autovacuum_analyze_threshold')::float8)
         + coalesce(ascale, current_setting('autovacuum_analyze_scale_factor')::float8) * tuples
           AS analyze_threshold
  FROM t
 ORDER BY age(relfrozenxid) DESC
"""

_DATABASES = """
SELECT datname AS database, age(datfrozenxid) AS xid_age, mxid_age(datminmxid) AS mxid_age,
       current_setting('autovacuum_freeze_max_age')::bigint AS freeze_max_age
  FROM pg_database WHERE datallowconn OR datname = current_database()
 ORDER BY age(datfrozenxid) DESC
"""

# the column a sequence feeds (an Odoo id is an integer even when its sequence is bigint)
_SEQUENCES = """
SELECT s.schemaname AS schema, s.sequencename AS name, s.data_type::text AS sequence_type,
       s.last_value, s.min_value, s.max_value, s.increment_by, s.cycle,
       col.relname AS table_name, a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS column_type
  FROM pg_sequences s
  JOIN pg_class seq ON seq.relname = s.sequencename
  JOIN pg_namespace n ON n.oid = seq.relnamespace AND n.nspname = s.schemaname
  LEFT JOIN pg_depend d ON d.objid = seq.oid AND d.classid = 'pg_class'::regclass
                       AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
  LEFT JOIN pg_class col ON col.oid = d.refobjid
  LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
"""


def vacuum_report(spec: ServerSpec, database: str) -> dict:
    """Vacuum and analyze state of ``database``'s tables, wraparound age of every
    database on the server, and sequences running out of values."""
    with connection(spec.for_database(database)) as conn, conn.cursor() as cur:
        tables = fetch_dicts(cur, _VACUUM)
        databases = fetch_dicts(cur, _DATABASES)
        sequences = fetch_dicts(cur, _SEQUENCES)
    for table in tables:
        table["vacuum_overdue"] = table["dead_rows"] > table["vacuum_threshold"]
        table["analyze_overdue"] = table["changed_since_analyze"] > table["analyze_threshold"]
        table["wraparound_pct"] = 100.0 * table["xid_age"] / WRAPAROUND
    for entry in databases:
        entry["wraparound_pct"] = 100.0 * entry["xid_age"] / WRAPAROUND
        entry["freeze_max_age_pct"] = round(100.0 * entry["xid_age"] / entry["freeze_max_age"], 1)
    return {
        "tables": tables,
        "overdue": [t for t in tables if t["vacuum_overdue"] or t["analyze_overdue"]],
        "databases": databases,
        "sequences": [_sequence_use(s) for s in sequences],
        "sequences_near_max": [
            s for s in map(_sequence_use, sequences) if s["used_pct"] >= 100 * SEQUENCE_WARNING
        ],
    }


def _sequence_use(seq: dict) -> dict:
    """How much of its range a sequence has used: up to the smaller of its own maximum
    and the maximum of the column it feeds."""
    limit = seq["max_value"]
    column_max = TYPE_MAX.get(seq["column_type"] or "")
    if column_max is not None and column_max < limit:
        limit = column_max
    used = (seq["last_value"] or seq["min_value"]) - seq["min_value"]
    span = limit - seq["min_value"] or 1
    return {**seq, "limit": limit, "used_pct": round(100.0 * used / span, 2)}


# --- settings ------------------------------------------------------------------------

_SETTINGS = """
SELECT name, setting, unit, boot_val, source FROM pg_settings WHERE name = ANY(%s)
"""
_REVIEWED = (
    "shared_buffers", "effective_cache_size", "work_mem", "maintenance_work_mem",
    "random_page_cost", "track_io_timing", "log_min_duration_statement",
    "idle_in_transaction_session_timeout", "autovacuum", "max_connections", "max_wal_size",
    "pg_stat_statements.max",
)  # fmt: skip


def settings_review(spec: ServerSpec) -> list[dict]:
    """Settings worth a look, each with a status (``ok``, ``review``, ``warning``) and why."""
    with connection(spec) as conn, conn.cursor() as cur:
        settings = {row["name"]: row for row in fetch_dicts(cur, _SETTINGS, (list(_REVIEWED),))}
        facts = _server_facts(cur)
    return [review for name in _REVIEWED if (review := _review(name, settings, facts))]


def _server_facts(cur) -> dict:
    cur.execute("SELECT current_setting('server_version_num')::int")
    version = cur.fetchone()[0]
    cur.execute("SELECT coalesce(sum(temp_bytes), 0), coalesce(sum(temp_files), 0)"
                " FROM pg_stat_database")  # fmt: skip
    temp_bytes, temp_files = cur.fetchone()
    checkpointer = "pg_stat_checkpointer" if version >= 170000 else "pg_stat_bgwriter"
    requested = "num_requested" if version >= 170000 else "checkpoints_req"
    timed = "num_timed" if version >= 170000 else "checkpoints_timed"
    cur.execute(f"SELECT {requested}, {timed} FROM {checkpointer}")  # noqa: S608 - fixed names
    checkpoints_requested, checkpoints_timed = cur.fetchone()
    dealloc = None
    if version >= 140000:
        cur.execute("SELECT to_regclass('pg_stat_statements_info') IS NOT NULL")
        if cur.fetchone()[0]:
            cur.execute("SELECT dealloc FROM pg_stat_statements_info")
            dealloc = cur.fetchone()[0]
    return {
        "temp_bytes": temp_bytes, "temp_files": temp_files, "dealloc": dealloc,
        "checkpoints_requested": checkpoints_requested, "checkpoints_timed": checkpoints_timed,
    }  # fmt: skip


def _review(name: str, settings: dict, facts: dict) -> dict | None:
    row = settings.get(name)
    if row is None:
        return None
    value = row["setting"] + (row["unit"] or "")
    at_default = row["source"] == "default"
    status, reason = _RULES[name](row, facts, at_default)
    return {"name": name, "value": value, "status": status, "reason": reason}


def _memory(row) -> int:
    """A memory setting in bytes (``setting`` counts ``unit``s: 8kB pages, kB, MB)."""
    units = {"8kB": 8192, "kB": 1024, "MB": 1024**2, "B": 1}
    return int(row["setting"]) * units.get(row["unit"] or "B", 1)


def _shared_buffers(row, _facts, _default):
    if _memory(row) <= 128 * 1024**2:
        return "review", "128 MB is the installation default; about 25 % of RAM is usual."
    return "ok", "Above the installation default."


def _effective_cache_size(row, _facts, default):
    if default:
        return (
            "review",
            "Still the default; set it to 50 to 75 % of RAM so the planner uses indexes.",
        )
    return "ok", "Set by the administrator."


def _work_mem(_row, facts, _default):
    if facts["temp_files"]:
        gib = facts["temp_bytes"] / 1024**3
        return "review", (
            f"{facts['temp_files']} temporary files ({gib:.1f} GiB) were written since the "
            "statistics reset: sorts and hashes spill to disk; raise work_mem for the queries "
            "concerned (per operation, per connection: mind max_connections)."
        )
    return "ok", "No temporary files were written."


def _maintenance_work_mem(row, _facts, _default):
    if _memory(row) <= 64 * 1024**2:
        return "review", "64 MB slows index builds and vacuum; 256 MB to 1 GB is usual."
    return "ok", "Above the installation default."


def _random_page_cost(row, _facts, _default):
    if float(row["setting"]) >= 4:
        return "review", "4 assumes spinning disks; on SSD or NVMe storage 1.1 is usual."
    return "ok", "Tuned for fast storage."


def _track_io_timing(row, _facts, _default):
    if row["setting"] == "off":
        return "review", "On, statements report the time they spent reading and writing blocks."
    return "ok", "I/O time is tracked."


def _log_min_duration_statement(row, _facts, _default):
    if int(row["setting"]) < 0:
        return "review", "Off: slow statements are not logged; e.g. 1000 ms logs them."
    return "ok", "Slow statements are logged."


def _idle_in_transaction(row, _facts, _default):
    if int(row["setting"]) == 0:
        return "review", (
            "No limit: a session left idle in a transaction holds its locks and keeps vacuum "
            "from removing dead rows; a few minutes is a common limit."
        )
    return "ok", "Idle transactions are ended."


def _autovacuum(row, _facts, _default):
    if row["setting"] != "on":
        return "warning", "Autovacuum is off: dead rows pile up and wraparound comes closer."
    return "ok", "Autovacuum runs."


def _max_connections(row, _facts, _default):
    if int(row["setting"]) > 200:
        return "review", "Many connections cost memory each; a connection pooler serves better."
    return "ok", "A moderate number of connections."


def _max_wal_size(_row, facts, _default):
    if facts["checkpoints_requested"] > facts["checkpoints_timed"]:
        return "review", (
            f"{facts['checkpoints_requested']} checkpoints were forced by WAL volume against "
            f"{facts['checkpoints_timed']} on schedule: raise max_wal_size."
        )
    return "ok", "Checkpoints mostly happen on schedule."


def _pgss_max(_row, facts, _default):
    if facts["dealloc"]:
        return "warning", (
            f"pg_stat_statements evicted the least-used entries {facts['dealloc']} times since "
            "its reset: their figures are lower bounds; raise pg_stat_statements.max."
        )
    return "ok", "No statement entry had to be evicted."


_RULES = {
    "shared_buffers": _shared_buffers,
    "effective_cache_size": _effective_cache_size,
    "work_mem": _work_mem,
    "maintenance_work_mem": _maintenance_work_mem,
    "random_page_cost": _random_page_cost,
    "track_io_timing": _track_io_timing,
    "log_min_duration_statement": _log_min_duration_statement,
    "idle_in_transaction_session_timeout": _idle_in_transaction,
    "autovacuum": _autovacuum,
    "max_connections": _max_connections,
    "max_wal_size": _max_wal_size,
    "pg_stat_statements.max": _pgss_max,
}


# --- replication ---------------------------------------------------------------------

_STANDBYS = """
SELECT application_name, client_addr::text, state, sync_state,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) AS replay_lag_bytes,
       extract(epoch FROM write_lag) AS write_lag_seconds,
       extract(epoch FROM flush_lag) AS flush_lag_seconds,
       extract(epoch FROM replay_lag) AS replay_lag_seconds
  FROM pg_stat_replication ORDER BY application_name
"""
_SLOTS = """
SELECT slot_name, slot_type, database, active,
       pg_wal_lsn_diff({position}, restart_lsn) AS retained_bytes
  FROM pg_replication_slots ORDER BY slot_name
"""


def replication_report(spec: ServerSpec) -> dict:
    """Standbys and slots of a primary, or a standby's replay delay (empty lists: none)."""
    with connection(spec) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_is_in_recovery()")
        standby = cur.fetchone()[0]
        position = "pg_last_wal_replay_lsn()" if standby else "pg_current_wal_lsn()"
        slots = fetch_dicts(cur, _SLOTS.format(position=position))
        report = {"is_standby": standby, "standbys": [], "slots": slots, "replay_delay": None}
        if standby:
            cur.execute("SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())")
            report["replay_delay"] = cur.fetchone()[0]
        else:
            report["standbys"] = fetch_dicts(cur, _STANDBYS)
    report["read_at"] = datetime.now(timezone.utc).isoformat()
    return report
