from odoo import fields, models


class IpaiOpsSizeSample(models.Model):
    """The size of an environment's database and filestore at one moment."""

    _name = "ipai.ops.size.sample"
    _description = "Operations: size sample"
    _order = "taken_at desc"

    environment_id = fields.Many2one(
        "ipai.ops.environment", required=True, ondelete="cascade", index=True
    )
    project_id = fields.Many2one(related="environment_id.project_id", store=True, index=True)
    taken_at = fields.Datetime(required=True, index=True)
    database_mb = fields.Float(string="Database (MiB)", aggregator="max")
    filestore_mb = fields.Float(string="Filestore (MiB)", aggregator="max")
    connections = fields.Integer(aggregator="max")
    cache_hit_pct = fields.Float(string="Cache hit (%)", aggregator="avg")
