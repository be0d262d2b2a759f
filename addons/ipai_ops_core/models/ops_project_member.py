from odoo import fields, models

from ..roles import ROLES


class IpaiOpsProjectMember(models.Model):
    """A user's role in one project (Odoo.sh's collaborator levels)."""

    _name = "ipai.ops.project.member"
    _description = "Operations: project member"
    _order = "project_id, role desc, id"

    project_id = fields.Many2one("ipai.ops.project", required=True, ondelete="cascade", index=True)
    user_id = fields.Many2one("res.users", required=True, ondelete="cascade", index=True)
    role = fields.Selection(
        ROLES,
        required=True,
        default="viewer",
        help="Viewer: sees the project. Developer: acts on development environments. "
        "Tester: also on staging. Admin: on everything, production and membership included.",
    )

    _project_user_uniq = models.Constraint(
        "UNIQUE(project_id, user_id)", "This user is already a member of the project."
    )
