from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.fields import Command

from ipai_ops.catalog import database_report
from ipai_ops.errors import OpsError
from ipai_ops.health import MIN_STATS_DAYS, index_report, vacuum_report
from ipai_ops.index_advice import Suggestion, suggest_indexes, verify_suggestion

from ..models.ops_pgss_delta import utc_naive
from .reopen import reopen, titled

INDEX_FINDINGS = [
    ("unused", "Unused"),
    ("duplicate", "Duplicate"),
    ("redundant", "Redundant"),
    ("invalid", "Invalid"),
]


class IpaiOpsTablesReport(models.TransientModel):
    """The health of an environment's database: largest tables with their dead-row bloat,
    tables read mostly by sequential scans, indexes to drop or rebuild (unused, duplicate,
    redundant, invalid), vacuum and wraparound, sequences running out of values."""

    _name = "ipai.ops.tables.report"
    _inherit = ["ipai.ops.wizard.access"]
    _description = "Operations: tables and indexes"

    environment_id = fields.Many2one("ipai.ops.environment", required=True)

    @api.depends("environment_id")
    def _compute_display_name(self):
        titled(self, self.env._("Tables and indexes"), "environment_id")

    database_mb = fields.Float(string="Database (MiB)", readonly=True)
    xid_age = fields.Integer(
        string="Transaction ID age", readonly=True,
        help="How far the database's oldest unfrozen transaction ID is behind: at 2^31 "
        "PostgreSQL stops accepting writes (wraparound); autovacuum freezes long before.",
    )  # fmt: skip
    wraparound_pct = fields.Float(string="Towards wraparound (%)", readonly=True, digits=(16, 4))
    unused_note = fields.Char(readonly=True)
    table_ids = fields.One2many("ipai.ops.tables.report.table", "report_id")
    index_ids = fields.One2many("ipai.ops.tables.report.index", "report_id")
    vacuum_ids = fields.One2many("ipai.ops.tables.report.vacuum", "report_id")
    sequence_ids = fields.One2many("ipai.ops.tables.report.sequence", "report_id")
    suggestion_ids = fields.One2many("ipai.ops.tables.report.suggestion", "report_id")
    suggestion_note = fields.Char(readonly=True)
    may_see_text = fields.Boolean(compute="_compute_may_see_text")

    @api.depends("environment_id")
    @api.depends_context("uid")
    def _compute_may_see_text(self):
        for report in self:
            report.may_see_text = report.environment_id._sees_statements()

    def action_refresh(self):
        self.ensure_one()
        self.environment_id.check_access("read")
        environment = self.environment_id.sudo()
        spec, database = environment._engine_spec(), environment.database_name
        found = database_report(spec, database)
        # statistics count from the registration at the earliest: no verdict on a new database
        indexes = index_report(spec, database, watched_since=environment.create_date)
        vacuum = vacuum_report(spec, database)
        own = next((d for d in vacuum["databases"] if d["database"] == database), {})
        for lines in (
            self.table_ids,
            self.index_ids,
            self.vacuum_ids,
            self.sequence_ids,
            self.suggestion_ids,
        ):
            lines.unlink()  # fmt: skip
        # pg_stat_statements is read through the server's maintenance database if need be
        suggestions, suggestion_note = self._suggestions(
            environment.server_id._engine_spec(), database
        )
        self.write(
            {
                "database_mb": found["size_bytes"] / 1024**2,
                "xid_age": own.get("xid_age", 0),
                "wraparound_pct": own.get("wraparound_pct", 0.0),
                "unused_note": self._unused_note(indexes),
                "table_ids": self._table_lines(found),
                "index_ids": self._index_lines(indexes),
                "vacuum_ids": [Command.create(_vacuum_line(t)) for t in vacuum["tables"]],
                "sequence_ids": [
                    Command.create(_sequence_line(s)) for s in vacuum["sequences_near_max"]
                ],
                "suggestion_ids": suggestions,
                "suggestion_note": suggestion_note,
            }
        )
        return reopen(self)

    def _suggestions(self, spec, database) -> tuple[list, str | bool]:
        """Missing-index suggestions; their statement texts only for those who may read
        statements. Without pg_stat_statements there are none, and the note says why."""
        try:
            found = suggest_indexes(spec, database)
        except OpsError as error:
            return [], str(error)
        hidden = self.env._("(hidden: tester role needed)")
        lines = [
            Command.create(
                {"table": s.table, "column": s.column, "statements": s.statements,
                 "total_ms": s.total_ms, "example": s.example if self.may_see_text else hidden}
            )
            for s in found
        ]  # fmt: skip
        return lines, False if found else self.env._(
            "No suggestion: no table big enough is read mostly by sequential scans and "
            "filtered by a column no index starts with."
        )

    def _unused_note(self, indexes: dict) -> str | bool:
        if indexes["unused_conclusive"]:
            return False
        return self.env._(
            "Unused indexes are named once the statistics cover %(min)s days; these cover "
            "%(days).1f (since the environment was registered or the statistics were reset).",
            min=MIN_STATS_DAYS,
            days=indexes["stats_days"],
        )

    def _table_lines(self, found: dict) -> list:
        seq_heavy = {t["name"] for t in found["seq_scan_heavy"]}
        return [
            Command.create(
                {
                    "name": f"{t['schema']}.{t['name']}",
                    "total_mb": t["total_bytes"] / 1024**2,
                    "live_rows": t["live_rows"],
                    "dead_rows": t["dead_rows"],
                    "bloat_pct": 100 * t["bloat_ratio"],
                    "seq_scan": t["seq_scan"],
                    "idx_scan": t["idx_scan"],
                    "seq_scan_heavy": t["name"] in seq_heavy,
                }
            )
            for t in found["tables"]
        ]

    def _index_lines(self, indexes: dict) -> list:
        lines = [
            {"finding": finding, "name": i["name"], "table": i["table_name"],
             "size_mb": i["bytes"] / 1024**2, "definition": i["definition"]}
            for finding in ("unused", "invalid") for i in indexes[finding]
        ]  # fmt: skip
        lines += [
            {"finding": finding, "name": p["index"], "table": p["table_name"],
             "size_mb": p["bytes"] / 1024**2, "definition": p["definition"],
             "covered_by": p["covered_by"]}
            for finding, key in (("duplicate", "duplicates"), ("redundant", "redundant"))
            for p in indexes[key]
        ]  # fmt: skip
        return [Command.create(line) for line in lines]


def _vacuum_line(table: dict) -> dict:
    return {
        "name": f"{table['schema']}.{table['table_name']}",
        "dead_rows": table["dead_rows"],
        "last_autovacuum": _when(table["last_autovacuum"] or table["last_vacuum"]),
        "last_autoanalyze": _when(table["last_autoanalyze"] or table["last_analyze"]),
        "xid_age": table["xid_age"],
        "vacuum_overdue": table["vacuum_overdue"],
        "analyze_overdue": table["analyze_overdue"],
    }


def _when(moment):
    return utc_naive(moment) if moment else False


def _sequence_line(seq: dict) -> dict:
    return {
        "name": f"{seq['schema']}.{seq['name']}",
        "feeds": f"{seq['table_name']}.{seq['column_name']}" if seq["table_name"] else False,
        "used_pct": seq["used_pct"],
        "limit": str(seq["limit"]),
    }


class IpaiOpsTablesReportTable(models.TransientModel):
    _name = "ipai.ops.tables.report.table"
    _description = "Operations: table"
    _order = "total_mb desc"

    report_id = fields.Many2one("ipai.ops.tables.report", required=True, ondelete="cascade")
    name = fields.Char()
    total_mb = fields.Float(string="Size with indexes (MiB)")
    live_rows = fields.Float(digits=(16, 0))
    dead_rows = fields.Float(digits=(16, 0))
    bloat_pct = fields.Float(string="Dead rows (%)")
    seq_scan = fields.Float(string="Sequential scans", digits=(16, 0))
    idx_scan = fields.Float(string="Index scans", digits=(16, 0))
    seq_scan_heavy = fields.Boolean(string="Mostly sequential scans")


class IpaiOpsTablesReportIndex(models.TransientModel):
    _name = "ipai.ops.tables.report.index"
    _description = "Operations: index finding"
    _order = "finding, size_mb desc"

    report_id = fields.Many2one("ipai.ops.tables.report", required=True, ondelete="cascade")
    finding = fields.Selection(INDEX_FINDINGS, default="unused", required=True)
    name = fields.Char()
    table = fields.Char()
    size_mb = fields.Float(string="Size (MiB)")
    covered_by = fields.Char(help="The index that already serves what this one does.")
    definition = fields.Char()


class IpaiOpsTablesReportVacuum(models.TransientModel):
    _name = "ipai.ops.tables.report.vacuum"
    _description = "Operations: vacuum state of a table"
    _order = "xid_age desc"

    report_id = fields.Many2one("ipai.ops.tables.report", required=True, ondelete="cascade")
    name = fields.Char()
    dead_rows = fields.Float(digits=(16, 0))
    last_autovacuum = fields.Datetime(string="Last vacuum")
    last_autoanalyze = fields.Datetime(string="Last analyze")
    xid_age = fields.Integer(string="Transaction ID age")
    vacuum_overdue = fields.Boolean(help="More dead rows than autovacuum's threshold.")
    analyze_overdue = fields.Boolean(help="More changed rows than autoanalyze's threshold.")


class IpaiOpsTablesReportSequence(models.TransientModel):
    _name = "ipai.ops.tables.report.sequence"
    _description = "Operations: sequence near its maximum"
    _order = "used_pct desc"

    report_id = fields.Many2one("ipai.ops.tables.report", required=True, ondelete="cascade")
    name = fields.Char()
    feeds = fields.Char(help="The column the sequence gives its values to.")
    used_pct = fields.Float(string="Used (%)")
    limit = fields.Char(help="The smaller of the sequence's maximum and its column's.")


class IpaiOpsTablesReportSuggestion(models.TransientModel):
    """A suggested index: a column the costliest statements filter a sequentially
    scanned table by. A suggestion until "Verify on a copy" shows the plan improve."""

    _name = "ipai.ops.tables.report.suggestion"
    _description = "Operations: suggested index"
    _order = "total_ms desc"

    report_id = fields.Many2one("ipai.ops.tables.report", required=True, ondelete="cascade")
    table = fields.Char()
    column = fields.Char()
    definition = fields.Char(compute="_compute_definition")
    statements = fields.Integer(help="How many of the costliest statements filter by it.")
    total_ms = fields.Float(string="Their time (ms)")
    example = fields.Text(string="Costliest statement")
    verified_on = fields.Char(readonly=True, help="The copy the suggestion was tried on.")
    cost_before = fields.Float(readonly=True, help="The planner's cost without the index.")
    cost_after = fields.Float(readonly=True, help="The planner's cost with the index.")
    helps = fields.Boolean(readonly=True, help="The planner's cost fell with the index.")

    @api.depends("table", "column")
    def _compute_definition(self):
        for line in self:
            line.definition = Suggestion(line.table, line.column, 0, 0.0, "").definition

    def action_verify(self):
        """Build the index in a transaction that is rolled back, on a copy of the
        environment's data (never production), and compare the plans."""
        self.ensure_one()
        environment = self.report_id.environment_id
        environment.check_access("read")
        if not self.report_id.may_see_text:
            raise AccessError(self.env._("Verifying a suggestion needs the tester role."))
        target = environment._explain_target().sudo()
        suggestion = self._current(environment.sudo())
        target._refuse_control_plane()
        found = verify_suggestion(target.server_id._engine_spec(), target.database_name,
                                  suggestion, as_role=target._copy_login())  # fmt: skip
        self.write(
            {"verified_on": target.display_name, "cost_before": found["before_cost"],
             "cost_after": found["after_cost"], "helps": found["helps"]}
        )  # fmt: skip
        return reopen(self.report_id)

    def _current(self, environment) -> Suggestion:
        """This line's suggestion as the server makes it now: the statement tried is the
        server's, never text from the (editable) line."""
        server = environment.server_id._engine_spec()
        for suggestion in suggest_indexes(server, environment.database_name):
            if (suggestion.table, suggestion.column) == (self.table, self.column):
                return suggestion
        raise UserError(
            self.env._("%(table)s.%(column)s is no longer suggested: refresh the report.",
                       table=self.table, column=self.column)
        )  # fmt: skip
