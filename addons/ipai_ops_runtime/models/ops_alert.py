from odoo import fields, models


class IpaiOpsAlert(models.Model):
    _inherit = "ipai.ops.alert"

    condition = fields.Selection(
        selection_add=[("instance_down", "Instance down"),
                       ("host_service_down", "Runtime host service down")],
        ondelete={"instance_down": "cascade", "host_service_down": "cascade"},
    )  # fmt: skip
