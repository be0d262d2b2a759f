from odoo import models
from odoo.exceptions import AccessError

OPS_ADMIN_GROUP = "ipai_ops_core.group_ops_admin"
# chatter and activities are Odoo's own, with their own access rules
FREE_FIELD_PREFIXES = ("message_", "activity_", "website_message_")


class IpaiOpsFieldPolicy(models.AbstractModel):
    """Which fields each role may write: everything not listed is the system's.

    The ORM lets anyone with write access write any field; a view's ``readonly`` is no
    barrier to an RPC call. Models of the control plane therefore list, per role, the
    fields people may set; the rest (states, reports, the names and paths the executor
    acts on) are written only by the system, under ``sudo()``.
    """

    _name = "ipai.ops.field.policy"
    _description = "Operations: fields writable per role"

    def _project_admin_fields(self, creating: bool) -> set[str]:
        """Fields a project admin may set on this record (``self`` is empty when creating)."""
        return set()

    def _ops_admin_fields(self, creating: bool) -> set[str]:
        """Fields an operations administrator may set (``self`` is empty when creating)."""
        return self._project_admin_fields(creating)

    def _check_writable(self, vals: dict, creating: bool = False) -> None:
        """Raise an AccessError naming the fields of ``vals`` the user may not set."""
        if self.env.su:
            return
        names = {name for name in vals if not name.startswith(FREE_FIELD_PREFIXES)}
        if not names:
            return
        ops_admin = self.env.user.has_group(OPS_ADMIN_GROUP)
        for record in self if self else [self]:
            allowed = (
                record._ops_admin_fields(creating)
                if ops_admin
                else record._project_admin_fields(creating)
            )
            if refused := names - allowed:
                labels = ", ".join(sorted(self._fields[name].string for name in refused))
                raise AccessError(
                    self.env._(
                        "You may not set %(fields)s on %(model)s: %(why)s",
                        fields=labels,
                        model=self._description,
                        why=self.env._("only operations administrators may.")
                        if not ops_admin and refused <= record._ops_admin_fields(creating)
                        else self.env._("it is written by ipai-ops itself."),
                    )
                )
