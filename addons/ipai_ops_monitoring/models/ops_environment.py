from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ipai_ops.activity import signal_backend

ALERT_THRESHOLDS = frozenset({
    "alert_growth_mb_day", "alert_regression_pct", "alert_long_query_s",
    "alert_blocked_sessions", "alert_cache_hit_pct", "alert_connections_pct",
})  # fmt: skip


class IpaiOpsEnvironment(models.Model):
    _inherit = "ipai.ops.environment"

    monitoring_enabled = fields.Boolean(
        compute="_compute_monitoring_enabled",
        store=True,
        readonly=False,
        help="Sample pg_stat_statements, sizes and activity every few minutes (production by "
        "default).",
    )
    pgss_state = fields.Json(
        groups="ipai_ops_core.group_ops_admin",
        help="The previous sample's cumulative counters, to compute the next deltas.",
    )
    pgss_evicted_at = fields.Datetime(
        string="Statements evicted",
        readonly=True,
        help="When pg_stat_statements last had to evict entries (pg_stat_statements.max is "
        "too small): figures of windows including it are lower bounds.",
    )
    pgss_rolled_up_until = fields.Datetime(
        readonly=True, help="Samples up to this moment are counted in the daily totals."
    )
    modules_digest = fields.Char(
        readonly=True, copy=False, help="A digest of the installed modules and versions, last seen."
    )
    module_versions = fields.Json(
        readonly=True, copy=False, help="The installed modules, last seen."
    )
    module_change_ids = fields.One2many(
        "ipai.ops.module.change", "environment_id", string="Module updates"
    )
    alert_growth_mb_day = fields.Float(string="Growth per day (MiB)", default=1024)
    alert_regression_pct = fields.Float(string="Query slower by (%)", default=50)
    alert_long_query_s = fields.Integer(string="Query running longer than (s)", default=300)
    alert_blocked_sessions = fields.Integer(string="Blocked sessions", default=1)
    alert_cache_hit_pct = fields.Float(string="Cache hit below (%)", default=99)
    alert_connections_pct = fields.Float(string="Connections above (% of max)", default=80)
    alert_ids = fields.One2many("ipai.ops.alert", "environment_id", string="Alerts")
    open_alert_count = fields.Integer(compute="_compute_open_alert_count")

    def _project_admin_fields(self, creating: bool) -> set[str]:
        fields_ = super()._project_admin_fields(creating)
        if creating:
            return fields_
        fields_ |= ALERT_THRESHOLDS
        if self.stage != "production":  # production is always watched
            fields_.add("monitoring_enabled")
        return fields_

    def _ops_admin_fields(self, creating: bool) -> set[str]:
        return super()._ops_admin_fields(creating) | ALERT_THRESHOLDS | {"monitoring_enabled"}

    @api.depends("stage")
    def _compute_monitoring_enabled(self):
        for environment in self:
            environment.monitoring_enabled = environment.stage == "production"

    def _compute_open_alert_count(self):
        for environment in self:
            environment.open_alert_count = len(
                environment.alert_ids.filtered(lambda a: a.state == "open")
            )

    def action_snapshot_now(self):
        self.ensure_one()
        self._queue_run("snapshot")
        return self.action_open_runs()

    def action_top_queries(self):
        self.ensure_one()
        wizard = self.env["ipai.ops.top.queries"].create({"environment_id": self.id})
        wizard.action_refresh()
        return {
            "type": "ir.actions.act_window",
            "res_model": "ipai.ops.top.queries",
            "res_id": wizard.id,
            "view_mode": "form",
        }

    @api.model
    def _cron_queue_snapshots(self):
        """Called from a cron: one snapshot run per monitored environment, never two at once."""
        Run = self.env["ipai.ops.run"].sudo()
        for environment in self.sudo().search([("monitoring_enabled", "=", True)]):
            pending = Run.search_count(
                [("environment_id", "=", environment.id), ("kind", "=", "snapshot"),
                 ("state", "in", ("queued", "running"))], limit=1,
            )  # fmt: skip
            if not pending:
                environment._queue_system_run("snapshot", {})

    # --- work of the "signal" run -----------------------------------------------

    def _run_signal(self, run) -> dict:
        params = run.params or {}
        if not run.requester_id.has_group("ipai_ops_core.group_ops_admin"):
            raise AccessError(self.env._("Only operations administrators may stop a backend."))
        done = signal_backend(
            run.environment_id.server_id._engine_spec(),
            int(params["pid"]),
            database=run.environment_id.database_name,
            terminate=bool(params.get("terminate")),
        )
        what = self.env._("terminated") if params.get("terminate") else self.env._("cancelled")
        return {
            "summary": self.env._("Backend %(pid)s %(what)s.", pid=params["pid"], what=what)
            if done
            else self.env._("Backend %(pid)s could not be signalled.", pid=params["pid"])
        }

    def _sees_statements(self) -> bool:
        """Statement texts (which may hold personal data) are for the project's testers
        and admins, and operations administrators (nobody, before an environment is chosen)."""
        return bool(self) and self.project_id._effective_role(self.env.user) in ("tester", "admin")

    def _copy_login(self):
        """The login of the role this environment's own code runs as, when the addons
        installed give it one (the runtime does, for environments it runs): statements
        planned in its database then call its owner's functions as that role, not as the
        server's. None: the server's role, as before."""
        database_login = getattr(self, "_database_login", None)
        return database_login() if database_login else None

    def _explain_target(self):
        """Where this environment's statements are explained: itself unless it holds
        production data, else the newest ready staging copy of the project."""
        self.ensure_one()
        if self.stage != "production" and self.data_class != "production":
            return self
        copies = self.sudo().search(
            [("project_id", "=", self.project_id.id), ("stage", "=", "staging"),
             ("state", "=", "ready"), ("data_class", "in", ("masked", "neutralized"))],
            order="id desc", limit=1,
        )  # fmt: skip
        if not copies:
            raise UserError(
                self.env._(
                    "EXPLAIN runs on a copy, never on production: %(project)s has no ready "
                    "staging copy. Make one (Create a copy), then explain again.",
                    project=self.project_id.display_name,
                )
            )
        return copies
