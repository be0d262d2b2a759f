import logging
import os
from datetime import datetime
from pathlib import Path

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import config

from odoo.addons.ipai_ops_core.models.ops_run import utc_naive

from ipai_ops.errors import OpsError
from ipai_ops.git_repo import (
    RepoAuth,
    changed_modules,
    commit_info,
    mirror,
    remote_head,
    validate_url,
)
from ipai_ops.secret_refs import resolve_reference, validate_reference

_logger = logging.getLogger(__name__)
OPS_ADMIN = "ipai_ops_core.group_ops_admin"
REPOSITORY_FIELDS = frozenset(
    {"git_token_ref", "git_ssh_key_file", "webhook_secret_ref", "restore_on_failed_update",
     "branch_limit"}
)  # fmt: skip
DEFAULT_BRANCH_LIMIT = 10  # development environments made from branches, per project


class IpaiOpsProject(models.Model):
    _inherit = "ipai.ops.project"

    git_token_ref = fields.Char(
        string="Repository token",
        groups=OPS_ADMIN,
        help="Where the HTTPS token is on the Odoo host: env:NAME or file:/path — never the "
        "token itself. git gets it through its askpass program, never in an argument.",
    )
    git_ssh_key_file = fields.Char(
        string="SSH key file", groups=OPS_ADMIN, help="Absolute path of the private key."
    )
    webhook_secret_ref = fields.Char(
        string="Webhook secret",
        groups=OPS_ADMIN,
        help="Where the webhook's secret is on the Odoo host (env:NAME or file:/path): GitHub "
        "signs each push with it, GitLab sends it. Without one, webhooks are refused.",
    )
    webhook_path = fields.Char(compute="_compute_webhook_path", help="Where the forge posts.")
    restore_on_failed_update = fields.Boolean(
        string="Restore production after a failed update",
        help="When a production build's update fails once it has begun, restore the backup "
        "taken just before it, without waiting for a second administrator (this setting is "
        "their approval). Off: the restore is offered on the build's run.",
    )
    build_ids = fields.One2many("ipai.ops.build", "project_id", string="Builds")
    branch_limit = fields.Integer(
        string="Development environments at most",
        default=DEFAULT_BRANCH_LIMIT,
        help="How many development environments (each following a branch) the project may "
        "have at once, past which New development branch refuses (an operations "
        "administrator's setting): each one builds and runs on the project's runtime host, "
        "which other projects share.",
    )

    def _ops_admin_fields(self, creating: bool) -> set[str]:
        return super()._ops_admin_fields(creating) | REPOSITORY_FIELDS

    @api.depends("code")
    def _compute_webhook_path(self):
        for project in self:
            project.webhook_path = f"/ipai_ops/webhook/{project.code}" if project.code else False

    @api.constrains("repository_url", "git_token_ref", "git_ssh_key_file", "webhook_secret_ref")
    def _check_repository(self):
        for project in self.sudo():
            try:
                if project.repository_url:
                    validate_url(project.repository_url)
                for reference in (project.git_token_ref, project.webhook_secret_ref):
                    if reference:
                        validate_reference(reference)
                if project.git_ssh_key_file and not os.path.isabs(project.git_ssh_key_file):
                    raise ValidationError(self.env._("The SSH key file must be an absolute path."))
            except OpsError as error:
                raise ValidationError(str(error)) from error

    def _repo_auth(self) -> RepoAuth:
        project = self.sudo()
        return RepoAuth(
            token_ref=project.git_token_ref or None, ssh_key_file=project.git_ssh_key_file or None
        )

    def _webhook_secret(self) -> str:
        """The webhook secret, read from the host now; empty when there is none."""
        reference = self.sudo().webhook_secret_ref
        return resolve_reference(reference) if reference else ""

    def _mirror_dir(self) -> Path:
        """The project's bare mirror, in Odoo's data directory (not in the database)."""
        return Path(config["data_dir"]) / "ipai_ops" / "git" / f"{self.code}.git"

    def action_open_dashboard(self):
        """The project's first screen, as on Odoo.sh (its card opens it): its environments
        as cards, each with its branch's last build, by stage."""
        action = self.action_open_environments()
        dashboard = self.env.ref("ipai_ops_builds.view_ipai_ops_environment_dashboard")
        return {
            **action,
            "name": self.name,
            "display_name": self.name,
            "view_mode": "kanban,list,form",
            "views": [(dashboard.id, "kanban"), (False, "list"), (False, "form")],
        }

    # --- noticing pushes -----------------------------------------------------------

    @api.model
    def _cron_poll_repositories(self):
        """Called from a cron: the head of every followed branch, for repositories that
        cannot call in; then what each new build's commit is and changed."""
        for project in self.sudo().search([("repository_url", "!=", False)]):
            try:
                project._poll()
                project._describe_builds()
            except OpsError as error:  # one unreachable repository does not stop the others
                _logger.warning("repository of project %s: %s", project.code, error)

    def _poll(self) -> None:
        Build = self.env["ipai.ops.build"]
        for environment in self.environment_ids.filtered("branch"):
            head = remote_head(self.repository_url, environment.branch, self._repo_auth())
            if head:
                Build._notice(environment, head, "poll")

    def _describe_builds(self) -> None:
        """Who made each new build's commit, when, and the modules it added, removed,
        changed or bumped against the environment's build before."""
        builds = (
            self.env["ipai.ops.build"]
            .sudo()
            .search([("project_id", "=", self.id), ("described", "=", False)], order="id")
        )
        if not builds:
            return
        repo = mirror(self.repository_url, self._mirror_dir(), self._repo_auth())
        for build in builds:
            try:
                values = self._describe(repo, build)
            except OpsError as error:  # this commit cannot be read: the queue goes on
                _logger.warning("build %s of project %s: %s", build.commit, self.code, error)
                values = {"state": "failed", "described": True,
                          "error": self.env._("The commit cannot be read: %(error)s",
                                              error=error)[:250]}  # fmt: skip
            build.sudo().write(values)
        builds.filtered(lambda b: b.state == "queued")._queue_builds()

    def _describe(self, repo, build) -> dict:
        """What the mirror says of a build's commit: its own author and message (a
        webhook's are only a first guess), and the modules it changed."""
        info = commit_info(repo, build.commit)
        try:
            changes = changed_modules(repo, build.previous_commit or None, build.commit)
        except OpsError:  # the build before is gone from the history (a force-push)
            changes = changed_modules(repo, None, build.commit)
        return {
            "author": info["author"] or build.author,
            "message": (info["message"] or build.message or "")[:250],
            "committed_at": utc_naive(datetime.fromisoformat(info["date"])),
            "modules_added": "\n".join(changes["added"]),
            "modules_removed": "\n".join(changes["removed"]),
            "modules_changed": "\n".join(changes["changed"]),
            "modules_bumped": "\n".join(changes["version_bumped"]),
            "described": True,
        }
