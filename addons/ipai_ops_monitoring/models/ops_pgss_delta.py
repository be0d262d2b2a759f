from odoo import fields, models


class IpaiOpsPgssDelta(models.Model):
    """What one statement did between two samples (``granularity = sample``), or in one
    day (``day``: kept after the samples are purged)."""

    _name = "ipai.ops.pgss.delta"
    _description = "Operations: statement statistics"
    _order = "taken_at desc"
    _log_access = False  # millions of rows: no create/write audit columns

    # no single-column indexes: every snapshot inserts thousands of rows, and the window
    # index below serves every read (by environment, granularity and time)
    environment_id = fields.Many2one("ipai.ops.environment", required=True, ondelete="cascade")
    project_id = fields.Many2one(related="environment_id.project_id", store=True)
    granularity = fields.Selection([("sample", "Sample"), ("day", "Day")], required=True)
    taken_at = fields.Datetime(required=True)
    queryid = fields.Char(required=True)
    calls = fields.Float()
    total_ms = fields.Float(string="Total time (ms)")
    max_ms = fields.Float(string="Max time (ms)")
    rows = fields.Float()
    shared_blks_hit = fields.Float()
    shared_blks_read = fields.Float()
    temp_blks_written = fields.Float()

    _window_idx = models.Index("(environment_id, granularity, taken_at)")
    _day_uniq = models.UniqueIndex(
        "(environment_id, queryid, taken_at) WHERE granularity = 'day'",
        "One daily total per statement and day.",
    )
