import shutil
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ipai_ops.connection import connection
from ipai_ops.guards import drop_database
from ipai_ops.paths import path_under
from ipai_ops.restore import NAME_STEM

FRESHNESS_LIMIT = timedelta(hours=26)  # a daily backup may be late, not missing


class IpaiOpsEnvironment(models.Model):
    _inherit = "ipai.ops.environment"

    backup_enabled = fields.Boolean(
        string="Daily backups",
        compute="_compute_backup_enabled",
        store=True,
        readonly=False,
        help="Production environments are backed up every day; staging ones when enabled.",
    )
    backup_target_id = fields.Many2one(
        "ipai.ops.backup.target",
        string="Storage target",
        domain=[("kind", "=", "local")],
        default=lambda self: self._only_storage_target(),
    )
    offsite_target_id = fields.Many2one(
        "ipai.ops.backup.target", string="Off-site target", help="Receives a copy of each backup."
    )
    retention_daily = fields.Integer(default=7)

    @api.model
    def _only_storage_target(self):
        """The storage target of new environments when there is just one to choose."""
        targets = (
            self.env["ipai.ops.backup.target"].sudo().search([("kind", "=", "local")], limit=2)
        )
        return targets if len(targets) == 1 else False

    retention_weekly = fields.Integer(default=4)
    retention_monthly = fields.Integer(default=3)
    retention_manual_days = fields.Integer(string="Keep manual backups (days)", default=30)
    backup_before_update = fields.Boolean(
        default=True,
        help="Operations that change the database's code or data (module updates) first "
        "take a backup, and do not start unless it succeeded.",
    )
    backup_ids = fields.One2many("ipai.ops.backup", "environment_id", string="Backups")
    previous_database = fields.Char(
        readonly=True,
        help="The database a restore replaced, kept until it is discarded; it refuses new "
        "connections, so nothing writes to it by mistake.",
    )
    previous_filestore = fields.Char(readonly=True)
    last_backup_date = fields.Datetime(
        string="Last successful backup", compute="_compute_last_backup", store=True
    )
    backup_count = fields.Integer(compute="_compute_last_backup", store=True)

    def _project_admin_fields(self, creating: bool) -> set[str]:
        fields_ = super()._project_admin_fields(creating)
        if creating:
            return fields_
        fields_ |= {"retention_daily", "retention_weekly", "retention_monthly",
                    "retention_manual_days", "backup_before_update"}  # fmt: skip
        # production is always backed up unless an operations administrator decides otherwise
        if self.stage != "production":
            fields_.add("backup_enabled")
        return fields_

    def _ops_admin_fields(self, creating: bool) -> set[str]:
        # where the data goes is placement too
        return super()._ops_admin_fields(creating) | {
            "backup_enabled", "backup_target_id", "offsite_target_id", "retention_daily",
            "retention_weekly", "retention_monthly", "retention_manual_days",
            "backup_before_update",
        }  # fmt: skip

    @api.constrains("backup_target_id")
    def _check_backup_target(self):
        for environment in self:
            if environment.backup_target_id.kind == "remote":
                raise ValidationError(
                    self.env._(
                        "Backups are written to a directory target; use the remote one as the "
                        "off-site target."
                    )
                )

    @api.depends("stage")
    def _compute_backup_enabled(self):
        for environment in self:
            environment.backup_enabled = environment.stage == "production"

    @api.depends("backup_ids.state", "backup_ids.finished_at")
    def _compute_last_backup(self):
        for environment in self:
            done = environment.backup_ids.filtered(lambda b: b.state == "done")
            environment.backup_count = len(done)
            environment.last_backup_date = max(done.mapped("finished_at"), default=False)

    def _retention_policy(self):
        from ipai_ops.retention import RetentionPolicy  # noqa: PLC0415 - engine import

        self.ensure_one()
        return RetentionPolicy(
            self.retention_daily,
            self.retention_weekly,
            self.retention_monthly,
            self.retention_manual_days,
        )

    def _backup_target(self):
        """The storage target backups of this environment go to; a clear error without."""
        self.ensure_one()
        if not self.backup_target_id:
            raise UserError(self.env._("%(env)s has no storage target for backups.", env=self.name))
        return self.backup_target_id

    def _copy_values(self, stage: str, database: str, name: str) -> dict:
        return {**super()._copy_values(stage, database, name),
                "backup_target_id": self.backup_target_id.id}  # fmt: skip

    def _run_discard(self, run) -> dict:
        """Drop the database (and filestore) a restore replaced — and only that."""
        environment = run.environment_id
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

    def action_backup_now(self):
        self.ensure_one()
        self._queue_run("backup", {"kind": "manual"})
        return self.action_open_runs()

    def _queue_after_backup(self, kind: str, params: dict | None = None):
        """Queue ``kind`` behind a fresh 'before update' backup, when the environment asks
        for one; the operation is cancelled if that backup fails.

        This is the hook module updates go through.
        """
        self.ensure_one()
        if not (self.backup_before_update and self.backup_target_id):
            return self._queue_run(kind, params)
        backup = self._queue_run("backup", {"kind": "pre-update"})
        return self._queue_run(kind, params, after=backup)

    def action_discard_previous(self):
        self.ensure_one()
        if not self.previous_database:
            raise UserError(self.env._("There is no replaced database to discard."))
        self._queue_run("discard", {"database": self.previous_database})
        return self.action_open_runs()

    def action_drill_now(self):
        """Restore-test the newest backup now (the weekly cron does it for production)."""
        self.ensure_one()
        newest = self.backup_ids.filtered(lambda b: b.state == "done")[:1]
        if not newest:
            raise UserError(self.env._("%(env)s has no successful backup to drill.", env=self.name))
        self._queue_run("drill", {"backup_id": newest.id})
        return self.action_open_runs()

    def action_prune_now(self):
        """Apply the retention policy to the storage target now."""
        self.ensure_one()
        self._queue_run("prune", {})
        return self.action_open_runs()

    def action_open_backups(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "ipai_ops_backup.action_ipai_ops_backup"
        )
        action["domain"] = [("environment_id", "=", self.id)]
        return action

    @api.model
    def _cron_schedule_backups(self):
        """Called from a cron (hourly): queue today's backups, flag stale environments."""
        hour = int(self.env["ir.config_parameter"].sudo().get_param("ipai_ops_backup.hour", 2))
        now = fields.Datetime.now()
        due_after = now.replace(hour=hour, minute=0, second=0, microsecond=0)
        if now < due_after:
            due_after -= timedelta(days=1)
        Run = self.env["ipai.ops.run"].sudo()
        for environment in self.sudo().search([("backup_enabled", "=", True)]):
            already = Run.search_count(
                [
                    ("environment_id", "=", environment.id),
                    ("kind", "=", "backup"),
                    ("queued_at", ">=", due_after),
                    ("state", "in", ("queued", "running", "done")),
                ]
            )
            if not already:
                environment._queue_system_run("backup", {"kind": "scheduled"})
            environment._check_backup_freshness(now)

    def _backup_staleness(self, now) -> str | None:
        """The one rule for a late backup (the alerts of monitoring use it too)."""
        self.ensure_one()
        if not self.backup_enabled:
            return None
        if self.last_backup_date and now - self.last_backup_date <= FRESHNESS_LIMIT:
            return None
        if self.create_date and now - self.create_date <= FRESHNESS_LIMIT:
            return None  # a new environment has had no chance yet
        hours = int(FRESHNESS_LIMIT.total_seconds() // 3600)
        return self.env._(
            "%(env)s has no successful backup in the last %(hours)s hours.",
            env=self.name, hours=hours,
        )  # fmt: skip

    def _check_backup_freshness(self, now):
        self.ensure_one()
        if message := self._backup_staleness(now):
            self._alert_backup_problem(message)

    def _alert_backup_problem(self, message: str) -> None:
        """Post on the chatter and give each project admin one open to-do about it."""
        self.ensure_one()
        activity_type = self.env.ref("ipai_ops_backup.mail_activity_backup_problem")
        open_ones = self.sudo().activity_ids.filtered(lambda a: a.activity_type_id == activity_type)
        if open_ones:  # one open backup problem per admin, whatever its wording
            self.sudo().message_post(body=message, subtype_xmlid="mail.mt_note")
            return
        self._notify_admins_once(activity_type, message)

    def _request_approved_run(self, kind: str, params: dict):
        """Queue a run that waits for a second project admin's approval."""
        self.ensure_one()
        self._check_may_run(kind)
        run = self._create_run(kind, params, requester=self.env.user, state="waiting")
        run._log_event(
            "warning",
            self.env._(
                "Requested by %(user)s; waiting for another project admin's approval.",
                user=self.env.user.name,
            ),
        )
        approval = (
            self.env["ipai.ops.approval"]
            .sudo()
            .create({"run_id": run.id, "requester_id": self.env.uid})
        )
        approval._notify_approvers()
        return run.sudo(False)
