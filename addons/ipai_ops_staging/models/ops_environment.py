from datetime import datetime
from pathlib import Path

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.ipai_ops_core.models.ops_environment import UNMASKED_CLASSES
from odoo.addons.ipai_ops_core.roles import required_role, role_allows

from ipai_ops.check import check_database
from ipai_ops.clone import clone_database, clone_from_backup, drop_clone
from ipai_ops.errors import OpsError
from ipai_ops.mail_catcher import grant_login
from ipai_ops.neutralize import neutralize_database
from ipai_ops.odoo_init import init_database
from ipai_ops.safe_copy import Masking, make_safe


class IpaiOpsEnvironment(models.Model):
    _inherit = "ipai.ops.environment"

    is_build = fields.Boolean(
        string="Copy of another environment", readonly=True, help="Built by ipai-ops from a source."
    )
    source_environment_id = fields.Many2one("ipai.ops.environment", readonly=True)
    mail_ids = fields.One2many("ipai.ops.mail", "environment_id", string="Mails")
    source_backup_id = fields.Many2one("ipai.ops.backup", readonly=True)
    build_date = fields.Datetime(readonly=True)
    neutralized = fields.Boolean(readonly=True)
    neutralization_report = fields.Text(readonly=True)
    masking_report = fields.Text(readonly=True)

    def _check_may_create_copy(self, stage: str, data_class: str | None = None) -> None:
        """Testers create staging copies, developers development ones (Odoo.sh's levels);
        a copy of production's data (masked as it will be) takes at least a tester.

        :param data_class: the class of the data copied (None: no data, a new database)
        """
        self.ensure_one()
        self.check_access("read")
        if not self.active:
            raise UserError(self.env._("%(env)s is archived.", env=self.display_name))
        role = self.project_id._effective_role(self.env.user)
        if data_class in UNMASKED_CLASSES and not role_allows(role, "staging"):
            stage = "staging"
        if not role_allows(role, stage):
            raise AccessError(
                self.env._(
                    "Creating a %(stage)s copy needs the %(role)s role in the project.",
                    stage=stage,
                    role=required_role(stage),
                )
            )

    def _new_copy(self, stage: str, database: str | None = None, name: str | None = None,
                  backup=None, scratch: bool = False):  # fmt: skip
        """Create the environment record of a copy of this one (the clone fills it)."""
        self.ensure_one()
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        database = database or f"{self.project_id.code}-{stage}-{stamp}"
        data_class = backup.data_class if backup else self.data_class
        # the caller checked the role: testers create staging copies, developers dev ones
        return (
            self.env["ipai.ops.environment"]
            .sudo()
            .create(
                {
                    **self._copy_values(stage, database, name or f"{stage.capitalize()} {stamp}"),
                    "branch": self.branch,
                    "is_build": True,
                    "source_environment_id": self.id,
                    "source_backup_id": backup.id if backup else False,
                    # production data until the copy has neutralized and masked it
                    "data_class": "scratch"
                    if scratch
                    else "production"
                    if data_class in UNMASKED_CLASSES
                    else "neutralized",
                }
            )
        )

    def _other_allowed_actions(self) -> list[str]:
        """Also ``copy``: whether the user may make at least a development copy of it."""
        actions = super()._other_allowed_actions()
        if not (self.id and self.project_id):  # a record being created: nothing to copy
            return actions
        try:
            self._check_may_create_copy("development", self.data_class)
        except (AccessError, UserError):
            return actions
        return [*actions, "copy"]

    def _needs_masking(self) -> bool:
        """Whether this copy's source data must be masked (production or unknown origin)."""
        self.ensure_one()
        source = self.source_backup_id or self.source_environment_id
        return source.data_class in UNMASKED_CLASSES

    def action_create_copy(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "ipai.ops.staging.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_source_environment_id": self.id},
        }

    @api.model
    def _staging_builds(self, project):
        """The project's usable staging builds, newest first."""
        return self.sudo().search(
            [
                ("project_id", "=", project.id),
                ("is_build", "=", True),
                ("stage", "=", "staging"),
                ("neutralized", "=", True),
            ],
            order="build_date desc, id desc",
        )

    @api.model
    def _cron_retire_old_builds(self):
        """Called from a cron: drop staging builds beyond each project's limit."""
        for project in self.env["ipai.ops.project"].sudo().search([]):
            builds = self._staging_builds(project)
            if len(builds) > project.staging_keep:
                builds[0]._queue_system_run("retire", {})

    @api.model
    def _cron_nightly_staging(self):
        """Called from a cron: rebuild staging from production for projects that ask."""
        for project in self.env["ipai.ops.project"].sudo().search([("staging_nightly", "=", True)]):
            production = project.production_environment_id
            if production:
                copy = production._new_copy("staging")
                copy._queue_system_run("clone", {})

    # --- work of the copy runs (clone, init, retire) -------------------------------

    def _addons(self) -> list[str]:
        """The addons paths of this environment's code; every copy needs them, each one a
        directory the control plane can read (neutralize.sql files are read from them)."""
        self.ensure_one()
        addons = [p.strip() for p in (self.addons_path or "").split(",") if p.strip()]
        if not addons:
            raise UserError(
                self.env._(
                    "%(env)s has no addons path: every installed module's neutralize.sql must be "
                    "found before the copy can be used. Set the addons path of %(env)s.",
                    env=self.name,
                )
            )
        missing = [path for path in addons if not Path(path).is_dir()]
        if missing:
            raise UserError(
                self.env._(
                    "The addons path of %(env)s names what is not a directory here: %(paths)s.",
                    env=self.name,
                    paths=", ".join(missing),
                )
            )
        return addons

    def _check_copy_can_start(self, origin: str) -> None:
        """What a copy of this environment needs, checked before anything is created: the
        wizard says what to fix instead of leaving a failed environment behind."""
        self.ensure_one()
        source = self.sudo()
        source._addons()
        if origin == "scratch" and not source._default_filestore_for(source.database_name):
            raise UserError(
                self.env._(
                    "A database made from scratch needs a filestore: set the filestore path of "
                    "%(env)s and the filestore root of server %(server)s.",
                    env=source.name, server=source.server_id.display_name,
                )
            )  # fmt: skip
        if origin == "live":
            try:
                check_database(source._engine_spec(), source.database_name)
            except OpsError as error:
                raise UserError(
                    self.env._("%(env)s cannot be reached, so it cannot be copied: %(error)s",
                               env=source.name, error=error)
                ) from error  # fmt: skip

    def _run_init(self, run) -> dict:
        """A development database made from scratch by the environment's own Odoo."""
        environment = run.environment_id
        filestore = environment._filestore_dir()
        if not filestore:
            raise UserError(self.env._("Set the environment's filestore path first."))
        addons = environment._addons()
        project = environment.project_id.sudo()
        spec = environment.server_id._engine_spec()
        login = environment._database_login()
        modules = init_database(
            spec,
            environment.database_name,
            addons_paths=addons,
            modules=(run.params or {}).get("modules") or ["base"],
            data_dir=str(Path(filestore).parent.parent),
            admin_password=project.dev_admin_password,
            as_role=login,
        )
        catcher = environment._mail_catcher_address()
        report = neutralize_database(
            spec, environment.database_name, addons_paths=addons,
            base_url=environment.base_url or None, mail_catcher=catcher,
            cron_allowlist=project._cron_allowlist(), as_role=login,
            mail_password=catcher and self._mail_password(environment.database_name),
        )  # fmt: skip
        environment.write(
            {
                "neutralized": True,
                "data_class": "scratch",
                "build_date": fields.Datetime.now(),
                "state": "ready",
                "neutralization_report": _lines(report.checks, report.summary),
            }
        )
        summary = self.env._("Created with %(count)s modules installed.", count=len(modules))
        return {"summary": f"{summary} {report.summary}", "result": {"modules": modules}}

    def _run_clone(self, run) -> dict:
        """Build this run's environment as a safe copy of its source environment."""
        copy = run.environment_id
        source = copy.source_environment_id
        if not source:
            raise UserError(self.env._("%(env)s has no source to copy.", env=copy.name))
        addons = copy._addons()
        reports = {}
        prepare = self._safe_copy_preparation(run, copy, source, addons, reports)
        spec = copy.server_id._engine_spec()
        login = copy._database_login()
        owner = login.user if login else None
        progress = run._progress_reporter()
        backup = copy.source_backup_id
        if backup and (backup.environment_id != source or backup.state != "done"):
            raise UserError(self.env._("A copy is made only from its source's own backups."))
        if backup:
            result = clone_from_backup(
                spec, backup._local_target(run), backup.set_id, copy.database_name,
                target_filestore=copy._filestore_dir(), prepare=prepare, progress=progress,
                owner=owner,
            )  # fmt: skip
        else:
            result = clone_database(
                spec, source.database_name, copy.database_name,
                source_filestore=source._filestore_dir(),
                target_filestore=copy._filestore_dir(), prepare=prepare, progress=progress,
                owner=owner,
            )  # fmt: skip
        copy.write({**self._safe_copy_values(reports), "state": "ready"})
        self._drop_old_builds(run, copy.project_id)
        summary = f"{result.summary} {reports['neutralization'].summary}"
        return {
            "summary": summary,
            "result": {"method": result.method, "checks": reports["neutralization"].checks},
        }

    def _safe_copy_preparation(self, run, copy, source, addons, reports, *, mail_login=None):
        """(Copies of production) mask and prove nothing survived, then neutralize.

        :param mail_login: the mail catcher's login for the copy (default: its database)
        """
        project = copy.project_id.sudo()
        spec = copy.server_id._engine_spec()
        rules = self.env["ipai.ops.mask.rule"]._engine_rules()
        needs_masking = copy._needs_masking()
        catcher = copy._mail_catcher_address()  # before copying anything: it may fail
        login = copy._database_login()

        masking = None
        if needs_masking:  # not when copied from a masked copy
            masking = Masking(rules, project._mask_key(), project.dev_admin_password)

        def prepare(database: str) -> None:
            # masked and proven masked before the branch's own scripts see the copy
            def masked(report):
                reports["masking"] = report
                run._log_event_now("info", report.summary)

            made = make_safe(
                spec, database, source=source.database_name, masking=masking,
                on_masked=masked, neutralize={
                    "addons_paths": addons, "base_url": copy.base_url or None,
                    "mail_catcher": catcher, "cron_allowlist": project._cron_allowlist(),
                    "mail_login": mail_login or copy.database_name, "as_role": login,
                    "mail_password": catcher
                    and self._mail_password(mail_login or copy.database_name),
                },
            )  # fmt: skip
            reports["neutralization"] = made.neutralization
            run._log_event_now(
                "info", made.neutralization.summary, {"checks": made.neutralization.checks}
            )

        return prepare

    def _database_login(self):
        """The login (a ServerSpec) of the role this environment's own code runs as, when
        it is not the server's: its copies then belong to it, and their modules' scripts
        run as it. None here: the runtime gives one to environments it runs."""
        return None

    def _mail_catcher_address(self) -> tuple[str, int] | None:
        """Where this copy's outgoing mail goes: the project's mail catcher, if it has one
        (None: to a server that does not exist)."""
        return self.project_id.sudo()._mail_catcher()

    def _mail_password(self, login: str) -> str:
        """A new password for ``login`` at the catcher: every instance of a host reaches
        it, so a copy files mail under its own name only, and only with this password
        (shown nowhere but the copy's outgoing mail server)."""
        return grant_login(self.env["ipai.ops.mail"]._spool(), login)

    def _safe_copy_values(self, reports: dict) -> dict:
        """What a copy's record says of the neutralization and masking that made it safe."""
        neutralization, masking = reports["neutralization"], reports.get("masking")
        return {
            "neutralized": True,
            "data_class": "masked" if masking else "neutralized",
            "build_date": fields.Datetime.now(),
            "neutralization_report": _lines(neutralization.checks, neutralization.summary),
            "masking_report": (
                _lines({c: n == 0 for c, n in masking.survivors.items()}, masking.summary)
                if masking
                else False
            ),
        }

    def _run_retire(self, run) -> dict:
        dropped = self._drop_old_builds(run, run.environment_id.project_id)
        return {"summary": self.env._("Dropped %(count)s old build(s).", count=len(dropped))}

    def _drop_old_builds(self, run, project):
        """Keep the project's newest staging builds; drop the others and their filestores."""
        builds = self.env["ipai.ops.environment"]._staging_builds(project)
        old_builds = builds[project.staging_keep :]
        for old in old_builds:
            drop_clone(old.server_id._engine_spec(), old.database_name, old._filestore_dir())
            old.write({"active": False, "state": "retired"})
            run._log_event_now(
                "info", self.env._("Dropped the old build %(db)s.", db=old.database_name)
            )
        return old_builds

    def _on_clone_failed(self, run, error: Exception) -> None:
        run.environment_id.write({"neutralized": False})
        run.environment_id._retire_unbuilt(error)


def _lines(results: dict[str, bool], summary: str) -> str:
    """The summary, then one line per guarantee: ✔ holds, ✘ does not."""
    marks = (f"{'✔' if ok else '✘'} {name}" for name, ok in results.items())
    return "\n".join([summary, *marks])
