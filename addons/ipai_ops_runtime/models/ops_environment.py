import dataclasses
import logging
import re
import zlib
from contextlib import contextmanager
from pathlib import Path

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, config

from odoo.addons.ipai_ops_core.models.ops_environment import REDACTED

from ipai_ops.connection import connection
from ipai_ops.errors import EngineUnreachable, OpsError, RuntimeHostError
from ipai_ops.identifiers import database_exists
from ipai_ops.instance_role import adopt_database, ensure_role, role_name, role_password
from ipai_ops.runtime import instance

_logger = logging.getLogger(__name__)

INSTANCE_STATES = [
    ("none", "Not deployed"),
    ("running", "Running"),
    ("stopped", "Stopped"),
    ("down", "Down"),  # should run, but the last health check failed
    ("failed", "Failed"),  # the last deploy left nothing running
]
RESTART_POLICIES = [("never", "Never"), ("on_failure", "When it is down")]
INSTANCE_KINDS = ("instance_deploy", "instance_start", "instance_stop", "instance_restart",
                  "instance_update", "instance_own_role")  # fmt: skip
MODULE_NAME = re.compile(r"[a-z0-9_]{1,64}")
LOG_LINES = 200  # lines of an instance's log kept with a deploy run
LOCK_NAMESPACE = zlib.crc32(b"ipai_ops.instance")  # advisory locks: one operation at a time


class IpaiOpsEnvironment(models.Model):
    _inherit = "ipai.ops.environment"

    runtime_host_id = fields.Many2one(
        "ipai.ops.runtime.host",
        groups="ipai_ops_core.group_ops_admin",
        ondelete="restrict",
        tracking=True,
        help="The Docker engine this environment's Odoo runs on (operations administrators "
        "place environments, as they place databases).",
    )
    has_runtime_host = fields.Boolean(compute="_compute_has_runtime_host")
    instance_state = fields.Selection(
        INSTANCE_STATES, default="none", required=True, readonly=True, tracking=True
    )
    instance_url = fields.Char(string="URL", readonly=True)
    instance_port = fields.Integer(string="Port", readonly=True)
    instance_image = fields.Char(string="Image", readonly=True)
    instance_deployed_at = fields.Datetime(string="Deployed", readonly=True)
    instance_checked_at = fields.Datetime(string="Last health check", readonly=True)
    instance_latency_ms = fields.Float(string="Latency (ms)", readonly=True, digits=(16, 1))
    instance_health = fields.Char(string="Health", readonly=True)
    restart_policy = fields.Selection(
        RESTART_POLICIES,
        default="on_failure",
        required=True,
        help="What the health check does when the instance is down.",
    )

    def _compute_has_runtime_host(self):
        for environment in self:
            environment.has_runtime_host = bool(environment.sudo().runtime_host_id)

    instance_memory_mb = fields.Integer(
        string="Memory (MiB)",
        groups="ipai_ops_core.group_ops_admin",
        help="This environment's instances' memory limit; 0: the host's for its stage.",
    )
    instance_cpus = fields.Float(
        string="CPUs",
        groups="ipai_ops_core.group_ops_admin",
        help="This environment's instances' CPU limit; 0: the host's for its stage.",
    )

    def _project_admin_fields(self, creating: bool) -> set[str]:
        return super()._project_admin_fields(creating) | ({"restart_policy"} if self else set())

    def _ops_admin_fields(self, creating: bool) -> set[str]:
        return super()._ops_admin_fields(creating) | {
            "runtime_host_id", "restart_policy", "instance_memory_mb", "instance_cpus"}  # fmt: skip

    def write(self, vals):
        self._check_writable(vals)  # who may place comes first: the refusal tells nothing
        moved = "runtime_host_id" in vals and self.filtered(
            lambda e: e.instance_state != "none" and e.sudo().runtime_host_id.id
            != vals["runtime_host_id"]
        )  # fmt: skip
        if moved:
            raise UserError(
                self.env._(
                    "%(env)s runs on its host: stop it there before placing it on another.",
                    env=moved[0].display_name,
                )
            )
        return super().write(vals)

    def _copy_values(self, stage: str, database: str, name: str) -> dict:
        """A copy runs where its source runs: one click on Deploy, no placement to wait for
        (the source's host was an operations administrator's choice)."""
        values = super()._copy_values(stage, database, name)
        return {**values, "runtime_host_id": self.sudo().runtime_host_id.id}

    # --- what an instance is made of ----------------------------------------------

    def _mail_catcher_address(self) -> tuple[str, int] | None:
        """A copy placed on a runtime host sends its mail to the host's catcher, unless
        the project names a catcher of its own."""
        address = super()._mail_catcher_address()
        host = self.sudo().runtime_host_id
        if address or not host:
            return address
        return host._mail_catcher()

    def _container_names(self) -> tuple[str, str]:
        """(project, environment) as the containers' labels and names say them."""
        return self.project_id.code, f"env-{self.id}"

    def _code_dirs(self) -> tuple[Path, ...]:
        """The environment's own addons directories; Odoo's are in the base image already."""
        dirs = []
        for entry in (self.addons_path or "").split(","):
            path = Path(entry.strip())
            if (
                entry.strip()
                and not (path / "web" / "__manifest__.py").is_file()
                and not (path / "base" / "__manifest__.py").is_file()
            ):
                dirs.append(path)
        return tuple(dirs)

    def _instance_spec(self) -> instance.InstanceSpec:
        self.ensure_one()
        host = self.sudo().runtime_host_id
        if not host:
            raise UserError(
                self.env._(
                    "%(env)s has no runtime host: an operations administrator places it on one.",
                    env=self.display_name,
                )
            )
        project, name = self._container_names()
        return instance.InstanceSpec(
            project=project,
            environment=name,
            base_image=host.base_image,
            addons_dirs=self._code_dirs(),
            server=self._instance_server(),
            db_name=self.database_name,
            http_port=self.instance_port or None,
            port_range=(host.port_low, host.port_high),
            workers=host.workers,
            bind=host.listen_address,
            network=host._network(),
            filestore_dir=self._filestore_dir(),
            **self._instance_limits(host),
        )

    def _instance_limits(self, host) -> dict:
        """What the environment's containers may use: its own limits where an operations
        administrator set them, else the host's for its stage."""
        production = self.stage == "production"
        memory = host.memory_mb if production else host.branch_memory_mb
        cpus = host.cpus if production else host.branch_cpus
        return {
            "memory_mb": self.sudo().instance_memory_mb or memory,
            "cpus": self.sudo().instance_cpus or cpus,
            "pids": host.pids_limit,
        }

    # --- the role a branch's code logs in as ----------------------------------------

    def _database_login(self):
        """An environment on a runtime host runs a branch's code, which whoever can push
        writes: it logs in as the environment's own role, owner of its databases and of
        nothing else. Production does once its database was given to that role (the run
        *Give production its own database role*); until then, as the server's role."""
        login = super()._database_login()
        if login or not self.sudo().runtime_host_id:
            return login
        if self.stage == "production" and not self._owns_its_database():
            return None
        return self._own_role_login()

    def _own_role_login(self):
        server = self.server_id._engine_spec()
        role = self._role_name()
        password, new = role_password(self._roles_dir(), role)
        ensure_role(server, role, password, renew=new)
        return dataclasses.replace(server, user=role, password=password)

    def _owns_its_database(self) -> bool:
        """Whether the environment's database belongs to the environment's own role."""
        with connection(self.server_id._engine_spec()) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT pg_get_userbyid(datdba) = %s FROM pg_database WHERE datname = %s",
                (self._role_name(), self.database_name),
            )
            row = cur.fetchone()
        return bool(row and row[0])

    def _role_name(self) -> str:
        # the control plane's uuid in the name: two control planes may share a server
        uuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid", "")
        return role_name(self.project_id.code, f"{uuid[:8]}-{self.id}")

    def _roles_dir(self) -> Path:
        return Path(config["data_dir"]) / "ipai_ops" / "roles"

    def _instance_server(self):
        """Whom the instance logs in as; its database is handed to that role first (a
        production database never is)."""
        login = self._database_login()
        if login is None:
            return self._engine_spec()
        if self.database_name and self.stage != "production":
            adopt_database(self.server_id._engine_spec(), self.database_name, login.user)
        return login.for_database(self.database_name)

    def _redact(self, text: str | None) -> str | None:
        """The environment role's password is hidden too."""
        text = super()._redact(text)
        if not text:
            return text
        secret = self._roles_dir() / self._role_name()
        password = secret.read_text(encoding="ascii").strip() if secret.is_file() else ""
        return text.replace(password, REDACTED) if password else text

    def _lock_instance(self) -> None:
        """One instance operation per environment at a time (held until the run ends)."""
        self.env.cr.execute(SQL("SELECT pg_advisory_xact_lock(%s, %s)", LOCK_NAMESPACE, self.id))

    def _check_database_exists(self) -> None:
        with connection(self.server_id._engine_spec()) as conn:
            if not database_exists(conn, self.database_name):
                raise UserError(
                    self.env._(
                        "The database %(db)s does not exist on %(server)s: copy or restore "
                        "into this environment before deploying it.",
                        db=self.database_name,
                        server=self.server_id.name,
                    )
                )

    def _say(self, run):
        return lambda message: run._log_event_now("info", message)

    def _record_instance(self, status, **values) -> None:
        """Write what the engine says now on the environment."""
        host = self.sudo().runtime_host_id
        project, name = self._container_names()
        state = {"running": "running", "missing": "none"}.get(status.state, "stopped")
        self.sudo().write(
            {
                "instance_state": state,
                "instance_port": status.http_port or self.instance_port,
                "instance_url": host._url(project, name, status.http_port)
                if status.http_port
                else False,
                "instance_image": status.image or False,
                **values,
            }
        )

    def _attach_log(self, run, text: str | None, name: str) -> None:
        """Keep a log with the run, the database password blanked."""
        if text:
            self.env["ipai.ops.run.log"].sudo().create(
                {"run_id": run.id, "name": f"{run.name}-{name}.log", "text": self._redact(text)}
            )

    # --- the runs' work -----------------------------------------------------------

    def _instance_client(self, run):
        environment = run.environment_id
        environment._lock_instance()
        return environment, environment._instance_spec(), environment._host_client()

    def _host_client(self):
        """The host's engine; its endpoint and TLS files are named to no one but the
        server's log (and the host's own Test connection, for operations administrators)."""
        host = self.sudo().runtime_host_id
        try:
            return host._client()
        except EngineUnreachable as exc:
            _logger.warning("runtime host %s: %s", host.name, exc)
            raise RuntimeHostError(
                self.env._(
                    "The environment's runtime host does not answer; operations "
                    "administrators see why with its Test connection."
                )
            ) from None

    @contextmanager
    def _engine_errors(self):
        """An engine failure fails the run with its first line: its whole text quotes the
        instance's log, which only those who may operate the environment read (it is kept
        with the run for them)."""
        try:
            yield
        except EngineUnreachable as exc:
            _logger.warning("runtime host of %s went away: %s", self.display_name, exc)
            raise RuntimeHostError(
                self.env._("The environment's runtime host stopped answering during the operation.")
            ) from None
        except RuntimeHostError as exc:
            text = str(exc)
            first = text.splitlines()[0].rstrip(":") if text else type(exc).__name__
            whole = "\n\n".join(part for part in (text, exc.log) if part)
            raise RuntimeHostError(
                self.env._("%(what)s. The whole log is kept with this run.", what=first),
                log=whole,
            ) from None

    def _run_instance_deploy(self, run) -> dict:
        environment, spec, client = self._instance_client(run)
        environment._check_database_exists()
        with self._engine_errors():
            status = instance.deploy(client, spec, progress=self._say(run))
        environment._keep_server_log(run, client, spec)
        environment._record_instance(status, instance_deployed_at=fields.Datetime.now())
        return environment._instance_outcome(
            status, self.env._("Running at %(url)s.", url=environment.instance_url)
        )

    def _keep_server_log(self, run, client, spec) -> None:
        """The log of the instance now serving, since it started, kept with the run."""
        with self._engine_errors():
            log = instance.logs(client, spec.project, spec.environment, LOG_LINES)
        self._attach_log(run, log, "instance")

    def _run_instance_start(self, run) -> dict:
        environment, spec, client = self._instance_client(run)
        with self._engine_errors():
            status = instance.start(client, spec)
        environment._record_instance(status)
        return environment._instance_outcome(
            status, self.env._("Started at %(url)s.", url=environment.instance_url)
        )

    def _run_instance_stop(self, run) -> dict:
        environment, spec, client = self._instance_client(run)
        with self._engine_errors():
            status = instance.stop(client, spec)
        environment._record_instance(status)
        return environment._instance_outcome(status, self.env._("Stopped."))

    def _run_instance_restart(self, run) -> dict:
        environment, spec, client = self._instance_client(run)
        with self._engine_errors():
            status = instance.rolling_restart(client, spec, progress=self._say(run))
        environment._record_instance(status)
        return environment._instance_outcome(
            status,
            self.env._("Restarted without downtime at %(url)s.", url=environment.instance_url),
        )

    def _run_instance_own_role(self, run) -> dict:
        """Give production's database, objects included, to the environment's own role,
        then restart its instance logged in as that role (behind a backup: the run waits
        for the one queued before it)."""
        environment = run.environment_id
        if environment.stage != "production":
            raise UserError(self.env._("Only production is given its own role this way."))
        environment._lock_instance()
        login = environment._own_role_login()
        with self._engine_errors():
            changed = adopt_database(
                environment.server_id._engine_spec(), environment.database_name, login.user,
                production=True,
            )  # fmt: skip
        summary = self.env._(
            "%(db)s now belongs to %(role)s; the server's role stays a member of it.",
            db=environment.database_name, role=login.user,
        )  # fmt: skip
        if environment.instance_state in ("running", "down"):
            client = environment._host_client()
            with self._engine_errors():
                status = instance.rolling_restart(client, environment._instance_spec(),
                                                  progress=self._say(run))  # fmt: skip
            environment._record_instance(status)
            summary += " " + self.env._("Its instance now logs in as that role.")
        return {"summary": summary, "result": {"role": login.user, "changed": changed}}

    def _run_instance_update(self, run) -> dict:
        environment, spec, client = self._instance_client(run)
        modules = environment._valid_modules((run.params or {}).get("modules"))
        with self._engine_errors():
            status, log = instance.update_modules(client, spec, modules, progress=self._say(run))
        environment._attach_log(run, log, "update")
        environment._record_instance(status, instance_deployed_at=fields.Datetime.now())
        return environment._instance_outcome(
            status,
            self.env._("Updated %(modules)s; serving the new code.", modules=", ".join(modules)),
        )

    def _restart_on_restored_data(self, run) -> None:
        """Restart without downtime after a restore; the restore stands whatever happens."""
        self._lock_instance()
        run._log_event_now("info", self.env._("Restarting the instance on the restored data."))
        try:
            spec, client = self._instance_spec(), self._host_client()
            with self._engine_errors():
                status = instance.rolling_restart(client, spec, progress=self._say(run))
        except (OpsError, UserError) as exc:
            _logger.warning("restart of %s after a restore failed: %s", self.name, exc)
            run._log_event_now(
                "warning",
                self.env._(
                    "The data is restored, but the instance did not restart (%(error)s): "
                    "restart it before anyone uploads files.",
                    error=exc,
                ),
            )
            return
        self._record_instance(status)

    def _instance_outcome(self, status, summary: str) -> dict:
        return {
            "summary": summary,
            "result": {
                "state": status.state,
                "url": self.instance_url or None,
                "image": status.image,
                "container": (status.container_id or "")[:12] or None,
            },
        }

    def _on_instance_failed(self, run, error: Exception) -> None:
        """Keep the failed operation's whole log, and say what runs now."""
        environment = run.environment_id
        environment._attach_log(run, getattr(error, "log", None), "failure")
        try:
            project, name = environment._container_names()
            status = instance.status(environment._host_client(), project, name)
        except (OpsError, UserError) as exc:
            _logger.warning("could not read %s's instance: %s", environment.name, exc)
            return
        if status.state == "running":
            environment._record_instance(status)
            note = self.env._("The previous instance goes on serving at %(url)s.",
                              url=environment.instance_url)  # fmt: skip
        else:
            environment._record_instance(status)
            if run.kind == "instance_deploy":
                environment.sudo().instance_state = "failed"
            note = self.env._("Nothing serves this environment now.")
        if run.kind == "instance_update":
            note += " " + self.env._(
                "The update may have changed the database before it failed: restore the "
                "'Before update' backup (Backups) to go back to where it was."
            )
        run._log_event("warning", note)

    def _valid_modules(self, modules) -> list[str]:
        names = [m.strip() for m in (modules or []) if isinstance(m, str) and m.strip()]
        if not names or not all(MODULE_NAME.fullmatch(m) for m in names):
            raise UserError(
                self.env._("Name the modules to update by their technical names (my_module).")
            )
        return names

    # --- actions ------------------------------------------------------------------

    def _queue_instance(self, kind: str, params: dict | None = None):
        self.ensure_one()
        self.check_access("read")  # a hidden environment is refused without its name
        self._check_may_run(kind)
        if not self.has_runtime_host:
            raise UserError(
                self.env._(
                    "%(env)s has no runtime host: an operations administrator places it on one.",
                    env=self.display_name,
                )
            )
        if kind == "instance_update":
            return self._queue_after_backup(kind, params)
        return self._queue_run(kind, params)

    def action_instance_deploy(self):
        self._queue_instance("instance_deploy")
        return self.action_open_runs()

    def action_instance_start(self):
        self._queue_instance("instance_start")
        return self.action_open_runs()

    def action_instance_stop(self):
        self._queue_instance("instance_stop")
        return self.action_open_runs()

    def action_instance_restart(self):
        self._queue_instance("instance_restart")
        return self.action_open_runs()

    def action_instance_own_role(self):
        """Give production its own database role, behind a backup (operations
        administrators: it changes who owns production's objects)."""
        self.ensure_one()
        self.check_access("read")
        if not self.env.user.has_group("ipai_ops_core.group_ops_admin"):
            raise AccessError(
                self.env._("Only operations administrators give production its own role.")
            )
        if self.stage != "production" or not self.has_runtime_host:
            raise UserError(
                self.env._("Only production, placed on a runtime host, is given its own role.")
            )
        if not self.backup_target_id:
            raise UserError(
                self.env._(
                    "%(env)s needs a storage target: its database changes owner only behind "
                    "a backup.",
                    env=self.display_name,
                )
            )
        backup = self._queue_run("backup", {"kind": "pre-update"})
        self._queue_run("instance_own_role", after=backup)
        return self.action_open_runs()

    def action_instance_update(self):
        """Ask which modules to update (the wizard queues the run)."""
        self.ensure_one()
        self.check_access("read")
        self._check_may_run("instance_update")
        return {
            "type": "ir.actions.act_window",
            "res_model": "ipai.ops.instance.update",
            "view_mode": "form",
            "target": "new",
            "context": {"default_environment_id": self.id},
        }

    def action_instance_logs(self):
        self.ensure_one()
        self._check_may_read_logs()
        wizard = self.env["ipai.ops.instance.log"].create({"environment_id": self.id})
        wizard.action_refresh()
        return {
            "type": "ir.actions.act_window",
            "res_model": "ipai.ops.instance.log",
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
        }

    def _check_may_read_logs(self) -> None:
        """An instance's log is read by those who may operate it: it can quote the data."""
        self.check_access("read")
        self._check_may_run("instance_restart")

    def _may_read_logs(self) -> bool:
        self.ensure_one()
        return self.has_access("read") and self._may_run("instance_restart")

    def _instance_logs(self, lines: int) -> str:
        self.ensure_one()
        self._check_may_read_logs()
        project, name = self._container_names()
        try:
            text = instance.logs(self._host_client(), project, name, tail=lines)
        except OpsError as exc:
            raise UserError(str(exc)) from None
        return self._redact(text)

    # --- health -------------------------------------------------------------------

    @api.model
    def _cron_check_instances(self):
        """Called from a cron: check every instance that should run; alert and restart by
        policy when one is down, clear the alert when it is back."""
        environments = self.sudo().search(
            [("instance_state", "in", ("running", "down")), ("runtime_host_id", "!=", False)]
        )
        for host in environments.runtime_host_id:
            on_host = environments.filtered(lambda e, host=host: e.runtime_host_id == host)
            on_host._repair_host(host)
        for environment in environments:
            environment._check_instance()

    def _repair_host(self, host) -> None:
        """The host's own services first: an instance behind a stopped router is down for
        its users however healthy it is. Alerts these environments while it fails."""
        copies_here = any(e.stage != "production" for e in self)
        repaired = host._repair_services(copies_here)
        # project roles see this alert: hosts are named to operations administrators only
        message = self.env._(
            "The runtime host does not answer, or its router or mail catcher could not be "
            "started again; operations administrators see why on the host and in the server log."
        )
        for environment in self:
            self.env["ipai.ops.alert"]._update(
                environment, "host_service_down", not repaired, 0.0, message
            )

    def _check_instance(self) -> None:
        host = self.runtime_host_id
        check = instance.health(self.instance_port, host.public_host or host.listen_address)
        if check.ok:
            check = instance.login_page(self.instance_port, host.public_host or host.listen_address)
        values = {
            "instance_checked_at": fields.Datetime.now(),
            "instance_latency_ms": check.latency_ms or 0.0,
            "instance_health": check.detail,
        }
        pending = self.env["ipai.ops.run"].search_count(
            [("environment_id", "=", self.id), ("kind", "in", INSTANCE_KINDS),
             ("state", "in", ("queued", "running", "retrying", "waiting"))]
        )  # fmt: skip
        if pending:  # an operation is changing the instance: its outcome will tell
            self.write(values)
            return
        self.write({**values, "instance_state": "running" if check.ok else "down"})
        message = self.env._(
            "%(env)s does not answer at %(url)s: %(detail)s",
            env=self.display_name, url=self.instance_url, detail=check.detail,
        )  # fmt: skip
        self.env["ipai.ops.alert"]._update(self, "instance_down", not check.ok, 0.0, message)
        if not check.ok and self.restart_policy == "on_failure":
            self._queue_system_run("instance_restart")
