import logging

from odoo import fields, models, tools
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# pg_stat_statements' time columns were renamed in PostgreSQL 13
_TIMES = {
    True: SQL(
        "s.total_exec_time AS total_ms, s.mean_exec_time AS mean_ms, s.max_exec_time AS max_ms"
    ),
    False: SQL("s.total_time AS total_ms, s.mean_time AS mean_ms, s.max_time AS max_ms"),
}


class IpaiOpsPgssLive(models.Model):
    """pg_stat_statements of the server hosting this Odoo, as it is right now.

    A read-only SQL view. It installs, and answers (with no rows), whether or not
    the extension exists in this database; ``available`` says which.
    """

    _name = "ipai.ops.pgss.live"
    _description = "Operations: live statements of this server"
    _auto = False
    _order = "total_ms desc"

    database = fields.Char(readonly=True)
    role = fields.Char(readonly=True)
    query = fields.Text(readonly=True)
    calls = fields.Float(readonly=True)
    total_ms = fields.Float(string="Total time (ms)", readonly=True)
    mean_ms = fields.Float(string="Mean time (ms)", readonly=True)
    max_ms = fields.Float(string="Max time (ms)", readonly=True)
    rows = fields.Float(readonly=True)
    hit_ratio = fields.Float(string="Cache hit (%)", readonly=True)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
        if self.env.cr.fetchone():
            self.env.cr.execute(SQL(
                """
                CREATE VIEW %(view)s AS
                SELECT row_number() OVER () AS id, d.datname AS database, r.rolname AS role,
                       s.query, s.calls::float, %(times)s, s.rows::float,
                       CASE WHEN s.shared_blks_hit + s.shared_blks_read = 0 THEN 100
                            ELSE 100.0 * s.shared_blks_hit
                                 / (s.shared_blks_hit + s.shared_blks_read) END AS hit_ratio
                  FROM pg_stat_statements s
                  LEFT JOIN pg_database d ON d.oid = s.dbid
                  LEFT JOIN pg_roles r ON r.oid = s.userid
                """,
                view=SQL.identifier(self._table),
                times=_TIMES[self.env.cr.connection.server_version >= 130000],
            ))  # fmt: skip
            return
        _logger.info("pg_stat_statements is not installed here: %s stays empty", self._table)
        self.env.cr.execute(SQL(
            """
            CREATE VIEW %(view)s AS
            SELECT 0::bigint AS id, NULL::name AS database, NULL::name AS role, NULL::text AS query,
                   0::float AS calls, 0::float AS total_ms, 0::float AS mean_ms,
                   0::float AS max_ms, 0::float AS rows, 0::float AS hit_ratio
             WHERE false
            """,
            view=SQL.identifier(self._table),
        ))  # fmt: skip

    def _available(self) -> bool:
        self.env.cr.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
        return bool(self.env.cr.fetchone())
