from odoo import api, models

from .ops_field_policy import context_defaults


class IpaiOpsWizardAccess(models.AbstractModel):
    """A wizard that checks every record it is given.

    A wizard field's ``domain`` only filters what the form offers; an RPC call can
    pass any id. Each many2one value a wizard receives is checked for read access
    as the current user before it is stored, so a wizard can neither act on nor
    reveal (through its related and computed fields) a record its user cannot read.
    """

    _name = "ipai.ops.wizard.access"
    _description = "Operations: wizard checking the records it is given"

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_given_records(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._check_given_records(vals)
        return super().write(vals)

    def _check_given_records(self, vals: dict) -> None:
        if self.env.su:
            return
        for name, value in {**context_defaults(self), **vals}.items():
            field = self._fields.get(name)
            if field and field.type == "many2one" and not field.related and value:
                self.env[field.comodel_name].browse(value).check_access("read")
