from pathlib import Path

from odoo import fields, models
from odoo.exceptions import UserError

from ipai_ops.clone import clone_database, clone_from_backup, drop_clone
from ipai_ops.mask import (
    check_no_survivors,
    find_survivors,
    mask_database,
    raise_on_survivors,
)
from ipai_ops.neutralize import neutralize_database
from ipai_ops.odoo_init import init_database


class IpaiOpsRun(models.Model):
    _inherit = "ipai.ops.run"

    kind = fields.Selection(
        selection_add=[
            ("clone", "Copy (clone, neutralize, mask)"),
            ("init", "New database from the code"),
            ("retire", "Drop old builds"),
        ],
        ondelete={"clone": "cascade", "init": "cascade", "retire": "cascade"},
    )

    def _run_kinds(self) -> dict:
        kinds = super()._run_kinds()
        kinds["clone"] = {
            "label": self.env._("Copy"),
            "min_role": "developer",
            "method": "_execute_clone",
            "on_failure": "_on_clone_failed",
        }
        kinds["retire"] = {
            "label": self.env._("Drop old builds"),
            "min_role": "admin",
            "method": "_execute_retire",
        }
        kinds["init"] = {
            "label": self.env._("New database"),
            "min_role": "developer",
            "method": "_execute_init",
            "on_failure": "_on_clone_failed",
        }
        return kinds

    def _addons_of(self, environment) -> list[str]:
        addons = [p.strip() for p in (environment.addons_path or "").split(",") if p.strip()]
        if not addons:
            raise UserError(
                self.env._(
                    "%(env)s has no addons path: every installed module's neutralize.sql must be "
                    "found before the copy can be used. Set the environment's addons path.",
                    env=environment.name,
                )
            )
        return addons

    def _execute_init(self) -> dict:
        """A development database made from scratch by the environment's own Odoo."""
        environment = self.environment_id
        filestore = environment._filestore_dir()
        if not filestore:
            raise UserError(self.env._("Set the environment's filestore path first."))
        addons = self._addons_of(environment)
        project = environment.project_id.sudo()
        spec = environment.server_id._engine_spec()
        modules = init_database(
            spec,
            environment.database_name,
            addons_paths=addons,
            modules=(self.params or {}).get("modules") or ["base"],
            data_dir=str(Path(filestore).parent.parent),
            admin_password=project.dev_admin_password,
        )
        report = neutralize_database(
            spec, environment.database_name, addons_paths=addons,
            base_url=environment.base_url or None, mail_catcher=project._mail_catcher(),
            cron_allowlist=project._cron_allowlist(),
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

    def _execute_clone(self) -> dict:
        """Build this run's environment as a safe copy of its source environment."""
        copy = self.environment_id
        source = copy.source_environment_id
        if not source:
            raise UserError(self.env._("%(env)s has no source to copy.", env=copy.name))
        addons = self._addons_of(copy)
        reports = {}
        prepare = self._safe_copy_preparation(copy, source, addons, reports)
        spec = copy.server_id._engine_spec()
        progress = lambda message: self._log_event_now("info", message)  # noqa: E731
        backup = copy.source_backup_id
        if backup and (backup.environment_id != source or backup.state != "done"):
            raise UserError(self.env._("A copy is made only from its source's own backups."))
        if backup:
            result = clone_from_backup(
                spec, self._local_copy_of(backup), backup.set_id, copy.database_name,
                target_filestore=copy._filestore_dir(), prepare=prepare, progress=progress,
            )  # fmt: skip
        else:
            result = clone_database(
                spec, source.database_name, copy.database_name,
                source_filestore=source._filestore_dir(),
                target_filestore=copy._filestore_dir(), prepare=prepare, progress=progress,
            )  # fmt: skip
        neutralization, masking = reports["neutralization"], reports.get("masking")
        copy.write(
            {
                "neutralized": True,
                "data_class": "masked" if masking else "neutralized",
                "build_date": fields.Datetime.now(),
                "state": "ready",
                "neutralization_report": _lines(neutralization.checks, neutralization.summary),
                "masking_report": (
                    _lines({c: n == 0 for c, n in masking.survivors.items()}, masking.summary)
                    if masking
                    else False
                ),
            }
        )
        self._drop_old_builds(copy.project_id)
        summary = f"{result.summary} {neutralization.summary}"
        return {
            "summary": summary,
            "result": {"method": result.method, "checks": neutralization.checks},
        }

    def _safe_copy_preparation(self, copy, source, addons, reports):
        """Neutralize, then (copies of production) mask and prove nothing survived."""
        project = copy.project_id.sudo()
        spec = copy.server_id._engine_spec()
        rules = self.env["ipai.ops.mask.rule"]._engine_rules()
        needs_masking = copy._needs_masking()

        def prepare(database: str) -> None:
            report = neutralize_database(
                spec, database, addons_paths=addons, base_url=copy.base_url or None,
                mail_catcher=project._mail_catcher(), cron_allowlist=project._cron_allowlist(),
            )  # fmt: skip
            reports["neutralization"] = report
            self._log_event_now("info", report.summary, {"checks": report.checks})
            if not needs_masking:
                return  # masked already, when it was copied from production
            masking = mask_database(
                spec, database, rules, admin_password=project.dev_admin_password,
                key=project._mask_key(),
            )  # fmt: skip
            pair = (source.database_name, database)
            masking.survivors = check_no_survivors(spec, spec, pair, rules)
            stray = find_survivors(spec, spec, pair, rules)
            masking.survivors |= {f"{column} (found by the full scan)": n
                                  for column, n in stray.items()}  # fmt: skip
            raise_on_survivors(masking.survivors)
            reports["masking"] = masking
            self._log_event_now("info", masking.summary)

        return prepare

    def _execute_retire(self) -> dict:
        dropped = self._drop_old_builds(self.environment_id.project_id)
        return {"summary": self.env._("Dropped %(count)s old build(s).", count=len(dropped))}

    def _drop_old_builds(self, project):
        """Keep the project's newest staging builds; drop the others and their filestores."""
        builds = self.env["ipai.ops.environment"]._staging_builds(project)
        old_builds = builds[project.staging_keep :]
        for old in old_builds:
            drop_clone(old.server_id._engine_spec(), old.database_name, old._filestore_dir())
            old.write({"active": False, "state": "unreachable"})
            self._log_event_now(
                "info", self.env._("Dropped the old build %(db)s.", db=old.database_name)
            )
        return old_builds

    def _on_clone_failed(self, error: Exception) -> None:
        self.environment_id.write({"neutralized": False})
        self.environment_id._retire_unbuilt(error)


def _lines(results: dict[str, bool], summary: str) -> str:
    """The summary, then one line per guarantee: ✔ holds, ✘ does not."""
    marks = (f"{'✔' if ok else '✘'} {name}" for name, ok in results.items())
    return "\n".join([summary, *marks])
