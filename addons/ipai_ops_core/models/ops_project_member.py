from odoo import Command, api, fields, models
from odoo.exceptions import AccessError, UserError

from ..roles import ROLES


class IpaiOpsProjectMember(models.Model):
    """A user's role in one project (Odoo.sh's collaborator levels).

    Membership decides everything else a user may do, so every change is checked
    here, against the project the row belongs to *before* and *after* the change:
    record rules on ``create`` are evaluated on the new row, and a rule the new row
    satisfies ("a project I am a member of") would check nothing.
    """

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

    @api.model_create_multi
    def create(self, vals_list):
        # checked on the rows as created: a project may also come from a context default
        members = super().create(vals_list)
        members.project_id._check_may_manage_members(ignoring=members)
        members._check_internal_users()
        members._grant_access()
        return members

    def _check_internal_users(self) -> None:
        """Members are internal users: making a portal user a member would make them one."""
        outside = self.user_id.filtered(lambda u: not u.sudo().has_group("base.group_user"))
        if outside:
            raise UserError(
                self.env._(
                    "%(users)s cannot be a project member: only internal users can.",
                    users=", ".join(outside.mapped("name")),
                )
            )

    def _grant_access(self) -> None:
        """Membership is access: the Operations user group comes with it, and the user is
        told (no second step in Settings ▸ Users)."""
        group = self.env.ref("ipai_ops_core.group_ops_user")
        for member in self.sudo():
            user = member.user_id
            if group not in user.group_ids:
                user.write({"group_ids": [Command.link(group.id)],
                            "ipai_ops_access_by_membership": True})  # fmt: skip
            # they land on their projects, not in Discuss
            user._open_on_operations().write({"ipai_ops_home_by_membership": True})
            member.project_id.message_notify(
                partner_ids=member.user_id.partner_id.ids,
                subject=self.env._("You were added to %(project)s", project=member.project_id.name),
                body=self.env._(
                    "You are now %(role)s of project %(project)s in Operations.",
                    role=dict(ROLES)[member.role],
                    project=member.project_id.name,
                ),
            )

    def _revoke_access_of(self, users) -> None:
        """A user whose last membership went loses what membership gave them: the
        Operations user group (unless an administrator gave it, or they are an operations
        administrator) and the Operations home (unless they chose another since)."""
        group = self.env.ref("ipai_ops_core.group_ops_user")
        admins = self.env.ref("ipai_ops_core.group_ops_admin")
        left = (
            self.env["ipai.ops.project.member"]
            .sudo()
            .search([("user_id", "in", users.ids)])
            .user_id
        )
        for user in (users - left).sudo():
            if user.ipai_ops_access_by_membership and admins not in user.group_ids:
                user.write({"group_ids": [Command.unlink(group.id)],
                            "ipai_ops_access_by_membership": False})  # fmt: skip
            if user.ipai_ops_home_by_membership and user._opens_on_operations():
                user.write({"action_id": False, "ipai_ops_home_by_membership": False})

    def write(self, vals):
        if {"project_id", "user_id"} & set(vals) and not self.env.su:
            raise UserError(
                self.env._("A membership cannot be moved: remove it and add the user again.")
            )
        self.project_id._check_may_manage_members()
        result = super().write(vals)
        self.project_id._check_keeps_an_admin()
        return result

    def unlink(self):
        projects, users = self.project_id, self.user_id
        projects._check_may_manage_members()
        result = super().unlink()
        projects.exists()._check_keeps_an_admin()
        self._revoke_access_of(users)
        return result


class IpaiOpsProject(models.Model):
    _inherit = "ipai.ops.project"

    def _check_may_manage_members(self, ignoring=None) -> None:
        """Only the project's admins (and operations administrators) change its members.

        :param ignoring: memberships just created, which do not count (one cannot make
            oneself admin and then be allowed because one is)
        """
        if self.env.su or self.env.user.has_group("ipai_ops_core.group_ops_admin"):
            return
        ignoring = ignoring or self.env["ipai.ops.project.member"]
        for project in self:
            mine = (project.sudo().member_ids - ignoring).filtered(
                lambda m: m.user_id == self.env.user
            )
            if mine.role != "admin":
                raise AccessError(
                    self.env._(
                        "Only the admins of project %(project)s may change its members.",
                        project=project.sudo().display_name,
                    )
                )

    def _check_keeps_an_admin(self) -> None:
        """A project admin cannot leave a project with nobody to administer it."""
        if self.env.su or self.env.user.has_group("ipai_ops_core.group_ops_admin"):
            return
        for project in self.sudo():
            if not project.member_ids.filtered(lambda m: m.role == "admin"):
                raise UserError(
                    self.env._(
                        "Project %(project)s would have no admin left; make someone else admin "
                        "first.",
                        project=project.display_name,
                    )
                )
