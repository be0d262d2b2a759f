from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.ipai_ops_core.models.ops_environment import DATA_CLASSES
from odoo.addons.ipai_ops_core.roles import required_role, role_allows

from ipai_ops.backup import BACKUP_KINDS, backup_database
from ipai_ops.connection import connection
from ipai_ops.prune import prune_target
from ipai_ops.remote import RemoteTarget
from ipai_ops.replicate import replicate_set
from ipai_ops.restore import drill_backup, restore_backup
from ipai_ops.source import count_users

BACKUP_STATES = [
    ("running", "Running"),
    ("done", "Done"),
    ("failed", "Failed"),
    ("pruned", "Pruned"),
]
DRILL_STATES = [("none", "Not drilled"), ("passed", "Passed"), ("failed", "Failed")]


class IpaiOpsBackup(models.Model):
    """One backup set of an environment, as published on a storage target."""

    _name = "ipai.ops.backup"
    _description = "Operations: backup"
    _order = "started_at desc, id desc"
    _rec_name = "set_id"

    environment_id = fields.Many2one(
        "ipai.ops.environment", required=True, readonly=True, ondelete="restrict", index=True
    )
    project_id = fields.Many2one(related="environment_id.project_id", store=True, index=True)
    target_id = fields.Many2one("ipai.ops.backup.target", readonly=True, ondelete="restrict")
    run_id = fields.Many2one("ipai.ops.run", readonly=True, ondelete="set null")
    set_id = fields.Char(readonly=True, index=True, help="The set's directory on the target.")
    kind = fields.Selection(
        list(BACKUP_KINDS.items()), required=True, readonly=True, default="manual"
    )
    stage = fields.Selection(related="environment_id.stage")
    data_class = fields.Selection(
        DATA_CLASSES,
        readonly=True,
        help="What the backed-up database held when the backup was taken; a backup of "
        "production data is production data wherever it is restored.",
    )
    state = fields.Selection(BACKUP_STATES, required=True, readonly=True, default="running")
    started_at = fields.Datetime(readonly=True, default=fields.Datetime.now)
    finished_at = fields.Datetime(readonly=True)
    duration = fields.Float(string="Duration (s)", readonly=True, digits=(16, 1))
    dump_mb = fields.Float(string="Dump (MiB)", readonly=True, digits=(16, 1))
    filestore_mb = fields.Float(string="Filestore (MiB)", readonly=True, digits=(16, 1))
    filestore_new_mb = fields.Float(
        string="New filestore data (MiB)", readonly=True, digits=(16, 1),
        help="What this backup added to the target; the rest was already stored.",
    )  # fmt: skip
    file_count = fields.Integer(readonly=True)
    odoo_version = fields.Char(readonly=True)
    module_count = fields.Integer(readonly=True)
    offsite_done = fields.Boolean(string="Off-site copy", readonly=True)
    error = fields.Text(readonly=True)
    drill_state = fields.Selection(DRILL_STATES, default="none", required=True, readonly=True)
    drill_date = fields.Datetime(readonly=True)
    drill_message = fields.Text(readonly=True)

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            raise AccessError(
                self.env._("Backups are recorded by the run executor; use “Backup now”.")
            )
        for vals in vals_list:
            if not vals.get("data_class"):
                environment = self.env["ipai.ops.environment"].browse(vals["environment_id"])
                vals["data_class"] = environment.data_class or "registered"
        return super().create(vals_list)

    def _access_stage(self) -> str:
        """The stage whose roles apply to this backup's data (see the environment's)."""
        self.ensure_one()
        if self.data_class == "production":
            return "production"
        return self.environment_id._access_stage()

    def _record_result(self, facts) -> None:
        """Fill in what the engine published (``ipai_ops.backup.BackupFacts``)."""
        self.write(
            {
                "state": "done",
                "set_id": facts.set_id,
                "finished_at": fields.Datetime.now(),
                "duration": facts.seconds,
                "dump_mb": facts.dump_bytes / 1024**2,
                "filestore_mb": facts.filestore_bytes / 1024**2,
                "filestore_new_mb": facts.filestore_new_bytes / 1024**2,
                "file_count": facts.file_count,
                "odoo_version": facts.odoo_version or False,
                "module_count": facts.module_count,
            }
        )

    def _check_may_download(self) -> None:
        """A download is all of the environment's data: the role that may restore it."""
        self.ensure_one()
        environment = self.environment_id
        role = environment.project_id._effective_role(self.env.user)
        stage = self._access_stage()
        if self.state != "done" or not role_allows(role, stage):
            raise AccessError(
                self.env._(
                    "Downloading a backup of %(env)s needs the %(role)s role in its project.",
                    env=environment.display_name,
                    role=required_role(stage),
                )
            )

    def action_download(self):
        self.ensure_one()
        self._check_may_download()
        return {
            "type": "ir.actions.act_url",
            "url": f"/ipai_ops/backup/{self.id}/download",
            "target": "self",
        }

    def action_restore(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "ipai.ops.restore.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_backup_id": self.id},
        }

    @api.model
    def _cron_queue_prunes(self):
        """Called from a cron: apply each environment's retention to its storage target."""
        environments = self.sudo().search([("state", "=", "done")]).environment_id
        for environment in environments.filtered("backup_target_id"):
            environment._queue_system_run("prune", {})

    @api.model
    def _cron_queue_drills(self):
        """Called from a cron: restore-test the newest backup of every production environment."""
        for environment in self.sudo().search([("state", "=", "done")]).environment_id:
            if environment.stage != "production":
                continue
            newest = environment.backup_ids.filtered(lambda b: b.state == "done")[:1]
            environment._queue_system_run("drill", {"backup_id": newest.id})

    # --- work of the "backup" run ------------------------------------------------

    def _run_backup(self, run) -> dict:
        environment = run.environment_id
        target = environment._backup_target()
        backup = run.backup_id or self._start_backup(run, target)
        run._log_event_now("info", self.env._("Backing up %(db)s.", db=environment.database_name))
        result = backup_database(
            environment._engine_spec(),
            environment.database_name,
            target._engine_target(),
            filestore=environment._filestore_dir(),
            kind=backup.kind,
            progress=run._progress_reporter(),
        )
        backup._record_result(result.facts)
        if environment.offsite_target_id:
            replicate_set(
                target._engine_target(),
                environment.offsite_target_id._engine_target(),
                result.set_id,
            )
            backup.offsite_done = True
        return {"summary": result.summary, "result": {"set_id": result.set_id}}

    def _start_backup(self, run, target):
        """The backup's record, committed at once: it is seen "running" while it runs,
        and stays (marked failed) whatever happens to the run's own transaction."""
        with self.env.registry.cursor() as cr:
            backup_id = (
                self.with_env(self.env(cr=cr)).sudo().create(self._values_for(run, target)).id
            )
        run.backup_id = backup_id  # in the run's transaction: the other must not lock the run
        return self.browse(backup_id)

    def _on_backup_failed(self, run, error: Exception) -> None:
        backup = run.backup_id or self.search([("run_id", "=", run.id)], limit=1)
        if not backup and run.environment_id.backup_target_id:
            # failed before its record was committed (or with it, where the run's
            # transaction and that one are the same): the failure is listed all the same
            backup = self.create(self._values_for(run, run.environment_id.backup_target_id))
        backup.write({"state": "failed", "error": str(error), "finished_at": fields.Datetime.now()})
        run.environment_id._alert_backup_problem(
            self.env._(
                "Backup of %(env)s failed: %(error)s", env=run.environment_id.name, error=error
            )
        )

    def _values_for(self, run, target) -> dict:
        return {
            "environment_id": run.environment_id.id,
            "target_id": target.id,
            "run_id": run.id,
            "kind": (run.params or {}).get("kind", "manual"),
        }

    # --- work of the "restore" and "drill" runs -------------------------------------

    def _run_restore(self, run) -> dict:
        params = run.params or {}
        backup = self.browse(params["backup_id"]).exists()
        environment = run.environment_id
        mode = params.get("mode", "new")
        if not backup or backup.project_id != environment.project_id:
            raise UserError(self.env._("A backup is restored only within its own project."))
        if mode == "replace" and backup.environment_id != environment:
            raise UserError(self.env._("An environment is replaced only by its own backups."))
        result = restore_backup(
            environment.server_id._engine_spec(),
            backup._local_target(run),
            backup.set_id,
            environment.database_name,
            filestore=environment._filestore_dir(),
            mode=mode,
            force_disconnect=mode == "replace",
            allow_production=environment.stage == "production" and run._approved(),
            progress=run._progress_reporter(),
        )
        values = {"state": "ready"}
        if result.old_database:
            values |= {
                "previous_database": result.old_database,
                "previous_filestore": result.old_filestore or False,
            }
        environment.write(values)
        return {"summary": result.summary, "result": {"old_database": result.old_database}}

    def _on_restore_failed(self, run, error: Exception) -> None:
        if (run.params or {}).get("mode") == "new":  # nothing usable was made: no record left
            run.environment_id._retire_unbuilt(error)
        run.environment_id._alert_backup_problem(
            self.env._(
                "Restore into %(env)s failed: %(error)s", env=run.environment_id.name, error=error
            )
        )

    def _local_target(self, run):
        """This backup's local target, fetching the set from the off-site copy if it is gone."""
        self.ensure_one()
        local = self.target_id._engine_target()
        if self.set_id not in local.list_sets() and self.offsite_done:
            offsite = self.environment_id.offsite_target_id._engine_target()
            run._log_event_now("warning", self.env._("Fetching the off-site copy of the backup."))
            if isinstance(offsite, RemoteTarget):
                offsite.fetch_set(self.set_id, local)
            else:
                replicate_set(offsite, local, self.set_id)
        return local

    def _run_drill(self, run) -> dict:
        """Restore the backup into a scratch database, check it, drop it."""
        backup = self.browse((run.params or {}).get("backup_id"))
        if not backup.exists() or backup.state != "done":
            raise UserError(self.env._("There is no successful backup to drill."))
        run.backup_id = backup
        result, counts = drill_backup(
            run.environment_id.server_id._engine_spec(),
            backup._local_target(run),
            backup.set_id,
            run.environment_id.database_name,
            backup._drill_counts,
            progress=run._progress_reporter(),
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
        if modules != self.module_count:
            raise UserError(
                self.env._(
                    "Drill failed: %(found)s modules installed, the backup recorded %(expected)s.",
                    found=modules,
                    expected=self.module_count,
                )
            )
        return {"modules": modules, "users": users}

    def _on_drill_failed(self, run, error: Exception) -> None:
        if run.backup_id:
            run.backup_id.write(
                {
                    "drill_state": "failed",
                    "drill_date": fields.Datetime.now(),
                    "drill_message": str(error),
                }
            )
        run.environment_id._alert_backup_problem(
            self.env._(
                "Restore drill of %(env)s failed: %(error)s",
                env=run.environment_id.name,
                error=error,
            )
        )

    # --- work of the "prune" run ---------------------------------------------------

    def _run_prune(self, run) -> dict:
        environment = run.environment_id
        target = environment._backup_target()
        mine = self.search(
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
