-- pg_stat_statements of PostgreSQL 12 (extension 1.7): times are total_time/max_time,
-- no toplevel column. One row per statement of the given database, cumulative counters.
SELECT s.userid, s.dbid, s.queryid, true AS toplevel, s.calls,
       s.total_time AS total_ms, s.max_time AS max_ms, s.rows,
       s.shared_blks_hit, s.shared_blks_read, s.temp_blks_written,
       s.min_time AS min_ms, NULL::timestamptz AS stats_since,
       CASE WHEN %(with_text)s THEN s.query END AS query
  FROM pg_stat_statements s
  JOIN pg_database d ON d.oid = s.dbid
 WHERE d.datname = %(database)s AND s.queryid IS NOT NULL
