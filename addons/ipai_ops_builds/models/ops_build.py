from odoo import api, fields, models

BUILD_STATES = [
    ("queued", "Queued"),
    ("building", "Building"),
    ("testing", "Testing"),
    ("running", "Running"),
    ("success", "Success"),
    ("warning", "Tests failed"),
    ("failed", "Failed"),
]


class IpaiOpsBuild(models.Model):
    """One environment at one commit of the branch it follows, as Odoo.sh builds it.

    Made by the system only, when a push is noticed (a signed webhook, or the poller):
    the commit, who made it and what it changed are facts read from the repository.
    """

    _name = "ipai.ops.build"
    _description = "Operations: build"
    _order = "id desc"
    _rec_name = "commit"

    environment_id = fields.Many2one(
        "ipai.ops.environment", required=True, readonly=True, ondelete="cascade", index=True
    )
    project_id = fields.Many2one(related="environment_id.project_id", store=True, index=True)
    stage = fields.Selection(related="environment_id.stage")
    branch = fields.Char(required=True, readonly=True)
    commit = fields.Char(required=True, readonly=True, help="The commit's full hash.")
    short_commit = fields.Char(string="Short hash", compute="_compute_short_commit")
    author = fields.Char(readonly=True)
    message = fields.Char(readonly=True, help="The commit message's first line.")
    committed_at = fields.Datetime(readonly=True)
    noticed_by = fields.Selection(
        [("webhook", "Webhook"), ("poll", "Polling")], required=True, readonly=True
    )
    delivery = fields.Char(readonly=True, help="The forge's id of the notification.")
    state = fields.Selection(BUILD_STATES, default="queued", required=True, readonly=True)
    previous_commit = fields.Char(
        readonly=True, help="The commit of this environment's build before."
    )
    modules_added = fields.Text(readonly=True)
    modules_removed = fields.Text(readonly=True)
    modules_changed = fields.Text(readonly=True, help="Modules with any file changed.")
    modules_bumped = fields.Text(string="Versions bumped", readonly=True)
    described = fields.Boolean(readonly=True, help="Read from the repository's mirror.")
    error = fields.Char(readonly=True, help="Why the build failed before it could run.")

    _environment_commit_uniq = models.UniqueIndex("(environment_id, commit)")
    _delivery_uniq = models.UniqueIndex("(environment_id, delivery) WHERE delivery IS NOT NULL")

    @api.depends("commit")
    def _compute_short_commit(self):
        for build in self:
            build.short_commit = (build.commit or "")[:10]

    def _notice(self, environment, commit: str, noticed_by: str, **facts):
        """The build of ``environment`` at ``commit``: the one already noticed, or a new
        one. A commit is built once per environment, however often it is announced."""
        existing = self.sudo().search(
            [("environment_id", "=", environment.id), ("commit", "=", commit)], limit=1
        )
        if existing:
            return existing
        previous = self.sudo().search([("environment_id", "=", environment.id)], limit=1)
        return self.sudo().create(
            {
                "environment_id": environment.id,
                "branch": environment.branch,
                "commit": commit,
                "noticed_by": noticed_by,
                "previous_commit": previous.commit,
                **facts,
            }
        )
