from odoo import models
from odoo.exceptions import AccessError

OPS_ADMIN_GROUP = "ipai_ops_core.group_ops_admin"


def context_defaults(records) -> dict:
    """The ``default_<field>`` values of the context, by field: Odoo fills them in after
    ``create()`` starts, so they are as much the caller's choice as the values given."""
    return {
        key.removeprefix("default_"): value
        for key, value in records.env.context.items()
        if key.startswith("default_") and key.removeprefix("default_") in records._fields
    }


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
        """Raise an AccessError naming the fields of ``vals`` the user may not set.

        When creating, the ``default_<field>`` keys of the context count as set: Odoo
        fills them in after this check, and they are as much the caller's choice.
        """
        if self.env.su:
            return
        names = set(vals) | (set(context_defaults(self)) if creating else set())
        names = {name for name in names if not name.startswith(FREE_FIELD_PREFIXES)}
        ops_admin = self.env.user.has_group(OPS_ADMIN_GROUP)
        if creating and not (
            self._ops_admin_fields(True) if ops_admin else self._project_admin_fields(True)
        ):
            raise AccessError(
                self.env._(
                    "You may not create %(model)s records: operations administrators do.",
                    model=self._description,
                )
            )
        if not names:
            return
        for record in self if self else [self]:
            allowed = (
                record._ops_admin_fields(creating)
                if ops_admin
                else record._project_admin_fields(creating)
            )
            if refused := names - allowed:
                labels = ", ".join(
                    sorted(getattr(self._fields.get(name), "string", name) for name in refused)
                )
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
