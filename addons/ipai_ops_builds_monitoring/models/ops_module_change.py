from odoo import api, fields, models


class IpaiOpsModuleChange(models.Model):
    """A module change seen by the monitoring, tied to the build that made it."""

    _inherit = "ipai.ops.module.change"

    build_id = fields.Many2one(
        "ipai.ops.build", readonly=True, ondelete="set null",
        help="The build deployed on the environment between the change before and this one.",
    )  # fmt: skip

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            build = self._build_behind(vals)
            if build:
                vals["build_id"] = build.id
                vals["summary"] = self.env._(
                    "Build %(commit)s (%(message)s): %(summary)s", commit=build.short_commit,
                    message=build.message or build.branch, summary=vals.get("summary", ""),
                )  # fmt: skip
        return super().create(vals_list)

    def _build_behind(self, vals):
        """The newest build deployed on the environment after its previous module change
        and no later than this one was seen (none: the change came from elsewhere)."""
        if vals.get("build_id") or not vals.get("environment_id"):
            return self.env["ipai.ops.build"]
        seen = fields.Datetime.to_datetime(vals.get("changed_at")) or fields.Datetime.now()
        previous = self.sudo().search(
            [("environment_id", "=", vals["environment_id"]), ("changed_at", "<", seen)], limit=1
        )
        domain = [("environment_id", "=", vals["environment_id"]),
                  ("deployed_at", "<=", seen)]  # fmt: skip
        if previous:
            domain.append(("deployed_at", ">", previous.changed_at))
        return self.env["ipai.ops.build"].sudo().search(domain, order="deployed_at desc", limit=1)
