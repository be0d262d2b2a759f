from psycopg2 import errors

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

DELETE_LOCK_TIMEOUT = "3s"  # a user's deletion waits no longer for rows others hold


class ResUsers(models.Model):
    _inherit = "res.users"

    # what a project membership gave, so that leaving the last project takes back that
    # and only that (not a group or a home an administrator gave)
    ipai_ops_access_by_membership = fields.Boolean(copy=False, readonly=True)
    ipai_ops_home_by_membership = fields.Boolean(copy=False, readonly=True)

    @api.model_create_multi
    def create(self, vals_list):
        users = super().create(vals_list)
        users._land_ops_admins_on_operations()
        return users

    def unlink(self):
        """Users who asked for operations are archived, not deleted: the audit trail names
        them, and PostgreSQL refuses to change it. Refused here at once, before any row
        is locked, and any other wait of the deletion is bounded."""
        asked = self.env["ipai.ops.run"].sudo().search([("requester_id", "in", self.ids)])
        if asked:
            names = ", ".join(sorted(set(asked.mapped("requester_id.name"))))
            raise UserError(
                self.env._(
                    "%(users)s asked for operations (%(count)s runs), which the audit trail "
                    "keeps by name: archive these users instead of deleting them.",
                    users=names,
                    count=len(asked),
                )
            )
        self.env.cr.execute(SQL("SET LOCAL lock_timeout = %s", DELETE_LOCK_TIMEOUT))
        try:
            with self.env.cr.savepoint():
                result = super().unlink()
                self.env.flush_all()  # the deletion's waits happen here, bounded
        except errors.LockNotAvailable:
            raise UserError(
                self.env._(
                    "An operation running now holds records %(users)s created or last "
                    "changed, so they cannot be deleted this moment. Try again once it has "
                    "finished, or archive them.",
                    users=", ".join(self.mapped("name")),
                )
            ) from None
        return result

    def write(self, vals):
        result = super().write(vals)
        if "group_ids" in vals:
            self._land_ops_admins_on_operations()
        return result

    def _land_ops_admins_on_operations(self) -> None:
        """Operations administrators open on the Operations home (the projects, with what
        needs attention), not in Discuss — unless they chose another home action."""
        admins = self.env.ref("ipai_ops_core.group_ops_admin").sudo().all_user_ids
        (self & admins)._open_on_operations()

    def _open_on_operations(self):
        """Give the users without a home action the Operations home; return those."""
        home = self.env.ref("ipai_ops_core.action_ipai_ops_project", raise_if_not_found=False)
        if not home:  # installing: the action comes later, and so does the call below
            return self.browse()
        landing = self.sudo().filtered(lambda user: not user.action_id)
        landing.write({"action_id": home.id})  # an ir.actions.actions, by id
        return landing

    def _opens_on_operations(self) -> bool:
        self.ensure_one()
        home = self.env.ref("ipai_ops_core.action_ipai_ops_project")
        return self.sudo().action_id.id == home.id  # an ir.actions.actions: compare ids

    @api.model
    def _land_existing_ops_admins_on_operations(self) -> None:
        """At installation: the administrators made operations administrators by it."""
        self.env.ref(
            "ipai_ops_core.group_ops_admin"
        ).sudo().all_user_ids._land_ops_admins_on_operations()
