-- pg_stat_statements of PostgreSQL 13 (extension 1.8): total_time became total_exec_time,
-- planning time is separate; still no toplevel column.
SELECT s.userid, s.dbid, s.queryid, true AS toplevel, s.calls,
       s.total_exec_time AS total_ms, s.max_exec_time AS max_ms, s.rows,
       s.shared_blks_hit, s.shared_blks_read, s.temp_blks_written,
       s.min_exec_time AS min_ms, NULL::timestamptz AS stats_since,
       CASE WHEN %(with_text)s THEN s.query END AS query
  FROM pg_stat_statements s
  JOIN pg_database d ON d.oid = s.dbid
 WHERE d.datname = %(database)s AND s.queryid IS NOT NULL
