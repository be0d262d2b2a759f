import re

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ipai_ops.mask import STRATEGIES, MaskRule

IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class IpaiOpsMaskRule(models.Model):
    """How one column of personal data is masked in staging and development copies."""

    _name = "ipai.ops.mask.rule"
    _description = "Operations: masking rule"
    _order = "sequence, id"

    sequence = fields.Integer(default=100)
    active = fields.Boolean(default=True)
    table_name = fields.Char(string="Table", required=True)
    column_name = fields.Char(string="Column", required=True)
    strategy = fields.Selection(
        [(s, s.replace("_", " ").capitalize()) for s in STRATEGIES],
        required=True,
        default="null",
        help="email: hashed address; name: fake name; phone: fake number; null: emptied; "
        "fixed: the value below; keep: left as is.",
    )
    condition = fields.Char(
        help="SQL condition limiting the rows masked, e.g. id <> 2 (administrators only)."
    )
    value = fields.Char(help="The value written by the fixed strategy.")

    @api.constrains("table_name", "column_name")
    def _check_identifiers(self):
        for rule in self:
            for name in (rule.table_name, rule.column_name):
                if not IDENTIFIER.fullmatch(name or ""):
                    raise ValidationError(
                        self.env._("%(name)r is not a plain table or column name.", name=name)
                    )

    def _engine_rules(self) -> list[MaskRule]:
        return [
            MaskRule(
                rule.table_name,
                rule.column_name,
                rule.strategy,
                rule.condition or None,
                rule.value or None,
            )
            for rule in self.sudo().search([])
        ]
