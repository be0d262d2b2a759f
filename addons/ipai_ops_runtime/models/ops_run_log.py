from odoo import fields, models


class IpaiOpsRunLog(models.Model):
    """The whole log an instance operation kept: a deploy's startup, an update's ``-u``,
    what failed. It can quote the environment's data, so it is read only through
    :meth:`ipai.ops.run._instance_log_text`, by those who may operate the environment
    (operations administrators may also read the records)."""

    _name = "ipai.ops.run.log"
    _description = "Operations: the log of an instance operation"
    _order = "id"

    run_id = fields.Many2one(
        "ipai.ops.run", required=True, readonly=True, ondelete="cascade", index=True
    )
    name = fields.Char(required=True, readonly=True)
    text = fields.Text(readonly=True)
