import dataclasses
import time
from pathlib import Path

from odoo import fields, models
from odoo.exceptions import UserError
from odoo.tools import config

from ipai_ops.git_repo import export_tree, mirror
from ipai_ops.identifiers import validate_database_name
from ipai_ops.runtime import instance

MAX_FAILURES = 200  # failures kept per build; the log has the rest


class IpaiOpsBuild(models.Model):
    """A development build, as Odoo.sh makes it: the commit's code, a fresh database with
    demo data, the repository's modules installed and their tests run, then the
    environment's instance serving that database with that code."""

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

    def _queue_builds(self) -> None:
        """Queue the run of each new build of a development environment that runs on a
        runtime host (staging and production builds come with their own pipelines)."""
        for build in self.sudo().filtered(lambda b: b.state == "queued" and not b.run_id):
            environment = build.environment_id
            if environment.stage != "development" or not environment.has_runtime_host:
                continue
            build.run_id = environment._queue_system_run("build", {"build_id": build.id})

    def _tree_dir(self) -> Path:
        return (Path(config["data_dir"]) / "ipai_ops" / "builds" / self.project_id.code
                / str(self.id))  # fmt: skip

    def _run_build(self, run) -> dict:
        build = self.sudo().browse((run.params or {}).get("build_id")).exists()
        if not build or build.environment_id != run.environment_id:
            raise UserError(self.env._("This run names no build of its environment."))
        environment = build.environment_id
        environment._lock_instance()
        say = environment._say(run)

        started = time.monotonic()
        say(self.env._("Checking out %(commit)s", commit=build.short_commit))
        project = build.project_id
        repo = mirror(project.repository_url, project._mirror_dir(), project._repo_auth())
        tree = export_tree(repo, build.commit, build._tree_dir())
        modules = sorted(p.parent.name for p in tree.glob("*/__manifest__.py"))
        if not modules:
            raise UserError(self.env._("The commit holds no Odoo module to build."))
        database = validate_database_name(f"{project.code}-{environment.id}-b{build.id}")
        build.write({"checkout_seconds": time.monotonic() - started, "database_name": database})

        client = environment._host_client()
        spec = dataclasses.replace(environment._instance_spec(), addons_dirs=(tree,),
                                   db_name=database)  # fmt: skip
        started = time.monotonic()
        say(self.env._("Installing %(modules)s with demo data and running their tests",
                       modules=", ".join(modules)))  # fmt: skip
        with environment._engine_errors():
            report, log = instance.run_tests(client, spec, modules)
        environment._attach_log(run, log, "tests")
        build._record_tests(report, time.monotonic() - started)

        started = time.monotonic()
        # the environment now is this build: its database, its code (the system's placement)
        environment.sudo().write(
            {"database_name": database, "addons_path": str(tree), "data_class": "scratch"}
        )
        with environment._engine_errors():
            status = instance.deploy(client, spec, progress=say)
        environment._record_instance(status, instance_deployed_at=fields.Datetime.now())
        state = "success" if report.passed else "warning"
        build.write({"start_seconds": time.monotonic() - started, "state": state})
        summary = self.env._(
            "%(ran)s tests, %(failed)s failed, %(errors)s in error; running at %(url)s.",
            ran=report.ran, failed=report.failed, errors=report.errors,
            url=environment.instance_url,
        )  # fmt: skip
        failed = report.failed + report.errors
        return {
            "summary": summary,
            "result": {"build": build.id, "tests_run": report.ran, "tests_failed": failed},
        }

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
