from odoo import fields, models
from odoo.fields import Command

from ipai_ops.catalog import database_report

from .reopen import reopen


class IpaiOpsTablesReport(models.TransientModel):
    """Largest tables with their dead-row bloat, tables read mostly by sequential scans,
    and indexes never used — what to vacuum, index or drop."""

    _name = "ipai.ops.tables.report"
    _inherit = ["ipai.ops.wizard.access"]
    _description = "Operations: tables and indexes"

    environment_id = fields.Many2one("ipai.ops.environment", required=True)
    database_mb = fields.Float(string="Database (MiB)", readonly=True)
    table_ids = fields.One2many("ipai.ops.tables.report.table", "report_id")
    index_ids = fields.One2many("ipai.ops.tables.report.index", "report_id")

    def action_refresh(self):
        self.ensure_one()
        self.environment_id.check_access("read")
        environment = self.environment_id.sudo()
        found = database_report(environment._engine_spec(), environment.database_name)
        seq_heavy = {t["name"] for t in found["seq_scan_heavy"]}
        self.table_ids.unlink()
        self.index_ids.unlink()
        self.write(
            {
                "database_mb": found["size_bytes"] / 1024**2,
                "table_ids": [
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
                ],
                "index_ids": [
                    Command.create(
                        {
                            "name": i["name"],
                            "table": i["table_name"],
                            "size_mb": i["bytes"] / 1024**2,
                        }
                    )
                    for i in found["unused_indexes"]
                ],
            }
        )
        return reopen(self)


class IpaiOpsTablesReportTable(models.TransientModel):
    _name = "ipai.ops.tables.report.table"
    _description = "Operations: table"
    _order = "total_mb desc"

    report_id = fields.Many2one("ipai.ops.tables.report", required=True, ondelete="cascade")
    name = fields.Char()
    total_mb = fields.Float(string="Size with indexes (MiB)")
    live_rows = fields.Float()
    dead_rows = fields.Float()
    bloat_pct = fields.Float(string="Dead rows (%)")
    seq_scan = fields.Float(string="Sequential scans")
    idx_scan = fields.Float(string="Index scans")
    seq_scan_heavy = fields.Boolean(string="Mostly sequential scans")


class IpaiOpsTablesReportIndex(models.TransientModel):
    _name = "ipai.ops.tables.report.index"
    _description = "Operations: unused index"
    _order = "size_mb desc"

    report_id = fields.Many2one("ipai.ops.tables.report", required=True, ondelete="cascade")
    name = fields.Char()
    table = fields.Char()
    size_mb = fields.Float(string="Size (MiB)")
