-- pg_stat_statements of PostgreSQL 14-16 (extension 1.9+): toplevel distinguishes statements
-- run inside functions; pg_stat_statements_info (read separately) says when stats were reset.
SELECT s.userid, s.dbid, s.queryid, s.toplevel, s.calls,
       s.total_exec_time AS total_ms, s.max_exec_time AS max_ms, s.rows,
       s.shared_blks_hit, s.shared_blks_read, s.temp_blks_written,
       s.min_exec_time AS min_ms, NULL::timestamptz AS stats_since,
       CASE WHEN %(with_text)s THEN s.query END AS query
  FROM pg_stat_statements s
  JOIN pg_database d ON d.oid = s.dbid
 WHERE d.datname = %(database)s AND s.queryid IS NOT NULL
