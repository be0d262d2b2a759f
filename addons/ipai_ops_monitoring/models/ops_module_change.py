import json

from odoo import fields, models

from ipai_ops.check import module_changes, module_versions


class IpaiOpsModuleChange(models.Model):
    """A change of an environment's installed modules, seen by a snapshot: an update
    (``-u``), an install or an uninstall. Statements that became slower are tied to it."""

    _name = "ipai.ops.module.change"
    _description = "Operations: module update"
    _order = "changed_at desc, id desc"
    _rec_name = "summary"

    environment_id = fields.Many2one(
        "ipai.ops.environment", required=True, ondelete="cascade", index=True
    )
    project_id = fields.Many2one(related="environment_id.project_id", store=True, index=True)
    changed_at = fields.Datetime(
        string="Seen at", required=True, help="The first snapshot that saw the change."
    )
    summary = fields.Char(required=True)
    updated = fields.Text(help="One module per line, with its version before and after.")
    installed = fields.Text()
    removed = fields.Text()

    def _note(self, environment, digest: str | None, taken_at) -> None:
        """Record what changed when the modules' digest differs from the last one seen.
        The first digest of an environment is only remembered: nothing changed yet."""
        if not digest or digest == environment.modules_digest:
            return
        versions = module_versions(environment._engine_spec(), environment.database_name)
        if environment.module_versions:  # the first look is a baseline
            changes = module_changes(environment.module_versions, versions)
            if any(changes.values()):
                self.create(
                    {
                        "environment_id": environment.id,
                        "changed_at": taken_at,
                        "summary": self._summary(changes),
                        **{key: "\n".join(names) for key, names in changes.items()},
                    }
                )
        Deltas = self.env["ipai.ops.pgss.delta"]
        Deltas._set_on_environment(environment, "modules_digest", digest)
        Deltas._set_on_environment(environment, "module_versions", json.dumps(versions))

    def _summary(self, changes: dict) -> str:
        parts = []
        for key, label in (
            ("updated", self.env._("updated")),
            ("installed", self.env._("installed")),
            ("removed", self.env._("removed")),
        ):
            names = [entry.split(" ")[0] for entry in changes[key]]
            if names:
                shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
                parts.append(f"{label}: {shown}")
        return self.env._("Modules %(what)s", what="; ".join(parts))

    def _latest_between(self, environment, start, end):
        """The last module change of ``environment`` seen in [start, end)."""
        return self.search(
            [("environment_id", "=", environment.id), ("changed_at", ">=", start),
             ("changed_at", "<", end)],
            limit=1,
        )  # fmt: skip
