import logging
import os
import re
import string

import docker.errors

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ipai_ops.errors import OpsError, RuntimeHostError
from ipai_ops.runtime import catcher, engine, front

_logger = logging.getLogger(__name__)

ENDPOINT = re.compile(r"(unix:///\S+|tcp://[A-Za-z0-9.\-\[\]:]+:\d+)")
NETWORK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
URL_FIELDS = ("project", "environment", "port")


class IpaiOpsRuntimeHost(models.Model):
    """A Docker engine that runs environments' Odoo instances: where, and with what.

    Only operations administrators see or change hosts: the endpoint, the image and the
    ports decide what runs on a machine, and no project role may decide that.
    """

    _name = "ipai.ops.runtime.host"
    _description = "Operations: runtime host"
    _inherit = ["mail.thread"]
    _order = "name"

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True)
    endpoint = fields.Char(
        required=True,
        default="unix:///var/run/docker.sock",
        tracking=True,
        help="The Docker engine: unix:///path/to/docker.sock, or tcp://host:2376 with TLS.",
    )
    tls_ca_file = fields.Char(
        string="TLS CA file", help="For tcp://: the CA certificate file on the Odoo server."
    )
    tls_cert_file = fields.Char(string="TLS certificate file")
    tls_key_file = fields.Char(
        string="TLS key file",
        help="The client key, as a file on the Odoo server (readable by Odoo's user only); "
        "never stored here.",
    )
    base_image = fields.Char(default="odoo:19", required=True, tracking=True)
    port_low = fields.Integer(string="First port", default=18069, required=True)
    port_high = fields.Integer(string="Last port", default=18169, required=True)
    listen_address = fields.Char(
        default="127.0.0.1",
        required=True,
        help="Where the host's router listens for the environments' ports. Instances "
        "themselves listen on the host's loopback only.",
    )
    public_host = fields.Char(
        default="127.0.0.1",
        help="The host name clients use to reach this host (in environments' URLs).",
    )
    url_template = fields.Char(
        string="URL template",
        help="Behind a reverse proxy: the environments' URL, e.g. "
        "https://{environment}.{project}.example.com (fields: project, environment, port).",
    )
    mail_catcher_port = fields.Integer(
        default=2525,
        required=True,
        help="Where the host's mail catcher listens (on the host's loopback): every staging "
        "and development instance of the host sends its mail there, to be kept, not sent.",
    )
    network = fields.Char(
        string="Docker network",
        help="Empty: containers share the host's network and listen on its loopback. "
        "Otherwise a bridge or overlay network of this engine: every instance, one-off run "
        "and the mail catcher get a network namespace of their own on it, and instances' "
        "ports are published on the host's loopback for its router only. PostgreSQL must "
        "then be named by an address that network reaches.",
    )
    workers = fields.Integer(default=0, help="Odoo workers per instance (0: threaded server).")
    memory_mb = fields.Integer(
        string="Production memory (MiB)", help="Per production instance; 0: no limit."
    )
    cpus = fields.Float(string="Production CPUs", help="Per production instance; 0: no limit.")
    branch_memory_mb = fields.Integer(
        string="Staging and development memory (MiB)",
        default=2048,
        help="Per instance of a branch's code, and per one-off run of it (tests, updates): "
        "a runaway test must not starve production on the same host. 0: no limit.",
    )
    branch_cpus = fields.Float(
        string="Staging and development CPUs", default=1.0, help="Likewise; 0: no limit."
    )
    pids_limit = fields.Integer(
        string="Processes per container",
        default=512,
        help="Processes and threads one container may run: a fork bomb stops there.",
    )
    environment_ids = fields.One2many("ipai.ops.environment", "runtime_host_id")

    last_probe_date = fields.Datetime(readonly=True)
    probe_ok = fields.Boolean(readonly=True)
    probe_report = fields.Text(readonly=True)
    engine_version = fields.Char(readonly=True)
    capacity = fields.Char(readonly=True, help="CPUs and memory the engine reports.")

    _catcher_port_valid = models.Constraint(
        "CHECK (mail_catcher_port BETWEEN 1024 AND 65535)",
        "The mail catcher's port must lie within 1024-65535.",
    )
    _ports_ordered = models.Constraint(
        "CHECK (port_low >= 1024 AND port_high <= 65535 AND port_high > port_low)",
        "The port range must lie within 1024-65535, first port below last.",
    )

    @api.constrains("network")
    def _check_network(self):
        for host in self:
            if host.network and not NETWORK_NAME.fullmatch(host.network):
                raise ValidationError(
                    self.env._(
                        "A Docker network name uses letters, digits, '_', '.' and '-', "
                        "starting with a letter or digit."
                    )
                )

    @api.constrains("endpoint", "tls_ca_file", "tls_cert_file", "tls_key_file", "url_template")
    def _check_endpoint(self):
        for host in self:
            if not ENDPOINT.fullmatch(host.endpoint or ""):
                raise ValidationError(
                    self.env._("The endpoint must be unix:///path or tcp://host:port.")
                )
            tls = [host.tls_ca_file, host.tls_cert_file, host.tls_key_file]
            if any(tls) and not all(path and os.path.isabs(path) for path in tls):
                raise ValidationError(
                    self.env._("TLS needs all three files, each as an absolute path.")
                )
            if host.endpoint.startswith("tcp://") and not all(tls):
                raise ValidationError(
                    self.env._(
                        "A tcp:// engine needs TLS: an engine reachable without it gives root "
                        "on its machine to anyone who reaches the port."
                    )
                )
            host._check_url_template()

    def _check_url_template(self):
        """Only ``{project}``, ``{environment}`` and ``{port}`` as they are: no attribute,
        index, conversion or format spec (``str.format`` would evaluate them)."""
        if not self.url_template:
            return
        try:
            parts = list(string.Formatter().parse(self.url_template))
        except ValueError:
            parts = [("", "?", "", None)]
        for _text, name, spec, conversion in parts:
            if name is not None and (name not in URL_FIELDS or spec or conversion):
                raise ValidationError(
                    self.env._("The URL template may only use {project}, {environment} and {port}.")
                )

    def _client(self):
        """A Docker client for this host (callers checked the user's right to act)."""
        self.ensure_one()
        host = self.sudo()
        tls = None
        if host.tls_ca_file:
            tls = engine.TlsFiles(host.tls_ca_file, host.tls_cert_file, host.tls_key_file)
        return engine.connect(host.endpoint, tls=tls)

    def _mail_catcher(self) -> tuple[str, int]:
        """The host's mail catcher, started if it is not running: where its instances'
        mail goes (their loopback, through host networking)."""
        self.ensure_one()
        host = self.sudo()
        spool = self.env["ipai.ops.mail"]._spool()
        try:
            catcher.ensure_catcher(host._client(), host.base_image, spool, host.mail_catcher_port,
                                   network=host._network())  # fmt: skip
        except OpsError as exc:
            _logger.warning("mail catcher of runtime host %s: %s", host.name, exc)
            raise RuntimeHostError(
                self.env._(
                    "The mail catcher of runtime host %(host)s could not be started, so no "
                    "copy is made there; operations administrators see why in the server log.",
                    host=host.name,
                )
            ) from None
        return catcher.smtp_address(host.mail_catcher_port, host._network())

    def _repair_services(self, copies_here: bool) -> bool:
        """Start the host's router, and its mail catcher when it has one or copies run
        here, if either is stopped or gone: a killed container, an engine restarted (the
        engine restarts them by policy, but not after ``docker kill``). Every port and
        every copy's mail goes through them. False when the host could not be repaired
        (why: in the server log, where the endpoint may be named)."""
        self.ensure_one()
        host = self.sudo()
        started = []
        try:
            client = host._client()
            try:
                router = front.find_router(client)
                if router is None or router.status != "running":
                    front.ensure_router(client, host.base_image, host.listen_address)
                    started.append(self.env._("the router"))
                mail = catcher.find_catcher(client)
                if (mail is not None or copies_here) and (mail is None or mail.status != "running"):
                    host._mail_catcher()
                    started.append(self.env._("the mail catcher"))
            finally:
                client.close()
        except (OpsError, docker.errors.DockerException, OSError) as exc:
            _logger.warning("runtime host %s could not be repaired: %s", host.name, exc)
            return False
        if started:
            host.message_post(
                body=self.env._("Found stopped and started again: %(what)s.",
                                what=", ".join(started)),
                subtype_xmlid="mail.mt_note",
            )  # fmt: skip
        return True

    def _network(self) -> str:
        return (self.sudo().network or "").strip() or engine.HOST_NETWORK

    def _url(self, project: str, environment: str, port: int) -> str:
        self.ensure_one()
        if self.url_template:
            return self.url_template.format(project=project, environment=environment, port=port)
        return f"http://{self.public_host or self.listen_address}:{port}"

    def action_test_connection(self):
        """Reach the engine and record its version and capacity."""
        self.ensure_one()
        self.check_access("write")
        try:
            client = self._client()
            info, version = client.info(), client.version()
            report = self._report(client, info)
            client.close()
        except OpsError as exc:
            self.write({"probe_ok": False, "probe_report": str(exc),
                        "last_probe_date": fields.Datetime.now()})  # fmt: skip
            return self._notify(str(exc), "danger")
        capacity = self.env._(
            "%(cpus)s CPUs, %(memory).1f GiB, %(running)s containers running",
            cpus=info.get("NCPU"),
            memory=(info.get("MemTotal") or 0) / 2**30,
            running=info.get("ContainersRunning"),
        )
        self.write(
            {
                "probe_ok": True,
                "last_probe_date": fields.Datetime.now(),
                "engine_version": f"{version.get('Version')} (API {version.get('ApiVersion')})",
                "capacity": capacity,
                "probe_report": report,
            }
        )
        message = self.env._("Connected: Docker %(version)s.", version=version.get("Version"))
        return self._notify(message, "success")

    def _notify(self, message: str, kind: str) -> dict:
        return self.env["ipai.ops.db.server"].new({"name": self.name})._notify(message, kind)

    def _report(self, client, info) -> str:
        lines = [
            self.env._("Storage driver: %(driver)s", driver=info.get("Driver")),
            self.env._("Operating system: %(os)s", os=info.get("OperatingSystem")),
        ]
        try:
            client.images.get(self.base_image)
            lines.append(self.env._("Base image %(image)s: present", image=self.base_image))
        except docker.errors.DockerException:
            lines.append(
                self.env._(
                    "Base image %(image)s: missing — load or build it on this host before "
                    "deploying.",
                    image=self.base_image,
                )
            )
        try:
            network = engine.check_network(client, self._network())
            lines.append(self.env._("Network: %(network)s", network=network))
        except OpsError as exc:
            lines.append(self.env._("Network: %(error)s", error=str(exc)))
        return "\n".join(lines)
