import dataclasses
import time
from pathlib import Path

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import config

from ipai_ops.check import module_versions
from ipai_ops.errors import OpsError, RuntimeHostError
from ipai_ops.git_repo import changed_modules, export_tree, mirror
from ipai_ops.instance_role import create_database
from ipai_ops.lint_report import lint_modules
from ipai_ops.runtime import instance
from ipai_ops.runtime.image import environment_image
from ipai_ops.runtime.upgrade_code import upgrade_diffs

from .actions import form_action
from .ops_build_trees import prune_host_images, remove_unused_trees

MAX_FAILURES = 200  # failures kept per build; the log has the rest
BUILT_STAGES = ("development", "staging", "production")


class UpdateFailed(RuntimeHostError):
    """A production update failed once it had begun: the data may have changed."""


class IpaiOpsBuild(models.Model):
    """A build as Odoo.sh makes it. Development: the commit's code, a fresh database with
    demo data, the repository's modules installed and their tests run, then the
    environment's instance serving that database with that code. Production: a backup,
    the changed modules updated, a rolling restart; a failed update leaves the previous
    build serving, and its run offers the backup back."""

    _inherit = "ipai.ops.build"

    run_id = fields.Many2one("ipai.ops.run", readonly=True, ondelete="set null")
    database_name = fields.Char(readonly=True, help="The build's own database.")
    tests_run = fields.Integer(readonly=True)
    tests_failed = fields.Integer(readonly=True)
    tests_errors = fields.Integer(readonly=True)
    test_failure_ids = fields.One2many("ipai.ops.build.failure", "build_id", readonly=True)
    checkout_seconds = fields.Float(readonly=True, digits=(16, 1))
    tests_seconds = fields.Float(string="Install and tests (s)", readonly=True, digits=(16, 1))
    start_seconds = fields.Float(string="Server start (s)", readonly=True, digits=(16, 1))
    url = fields.Char(related="environment_id.instance_url", string="URL")
    deployed_at = fields.Datetime(string="Served since", readonly=True)
    modules_updated = fields.Text(readonly=True, help="What the build updated (-u).")
    upgrade_files = fields.Integer(
        string="Files upgrade_code rewrites", readonly=True,
        help="Files Odoo's own upgrade_code scripts would rewrite (dry run).",
    )  # fmt: skip
    upgrade_diff = fields.Text(string="What upgrade_code would change", readonly=True)
    lint_count = fields.Integer(string="pylint-odoo messages", readonly=True)
    lint_report = fields.Text(string="What pylint-odoo flags", readonly=True)
    report_notes = fields.Text(string="Report notes", readonly=True)

    has_log = fields.Boolean(related="run_id.has_log", string="Logs kept")

    def action_open_logs(self):
        """The build's logs, in a dialog (for those who may operate its environment)."""
        self.ensure_one()
        return form_action(
            self.env["ipai.ops.build.log"].create({"build_id": self.id}), dialog=True
        )

    def _queue_builds(self) -> None:
        """Queue the run of each new build of an environment that runs on a runtime host:
        development builds at once, production ones behind a backup (staging builds come
        with their own pipeline)."""
        for build in self.sudo().filtered(lambda b: b.state == "queued" and not b.run_id):
            environment = build.environment_id
            if environment.stage not in BUILT_STAGES or not environment.has_runtime_host:
                continue
            params = {"build_id": build.id}
            if environment.stage == "production" and environment.backup_target_id:
                backup = environment._create_run("backup", {"kind": "pre-update"})
                backup._log_event("info", self.env._("Queued before the build of %(commit)s.",
                                                     commit=build.short_commit))  # fmt: skip
                before = backup
                if not environment._owns_its_database():
                    # a push to production is code too: it runs as production's own role
                    before = environment._create_run("instance_own_role", after=backup)
                build.run_id = environment._create_run("build", params, after=before)
                build.run_id._log_event("info", self.env._("Queued by the schedule."))
                build.run_id._trigger_executor()
            else:
                build.run_id = environment._queue_system_run("build", params)

    @api.model
    def _cron_collect_build_leftovers(self):
        """Called from a cron: build trees no environment runs or may go back to, and
        environment images no container used for a day, are removed."""
        removed = remove_unused_trees(self.env)
        prune_host_images(self.env)
        return removed

    def _tree_dir(self) -> Path:
        return (Path(config["data_dir"]) / "ipai_ops" / "builds" / self.project_id.code
                / str(self.id))  # fmt: skip

    def _run_build(self, run) -> dict:
        build = self.sudo().browse((run.params or {}).get("build_id")).exists()
        if not build or build.environment_id != run.environment_id:
            raise UserError(self.env._("This run names no build of its environment."))
        environment = build.environment_id
        environment._lock_instance()
        if environment.stage == "production" and not run.pre_update_backup_id:
            raise UserError(
                self.env._(
                    "A production build updates the database: give %(env)s a backup target, "
                    "so that a backup is taken before.",
                    env=environment.name,
                )
            )
        build.state = "building"
        tree, modules = build._checkout(run)
        build._report_upgrade(run, tree)
        if environment.stage == "production":
            return build._build_production(run, tree, modules)
        if environment.stage == "staging":
            return build._build_staging(run, tree, modules)
        return build._build_development(run, tree, modules)

    def _checkout(self, run) -> tuple[Path, list[str]]:
        """The commit's tree, exported where the build's image is made from, and its modules."""
        started = time.monotonic()
        self.environment_id._say(run)(self.env._("Checking out %(commit)s",
                                                 commit=self.short_commit))  # fmt: skip
        project = self.project_id
        repo = mirror(project.repository_url, project._mirror_dir(), project._repo_auth())
        tree = export_tree(repo, self.commit, self._tree_dir())
        modules = sorted(p.parent.name for p in tree.glob("*/__manifest__.py"))
        if not modules:
            raise UserError(self.env._("The commit holds no Odoo module to build."))
        self.checkout_seconds = time.monotonic() - started
        return tree, modules

    def _report_upgrade(self, run, tree: Path) -> None:
        """What Odoo 19's upgrade_code scripts would rewrite in the commit's code, and what
        pylint-odoo flags in it, kept with the build: it informs, it never fails a build."""
        environment = self.environment_id
        environment._say(run)(self.env._("Upgrade report: upgrade_code and pylint-odoo"))
        notes, diffs, messages = [], [], []
        try:
            client = environment._host_client()
            base_image = environment.sudo().runtime_host_id.base_image
            tag = environment_image(client, base_image, [tree])
            diffs = upgrade_diffs(client, tag, environment._instance_spec().labels)
        except OpsError as error:
            notes.append(self.env._("upgrade_code did not run: %(error)s", error=error))
        try:
            messages = lint_modules(tree)
        except OpsError as error:
            notes.append(self.env._("pylint-odoo did not run: %(error)s", error=error))
        self.write(
            {
                "upgrade_files": len(diffs),
                "upgrade_diff": "\n".join(diffs) or False,
                "lint_count": len(messages),
                "lint_report": "\n".join(map(str, messages)) or False,
                "report_notes": "\n".join(notes) or False,
            }
        )

    def _build_development(self, run, tree: Path, modules: list[str]) -> dict:
        """A fresh database with demo data, the modules installed and tested, then served."""
        environment = self.environment_id
        say = environment._say(run)
        database = self._build_database()
        filestore = self._build_filestore(database)
        self.database_name = database
        client = environment._host_client()
        spec = dataclasses.replace(environment._instance_spec(), addons_dirs=(tree,),
                                   db_name=database, filestore_dir=filestore or None)  # fmt: skip
        login = environment._database_login()
        if login:  # an empty database of the environment's role: Odoo initializes it
            create_database(environment.server_id._engine_spec(), database, login.user)
        started = time.monotonic()
        self.state = "testing"
        say(self.env._("Installing %(modules)s with demo data and running their tests",
                       modules=", ".join(modules)))  # fmt: skip
        with environment._engine_errors():
            report, log = instance.run_tests(client, spec, modules)
        environment._attach_log(run, log, "tests")
        self._record_tests(report, time.monotonic() - started)

        started = time.monotonic()
        # the environment now is this build: its database, its code (the system's placement)
        environment.sudo().write(
            {"database_name": database, "addons_path": str(tree), "data_class": "scratch",
             "filestore_path": filestore}
        )  # fmt: skip
        with environment._engine_errors():
            status = instance.deploy(client, spec, progress=say)
        environment._keep_server_log(run, client, spec)
        environment._record_instance(status, instance_deployed_at=fields.Datetime.now())
        state = "success" if report.passed else "warning"
        self.write({"start_seconds": time.monotonic() - started, "state": state,
                    "deployed_at": fields.Datetime.now()})  # fmt: skip
        self._drop_old_build_databases(run)
        summary = self.env._(
            "%(ran)s tests, %(failed)s failed, %(errors)s in error; running at %(url)s.",
            ran=report.ran, failed=report.failed, errors=report.errors,
            url=environment.instance_url,
        )  # fmt: skip
        failed = report.failed + report.errors
        return {
            "summary": summary,
            "result": {"build": self.id, "tests_run": report.ran, "tests_failed": failed},
        }

    def _build_production(self, run, tree: Path, modules: list[str]) -> dict:
        """Production's own database, backed up just before: the modules the commit changed
        updated in a one-off container while the current build serves, then a rolling
        switch onto the new code. A failed update switches nothing."""
        environment = self.environment_id
        updates = self._modules_to_update(modules, environment.database_name)
        spec = dataclasses.replace(environment._instance_spec(), addons_dirs=(tree,))
        started = time.monotonic()
        status = self._update_and_serve(run, spec, updates)
        environment.sudo().addons_path = str(tree)
        environment._record_instance(status, instance_deployed_at=fields.Datetime.now())
        self.write({"start_seconds": time.monotonic() - started, "state": "success",
                    "deployed_at": fields.Datetime.now()})  # fmt: skip
        summary = self.env._(
            "Updated %(modules)s; production serves %(commit)s at %(url)s.",
            modules=", ".join(updates) or self.env._("no module"), commit=self.short_commit,
            url=environment.instance_url,
        )  # fmt: skip
        return {"summary": summary, "result": {"build": self.id, "updated": updates}}

    def _update_and_serve(self, run, spec, updates: list[str]):
        """``updates`` updated in a one-off container while the current instance serves,
        then a rolling switch onto the spec's code (no update: the switch only); the log
        of the instance now serving kept. :raises UpdateFailed: once the update began."""
        environment = self.environment_id
        say = environment._say(run)
        client = environment._host_client()
        try:
            with environment._engine_errors():
                if updates:
                    say(self.env._("Updating %(modules)s", modules=", ".join(updates)))
                    status, log = instance.update_modules(client, spec, updates, progress=say)
                    environment._attach_log(run, log, "update")
                else:
                    say(self.env._("No installed module changed: serving the new code"))
                    status = instance.deploy(client, spec, progress=say)
        except RuntimeHostError as error:
            if updates:  # the update had begun: it may have changed the data
                raise UpdateFailed(str(error), log=error.log) from None
            raise
        environment._keep_server_log(run, client, spec)
        self.modules_updated = "\n".join(updates)
        return status

    def _modules_to_update(self, modules: list[str], database: str) -> list[str]:
        """The modules installed in ``database`` that the commit changed against the commit
        production serves now (every installed module of the repository when no build of
        production has succeeded yet)."""
        production = self.project_id.production_environment_id
        installed = module_versions(production.server_id._engine_spec(), database)
        serving = self.search(
            [("environment_id", "=", production.id), ("state", "=", "success"),
             ("id", "!=", self.id)], limit=1,
        )  # fmt: skip
        if not serving:
            return [m for m in modules if m in installed]
        project = self.project_id
        repo = mirror(project.repository_url, project._mirror_dir(), project._repo_auth())
        changes = changed_modules(repo, serving.commit, self.commit)
        touched = {*changes["changed"], *changes["version_bumped"], *changes["added"]}
        return sorted(m for m in touched if m in installed)

    def _record_tests(self, report, seconds: float) -> None:
        self.write(
            {
                "tests_run": report.ran,
                "tests_failed": report.failed,
                "tests_errors": report.errors,
                "tests_seconds": seconds,
                "test_failure_ids": [fields.Command.clear()]
                + [
                    fields.Command.create(
                        {
                            "module": f.module,
                            "test": f.test,
                            "kind": f.kind,
                            "traceback": self.environment_id._redact(f.traceback),
                        }
                    )
                    for f in report.failures[:MAX_FAILURES]
                ],
            }
        )

    def _on_build_failed(self, run, error: Exception) -> None:
        build = self.sudo().browse((run.params or {}).get("build_id")).exists()
        if build:
            build.state = "failed"
        run.environment_id._on_instance_failed(run, error)
        if build and build._restores_after_failure(run, error):
            restore = run.environment_id._queue_system_run("restore", {
                "backup_id": run.pre_update_backup_id.id, "mode": "replace",
                "failed_build_id": build.id})  # fmt: skip
            message = self.env._(
                "The update failed after it began: the backup taken before it is being "
                "restored (%(run)s), as the project's settings ask.", run=restore.name,
            )  # fmt: skip
            run._log_event("warning", message)

    def _restores_after_failure(self, run, error: Exception) -> bool:
        """A production update that failed once it had begun is undone by restoring the
        backup taken before it, when an operations administrator set the project so."""
        return bool(
            isinstance(error, UpdateFailed) and self.environment_id.stage == "production"
            and run.pre_update_backup_id and self.project_id.sudo().restore_on_failed_update
        )  # fmt: skip


class IpaiOpsBuildFailure(models.Model):
    """One test that failed in a build: its name and traceback, readable without the log."""

    _name = "ipai.ops.build.failure"
    _description = "Operations: a failed test of a build"
    _order = "id"

    build_id = fields.Many2one("ipai.ops.build", required=True, ondelete="cascade", index=True)
    project_id = fields.Many2one(related="build_id.project_id", store=True, index=True)
    module = fields.Char(readonly=True)
    test = fields.Char(readonly=True)
    kind = fields.Selection([("fail", "Failed"), ("error", "Error")], readonly=True)
    traceback = fields.Text(readonly=True)

    def action_open(self):
        """The failed test with its traceback, in a dialog."""
        self.ensure_one()
        return form_action(self, dialog=True)
