import json

import psycopg2

from odoo import fields, models
from odoo.exceptions import UserError

from ipai_ops.errors import OpsError
from ipai_ops.index_advice import explain_on


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
    plan = fields.Text(readonly=True, help="The statement's generic plan, as EXPLAIN gave it.")
    plan_at = fields.Datetime(string="Explained on", readonly=True)
    plan_database = fields.Char(string="Explained in", readonly=True)
    plan_values = fields.Text(
        string="Planned for", readonly=True, help="The values the plan was made for, one per "
        "parameter; empty: the generic plan, for any values.",
    )  # fmt: skip

    _env_query_uniq = models.Constraint(
        "UNIQUE(environment_id, queryid)", "A statement is recorded once per environment."
    )

    def _explain_in(self, environment, values: list[str] | None = None) -> None:
        """Store the plan of this statement as ``environment``'s database plans it (a
        copy: see ``ipai.ops.environment._explain_target``) — the generic plan, or the one
        for ``values``. Planned, never run, in a read-only transaction."""
        self.ensure_one()
        target = environment.sudo()
        target._refuse_control_plane()
        try:
            plan = explain_on(
                target.server_id._engine_spec(), target.database_name, self.text or "", values,
                as_role=target._copy_login(),
            )  # fmt: skip
        except (OpsError, psycopg2.Error) as error:  # a value of the wrong type, say
            raise UserError(str(error).strip()) from error
        self.sudo().write(
            {
                "plan": json.dumps(plan, indent=2),
                "plan_at": fields.Datetime.now(),
                "plan_database": environment.database_name,
                "plan_values": "\n".join(values) if values is not None else False,
            }
        )
