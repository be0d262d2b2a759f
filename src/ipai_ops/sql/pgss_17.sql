-- pg_stat_statements of PostgreSQL 17+ (extension 1.11+): stats_since says when each entry
-- was (re)created, so a reset of one statement or an eviction is seen exactly.
SELECT s.userid, s.dbid, s.queryid, s.toplevel, s.calls,
       s.total_exec_time AS total_ms, s.max_exec_time AS max_ms, s.rows,
       s.shared_blks_hit, s.shared_blks_read, s.temp_blks_written,
       s.min_exec_time AS min_ms, s.stats_since,
       CASE WHEN %(with_text)s THEN s.query END AS query
  FROM pg_stat_statements s
  JOIN pg_database d ON d.oid = s.dbid
 WHERE d.datname = %(database)s AND s.queryid IS NOT NULL
