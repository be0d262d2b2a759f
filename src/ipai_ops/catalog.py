"""Sizes, tables and indexes of one database: what grows, what is bloated, what is unused."""

from __future__ import annotations

import os

from .connection import ServerSpec, connection, fetch_dicts

# ranked by the planner's page counts (no file access), measured exactly for the top ones only
_TABLES = """
WITH ranked AS (
    SELECT s.*
      FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
     ORDER BY c.relpages DESC
     LIMIT %(limit)s * 2)
SELECT relname AS name, schemaname AS schema,
       pg_total_relation_size(relid) AS total_bytes, pg_relation_size(relid) AS table_bytes,
       n_live_tup AS live_rows, n_dead_tup AS dead_rows,
       seq_scan, coalesce(idx_scan, 0) AS idx_scan, last_autovacuum
  FROM ranked
 ORDER BY pg_total_relation_size(relid) DESC
 LIMIT %(limit)s
"""

_UNUSED_INDEXES = """
SELECT s.indexrelname AS name, s.relname AS table_name, pg_relation_size(s.indexrelid) AS bytes,
       s.idx_scan
  FROM pg_stat_user_indexes s
  JOIN pg_index i ON i.indexrelid = s.indexrelid
 WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary
 ORDER BY pg_relation_size(s.indexrelid) DESC
 LIMIT %(limit)s
"""


def database_report(spec: ServerSpec, database: str, *, limit: int = 50) -> dict:
    """Size, largest tables (with dead-row bloat), unused indexes, seq-scan-heavy tables."""
    with connection(spec.for_database(database)) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_database_size(current_database())")
        size = cur.fetchone()[0]
        tables = fetch_dicts(cur, _TABLES, {"limit": limit})
        unused = fetch_dicts(cur, _UNUSED_INDEXES, {"limit": limit})
    for table in tables:
        rows = table["live_rows"] + table["dead_rows"]
        table["bloat_ratio"] = round(table["dead_rows"] / rows, 3) if rows else 0.0
    seq_heavy = [t for t in tables if t["seq_scan"] > t["idx_scan"] and t["live_rows"] >= 10_000]
    return {
        "size_bytes": size,
        "tables": tables,
        "unused_indexes": unused,
        "seq_scan_heavy": seq_heavy,
    }


def filestore_bytes(path: str) -> int:
    """Bytes of a filestore directory (apparent size)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                continue  # removed by Odoo's garbage collector meanwhile
    return total
