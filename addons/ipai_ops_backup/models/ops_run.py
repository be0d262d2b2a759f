import os
import shutil
from pathlib import Path

from odoo import fields, models
from odoo.exceptions import UserError

from ipai_ops.backup import backup_database
from ipai_ops.connection import connection
from ipai_ops.guards import drop_database
from ipai_ops.paths import path_under
from ipai_ops.prune import prune_target
from ipai_ops.remote import RemoteTarget
from ipai_ops.replicate import replicate_set
from ipai_ops.restore import NAME_STEM, drill_backup, restore_backup
from ipai_ops.source import count_users


class IpaiOpsRun(models.Model):
    _inherit = "ipai.ops.run"

    kind = fields.Selection(
        selection_add=[
            ("backup", "Backup"),
            ("restore", "Restore"),
            ("drill", "Restore drill"),
            ("prune", "Prune backups"),
            ("discard", "Discard replaced database"),
        ],
        ondelete={
            "backup": "cascade",
            "restore": "cascade",
            "drill": "cascade",
            "prune": "cascade",
            "discard": "cascade",
        },
    )
    backup_id = fields.Many2one("ipai.ops.backup", readonly=True, ondelete="set null")

    def _run_kinds(self) -> dict:
        kinds = super()._run_kinds()
        kinds.update(
            {
                "backup": {
                    "label": self.env._("Backup"),
                    "min_role": "developer",
                    "method": "_execute_backup",
                    "on_failure": "_on_backup_failed",
                },
                "restore": {
                    "label": self.env._("Restore"),
                    "min_role": "developer",
                    "method": "_execute_restore",
                    "on_failure": "_on_restore_failed",
                },
                "drill": {
                    "label": self.env._("Restore drill"),
                    "min_role": "admin",
                    "method": "_execute_drill",
                    "on_failure": "_on_drill_failed",
                },
                "discard": {
                    "label": self.env._("Discard the replaced database"),
                    "min_role": "admin",
                    "method": "_execute_discard",
                },
                "prune": {
                    "label": self.env._("Prune backups"),
                    "min_role": "admin",
                    "method": "_execute_prune",
                    "retention_days": 90,
                },
            }
        )
        return kinds

    # --- backup ------------------------------------------------------------------

    def _backup_target(self):
        target = self.environment_id.backup_target_id
        if not target:
            raise UserError(
                self.env._(
                    "%(env)s has no storage target for backups.", env=self.environment_id.name
                )
            )
        return target

    def _execute_backup(self) -> dict:
        environment = self.environment_id
        target = self._backup_target()
        backup = self.env["ipai.ops.backup"].create(
            {
                "environment_id": environment.id,
                "target_id": target.id,
                "run_id": self.id,
                "kind": (self.params or {}).get("kind", "manual"),
            }
        )
        self.backup_id = backup
        self._log_event_now("info", self.env._("Backing up %(db)s.", db=environment.database_name))
        result = backup_database(
            environment._engine_spec(),
            environment.database_name,
            target._engine_target(),
            filestore=environment._filestore_dir(),
            kind=backup.kind,
            progress=lambda message: self._log_event_now("info", message),
        )
        backup._record_result(result)
        if environment.offsite_target_id:
            replicate_set(
                target._engine_target(),
                environment.offsite_target_id._engine_target(),
                result.set_id,
            )
            backup.offsite_done = True
        return {"summary": result.summary, "result": {"set_id": result.set_id}}

    def _on_backup_failed(self, error: Exception) -> None:
        backup = self.backup_id or self.env["ipai.ops.backup"].search([("run_id", "=", self.id)])
        # the backup record may have been rolled back with the failed attempt: keep a trace
        if not backup:
            backup = self.env["ipai.ops.backup"].create(
                {
                    "environment_id": self.environment_id.id,
                    "target_id": self.environment_id.backup_target_id.id,
                    "run_id": self.id,
                    "kind": (self.params or {}).get("kind", "manual"),
                }
            )
        backup.write({"state": "failed", "error": str(error), "finished_at": fields.Datetime.now()})
        self.environment_id._alert_backup_problem(
            self.env._(
                "Backup of %(env)s failed: %(error)s", env=self.environment_id.name, error=error
            )
        )

    # --- restore -----------------------------------------------------------------

    def _execute_restore(self) -> dict:
        params = self.params or {}
        backup = self.env["ipai.ops.backup"].browse(params["backup_id"]).exists()
        environment = self.environment_id
        mode = params.get("mode", "new")
        if not backup or backup.project_id != environment.project_id:
            raise UserError(self.env._("A backup is restored only within its own project."))
        if mode == "replace" and backup.environment_id != environment:
            raise UserError(self.env._("An environment is replaced only by its own backups."))
        target = self._local_copy_of(backup)
        result = restore_backup(
            environment.server_id._engine_spec(),
            target,
            backup.set_id,
            environment.database_name,
            filestore=environment._filestore_dir(),
            mode=mode,
            force_disconnect=mode == "replace",
            allow_production=environment.stage == "production" and self._approved(),
            progress=lambda message: self._log_event_now("info", message),
        )
        values = {"state": "ready"}
        if result.old_database:
            values |= {
                "previous_database": result.old_database,
                "previous_filestore": result.old_filestore or False,
            }
        environment.write(values)
        return {"summary": result.summary, "result": {"old_database": result.old_database}}

    def _execute_discard(self) -> dict:
        """Drop the database (and filestore) a restore replaced — and only that."""
        environment = self.environment_id
        # what to drop comes from the system's own record of the restore, never from a user
        database = environment.previous_database
        if not database:
            raise UserError(self.env._("There is no replaced database to discard."))
        if not database.startswith(f"{environment.database_name[:NAME_STEM]}-old-"):
            raise UserError(self.env._("%(db)s is not a replaced copy.", db=database))
        old_files = None
        if environment.previous_filestore:
            old_files = path_under(
                environment.previous_filestore, [environment.server_id.filestore_root]
            )
        with connection(environment.server_id._engine_spec()) as conn:
            # the replaced copy of a production database still carries its marker
            drop_database(conn, database, allow_production=True)
        if old_files:
            shutil.rmtree(old_files, ignore_errors=True)
        environment.write({"previous_database": False, "previous_filestore": False})
        return {"summary": self.env._("Discarded %(db)s.", db=database)}

    def _local_copy_of(self, backup):
        """The backup's local target, fetching the set from the off-site copy if it is gone."""
        local = backup.target_id._engine_target()
        if backup.set_id not in local.list_sets() and backup.offsite_done:
            offsite = backup.environment_id.offsite_target_id._engine_target()
            self._log_event_now("warning", self.env._("Fetching the off-site copy of the backup."))
            if isinstance(offsite, RemoteTarget):
                offsite.fetch_set(backup.set_id, local)
            else:
                replicate_set(offsite, local, backup.set_id)
        return local

    def _approved(self) -> bool:
        approvals = self.env["ipai.ops.approval"].search([("run_id", "=", self.id)])
        return any(approval.state == "approved" for approval in approvals)

    def _on_restore_failed(self, error: Exception) -> None:
        if (self.params or {}).get("mode") == "new":  # nothing usable was made: no record left
            self.environment_id._retire_unbuilt(error)
        self.environment_id._alert_backup_problem(
            self.env._(
                "Restore into %(env)s failed: %(error)s", env=self.environment_id.name, error=error
            )
        )

    # --- drill -------------------------------------------------------------------

    def _execute_drill(self) -> dict:
        """Restore the newest backup into a scratch database, check it, drop it."""
        backup = self.env["ipai.ops.backup"].browse((self.params or {}).get("backup_id"))
        if not backup.exists() or backup.state != "done":
            raise UserError(self.env._("There is no successful backup to drill."))
        self.backup_id = backup
        result, counts = drill_backup(
            self.environment_id.server_id._engine_spec(),
            self._local_copy_of(backup),
            backup.set_id,
            self.environment_id.database_name,
            self._drill_counts,
            progress=lambda message: self._log_event_now("info", message),
        )
        message = self.env._(
            "Drill passed: restored in %(seconds).0f s; %(modules)s modules, %(users)s users.",
            seconds=result.seconds,
            modules=counts["modules"],
            users=counts["users"],
        )
        backup.write(
            {"drill_state": "passed", "drill_date": fields.Datetime.now(), "drill_message": message}
        )
        return {"summary": message, "result": counts}

    def _drill_counts(self, spec) -> dict:
        with connection(spec) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM ir_module_module WHERE state = 'installed'")
            modules = cur.fetchone()[0]
            users = count_users(cur)
        if modules != self.backup_id.module_count:
            raise UserError(
                self.env._(
                    "Drill failed: %(found)s modules installed, the backup recorded %(expected)s.",
                    found=modules,
                    expected=self.backup_id.module_count,
                )
            )
        return {"modules": modules, "users": users}

    def _on_drill_failed(self, error: Exception) -> None:
        if self.backup_id:
            self.backup_id.write(
                {
                    "drill_state": "failed",
                    "drill_date": fields.Datetime.now(),
                    "drill_message": str(error),
                }
            )
        self.environment_id._alert_backup_problem(
            self.env._(
                "Restore drill of %(env)s failed: %(error)s",
                env=self.environment_id.name,
                error=error,
            )
        )

    # --- prune -------------------------------------------------------------------

    def _execute_prune(self) -> dict:
        environment = self.environment_id
        target = self._backup_target()
        mine = self.env["ipai.ops.backup"].search(
            [
                ("environment_id", "=", environment.id),
                ("state", "=", "done"),
                ("target_id", "=", target.id),
            ]
        )
        report = prune_target(
            target._engine_target(),
            environment._retention_policy(),
            only=set(mine.mapped("set_id")),
        )
        mine.filtered(lambda b: b.set_id in report.deleted_sets).write({"state": "pruned"})
        return {"summary": report.summary, "result": {"deleted": report.deleted_sets}}


def default_filestore_for(environment, database: str) -> str | bool:
    """Odoo's layout, ``<filestore root>/<database>``, when the source has a filestore."""
    root = environment.server_id.sudo().filestore_root
    if not (environment.filestore_path and root):
        return False
    return os.fspath(Path(root) / database)
