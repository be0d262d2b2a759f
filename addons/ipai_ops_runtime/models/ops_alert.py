from odoo import fields, models


class IpaiOpsAlert(models.Model):
    _inherit = "ipai.ops.alert"

    condition = fields.Selection(
        selection_add=[("instance_down", "Instance down")], ondelete={"instance_down": "cascade"}
    )
