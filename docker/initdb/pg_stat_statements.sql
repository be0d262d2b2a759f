-- Run once, when the PostgreSQL of docker-compose.yml initializes its data directory:
-- pg_stat_statements is preloaded by the server's command line; the extension in the
-- maintenance database lets ipai-ops read statistics of every database from there.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
