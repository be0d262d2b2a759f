from odoo import fields, models


class IpaiOpsPgssQuery(models.Model):
    """A normalized statement text of an environment's database.

    Texts can hold personal data (literals in ad-hoc queries): only operations
    administrators and the project's testers and admins may read them; viewers
    and developers see the numbers of ``ipai.ops.pgss.delta`` only.
    """

    _name = "ipai.ops.pgss.query"
    _description = "Operations: statement text"
    _rec_name = "queryid"

    environment_id = fields.Many2one(
        "ipai.ops.environment", required=True, ondelete="cascade", index=True
    )
    project_id = fields.Many2one(related="environment_id.project_id", store=True, index=True)
    queryid = fields.Char(required=True, help="PostgreSQL's queryid (a 64-bit integer).")
    text = fields.Text()

    _env_query_uniq = models.Constraint(
        "UNIQUE(environment_id, queryid)", "A statement is recorded once per environment."
    )
