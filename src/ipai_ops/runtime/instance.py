"""An environment's running Odoo: a labelled container on a runtime host, behind its router.

Every container ipai-ops makes carries ``ipai-ops.managed=1`` plus the project and the
environment it runs; every lookup here filters on those labels, so a container without
them is never listed, stopped or removed, whatever its name.

Clients reach an environment on its *public* port, which the host's router (:mod:`.front`)
forwards to the container serving it now. A deploy (and a rolling restart, and the end
of a module update) starts a new container on a free backend port, waits until Docker's
health check of it passes, moves the route and only then stops the old container: the
old one serves until the new one is ready, and keeps serving if it never is. The
filestore lives on a named volume that outlives containers and is shared while both run.
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
import docker.types
import requests

from ..connection import ServerSpec
from ..errors import (
    EngineUnreachable,
    InstanceFailed,
    InstanceNotFound,
    InvalidName,
    PortInUse,
    RuntimeHostError,
)
from . import config, engine, front
from .container_files import bounded_log, give_directory, put_files
from .image import ADDONS_PATH_LABEL, environment_image
from .test_report import TestReport, parse_test_log

DEFAULT_PORT_RANGE = (18069, 18169)  # inclusive; ports go by pairs (HTTP, websocket)
HEALTH_TIMEOUT = 5  # seconds for one /web/health request
SERVING_ROLES = ("server", "tests")  # containers that hold their HTTP port pair on the host
READY_TIMEOUT = 120  # seconds for a new instance to pass its health check
STOP_TIMEOUT = 10  # seconds between SIGTERM and SIGKILL
LOG_TAIL = 40  # lines of an instance's log quoted in errors
NAME_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
SECOND = 1_000_000_000  # Docker's health check durations are in nanoseconds
DEFAULT_PIDS = 512  # processes and threads of one container: no fork bomb starves the host
TMP_SIZE = "512m"  # the tmpfs on /tmp, the only place outside volumes an instance writes
# run inside the container (host network: its own loopback port), by Docker itself
HEALTH_PROBE = (
    "import sys, urllib.request; sys.exit(0 if b'pass' in urllib.request.urlopen("
    "'http://127.0.0.1:{port}/web/health?db_server_status=1', timeout=4).read() else 1)"
)


@dataclass(frozen=True)
class InstanceSpec:
    """What to run: an environment's code, its database and where it listens."""

    project: str
    environment: str
    base_image: str
    addons_dirs: tuple[Path, ...]
    server: ServerSpec = field(repr=False)  # host/port/user/password of PostgreSQL
    db_name: str
    http_port: int | None = None  # the public port; None: keep the current one, or choose
    port_range: tuple[int, int] = DEFAULT_PORT_RANGE
    workers: int = 0
    bind: str = "127.0.0.1"  # where the host's router listens
    memory_mb: int = 0  # 0: no limit
    cpus: float = 0.0  # 0: no limit
    pids: int = 0  # processes and threads at most; 0: DEFAULT_PIDS
    # "host" (these machines), or a bridge/overlay network of the engine: the container's
    # own namespace, its ports published on the host's loopback for the router
    network: str = engine.HOST_NETWORK
    # the database's attachments, a directory of the host: the one backups and copies
    # read (on a remote host, the same path on shared storage); None: the data volume's
    filestore_dir: str | None = None

    @property
    def labels(self) -> dict[str, str]:
        return {engine.PROJECT: self.project, engine.ENVIRONMENT: self.environment}

    @property
    def filestore_mount(self) -> str:
        """Where Odoo looks for the database's attachments in the container."""
        return f"{config.DATA_DIR}/filestore/{self.db_name}"


@dataclass(frozen=True)
class InstanceStatus:
    """What the engine says about an environment's serving container."""

    state: str  # Docker's: created, running, exited, …; "missing" when there is none
    http_port: int | None = None  # the public port clients use
    backend_port: int | None = None  # the port the container's Odoo listens on
    container_id: str | None = None
    image: str | None = None
    health: str | None = None  # Docker's health check: starting, healthy, unhealthy


@dataclass(frozen=True)
class Health:
    """One ``/web/health`` check."""

    ok: bool
    latency_ms: float | None
    detail: str


def container_name(project: str, environment: str) -> str:
    """``ipai-ops-PROJECT-ENVIRONMENT``; both parts must be valid in a Docker name."""
    for part in (project, environment):
        if not NAME_PART.fullmatch(part or ""):
            raise InvalidName(
                f"{part!r} cannot name a container: use letters, digits, '_', '.' and '-', "
                "starting with a letter or digit."
            )
    return f"ipai-ops-{project}-{environment}"


def _servers(client, project: str, environment: str) -> list:
    """The environment's server containers, newest first (two only during a switch)."""
    labels = {engine.PROJECT: project, engine.ENVIRONMENT: environment, engine.ROLE: "server"}
    return client.containers.list(all=True, filters=engine.managed_filters(labels))


def find(client: docker.DockerClient, project: str, environment: str):
    """The environment's serving container (the one its route points at), or None.

    Never returns an unlabelled container.
    """
    found = _servers(client, project, environment)
    if not found:
        return None
    routed = front.routes(client)
    for container in found:
        public = container.labels.get(engine.PUBLIC_PORT, "")
        if public.isdigit() and routed.get(int(public)) == _backend(container):
            return container
    return found[0]


def _get(client, project: str, environment: str):
    container = find(client, project, environment)
    if container is None:
        raise InstanceNotFound(
            f"No instance of {project}/{environment} on this runtime host: deploy it first."
        )
    return container


def _backend(container) -> int:
    return int(container.labels[engine.HTTP_PORT])


def _public(container) -> int:
    return int(container.labels.get(engine.PUBLIC_PORT) or container.labels[engine.HTTP_PORT])


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _taken_ports(client) -> set[int]:
    """Every port pair a managed container or the router holds on the host."""
    taken = set(front.routes(client))
    for container in client.containers.list(all=True, filters=engine.managed_filters()):
        for label in (engine.HTTP_PORT, engine.PUBLIC_PORT):
            value = container.labels.get(label, "")
            if value.isdigit() and container.labels.get(engine.ROLE) in SERVING_ROLES:
                taken |= {int(value), int(value) + 1}
    return taken


def _free_pair(client, spec: InstanceSpec, also_taken: set[int] = frozenset()) -> int:
    """The first port pair of the host's range nobody holds."""
    low, high = spec.port_range
    taken = _taken_ports(client) | set(also_taken)
    local = engine.is_local(client)
    for port in range(low, high, 2):
        if {port, port + 1} & taken:
            continue
        if not local or (_port_free(port) and _port_free(port + 1)):
            return port
    raise PortInUse(f"No free port pair left in {low}-{high}.")


def _public_port(client, spec: InstanceSpec, current) -> int:
    """The environment's public port: asked for, kept from its current container, or new."""
    if spec.http_port is None:
        return _public(current) if current is not None else _free_pair(client, spec)
    if current is not None and _public(current) == spec.http_port:
        return spec.http_port
    taken = _taken_ports(client)
    pair = {spec.http_port, spec.http_port + 1}
    if pair & taken or (engine.is_local(client) and not all(map(_port_free, pair))):
        raise PortInUse(
            f"Port {spec.http_port} (or {spec.http_port + 1}) on {spec.bind} is in use: "
            "free it or choose another port."
        )
    return spec.http_port


def _settings(spec: InstanceSpec, image, port: int) -> config.OdooSettings:
    return config.OdooSettings(
        db_host=spec.server.host or "127.0.0.1",
        db_port=spec.server.port or 5432,
        db_user=spec.server.user or "odoo",
        db_name=spec.db_name,
        http_port=port,
        gevent_port=port + 1,
        addons_path=image.labels.get(ADDONS_PATH_LABEL, ""),
        workers=spec.workers,
        http_interface=engine.listens_on(spec.network),
    )


def _volume(client, spec: InstanceSpec) -> str:
    volume = f"{container_name(spec.project, spec.environment)}-data"
    try:
        client.volumes.get(volume)
    except docker.errors.NotFound:
        client.volumes.create(volume, labels={engine.MANAGED: "1", **spec.labels})
    return volume


def _mounts(client, spec: InstanceSpec) -> dict:
    """The data volume (sessions; attachments without a filestore directory) and the
    environment's filestore directory over the database's place in it."""
    mounts = {_volume(client, spec): {"bind": config.DATA_DIR, "mode": "rw"}}
    if spec.filestore_dir:
        mounts[spec.filestore_dir] = {"bind": spec.filestore_mount, "mode": "rw"}
    return mounts


def _own_filestore(client, spec: InstanceSpec, image) -> None:
    """Give the filestore directory to the image's user, which writes attachments there
    (copies and restores write it as the control plane's user; Docker makes it as root)."""
    if spec.filestore_dir:
        give_directory(client, image, spec.filestore_dir, spec.filestore_mount,
                       labels={**spec.labels, engine.ROLE: "once"},
                       runner=client.images.get(spec.base_image))  # fmt: skip


def _limits(spec: InstanceSpec) -> dict:
    """What a container of a branch's code may use and do: no capability, no new
    privilege (setuid binaries stay unprivileged), a read-only root file system with
    writes only to its volumes and a tmpfs, a bounded number of processes, and the
    memory and CPUs the environment is given."""
    limits = {
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "read_only": True,
        "tmpfs": {"/tmp": f"size={TMP_SIZE},mode=1777"},  # noqa: S108 - the container's own
        "pids_limit": spec.pids or DEFAULT_PIDS,
        # anonymous: made with the container, removed with it (remove(v=True))
        "mounts": [docker.types.Mount(config.CONF_DIR, None, type="volume")],
    }
    if spec.memory_mb:
        limits["mem_limit"] = f"{spec.memory_mb}m"
    if spec.cpus:
        limits["nano_cpus"] = int(spec.cpus * SECOND)
    return limits


def _create(client, spec: InstanceSpec, tag: str, port: int, *, role: str, command: list[str],
            public: int | None = None):  # fmt: skip
    if (spec.server.host or "").startswith("/"):
        raise RuntimeHostError(
            "Instances reach PostgreSQL over TCP: give the database server a host name or "
            "an address, not a socket directory."
        )
    _check_reaches_database(spec)
    engine.check_network(client, spec.network)
    image = client.images.get(tag)
    _own_filestore(client, spec, image)
    settings = _settings(spec, image, port)
    name = f"{container_name(spec.project, spec.environment)}-{port}"
    labels = {engine.MANAGED: "1", **spec.labels, engine.ROLE: role, engine.HTTP_PORT: str(port)}
    extra = {}
    if role == "server":
        labels[engine.PUBLIC_PORT] = str(public)
        extra["healthcheck"] = {
            "test": ["CMD", "python3", "-c", HEALTH_PROBE.format(port=port)],
            "interval": 2 * SECOND,
            "timeout": 5 * SECOND,
            "retries": 3,
            "start_period": READY_TIMEOUT * SECOND,
        }
    else:
        name = f"{name}-{role}-{int(time.time() * 1000)}"
    container = client.containers.create(
        tag,
        name=name,
        # the image's entrypoint is bypassed: the official one copies db settings from
        # odoo.conf onto the command line, which would put them in `docker inspect`
        entrypoint=["odoo", "--config", config.CONF_PATH],
        command=command,
        environment={"PGPASSFILE": config.PGPASS_PATH},
        labels=labels,
        init=True,
        volumes=_mounts(client, spec),
        # a one-off command without HTTP holds no port: nothing of it is published
        **engine.network_settings(spec.network, (port, port + 1) if role != "once" else ()),
        stop_signal="SIGTERM",
        **_limits(spec),
        **extra,
    )
    put_files(
        container,
        image.attrs["Config"].get("User") or "root",
        into=config.CONF_DIR,
        files={
            config.CONF_PATH: (config.render_odoo_conf(settings), 0o444, False),
            config.PGPASS_PATH: (
                config.render_pgpass(settings, spec.server.password or ""),
                0o400,
                True,
            ),
        },
    )
    return container


def _check_reaches_database(spec: InstanceSpec) -> None:
    """On a network of its own, a container's loopback is its own: PostgreSQL must be
    named by an address that network reaches."""
    host = (spec.server.host or "").strip().lower()
    if spec.network != engine.HOST_NETWORK and (
        host in ("localhost", "::1") or host.startswith("127.")
    ):
        raise RuntimeHostError(
            f"Instances on the Docker network {spec.network!r} cannot reach PostgreSQL at "
            f"{spec.server.host}: that is their own loopback. Name the database server by an "
            "address or host name reachable from that network."
        )


def _api(action: str, call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except docker.errors.APIError as exc:
        message = f"The Docker engine refused to {action}: {exc.explanation}"
        raise RuntimeHostError(message) from None
    except requests.ConnectionError as exc:
        message = f"The Docker engine went away while trying to {action}: {exc}"
        raise EngineUnreachable(message) from None


def deploy(client: docker.DockerClient, spec: InstanceSpec, *, tag: str | None = None,
           progress=None) -> InstanceStatus:  # fmt: skip
    """Run the environment's code (image ``tag``, else built or reused) in a new container
    and move its public port onto it once it is healthy; then stop the previous one.

    If the new container never becomes healthy it is removed and the previous one goes on
    serving, untouched.

    :raises ImageBuildFailed, PortInUse, InstanceFailed: see :mod:`ipai_ops.errors`.
    """
    say = progress or (lambda message: None)
    if tag is None:
        say("Building the image")
        tag = environment_image(client, spec.base_image, spec.addons_dirs)
    previous = _servers(client, spec.project, spec.environment)
    current = find(client, spec.project, spec.environment)
    public = _public_port(client, spec, current)  # a refusal here changes nothing
    backend = _free_pair(client, spec, {public, public + 1})
    front.ensure_router(client, spec.base_image, spec.bind)
    say(f"Starting a container on backend port {backend}")
    container = _api(
        "create the container", _create, client, spec, tag, backend, role="server", command=[],
        public=public,
    )  # fmt: skip
    try:
        _api("start the container", container.start)
        _wait_container_healthy(container, f"{spec.project}/{spec.environment}")
        say(f"Healthy: routing port {public} to it")
        front.route(client, public, backend, image=spec.base_image, bind=spec.bind)
    except Exception:
        with contextlib.suppress(docker.errors.APIError, requests.RequestException):
            container.remove(force=True, v=True)
        raise
    for old in previous:
        say(f"Stopping the previous container ({old.name})")
        front.drain(client, _backend(old))
        with contextlib.suppress(docker.errors.NotFound):
            _api("stop the previous container", old.stop, timeout=STOP_TIMEOUT)
            _api("remove the previous container", old.remove, v=True)
    return status(client, spec.project, spec.environment)


def rolling_restart(client: docker.DockerClient, spec: InstanceSpec, *, progress=None):
    """A new container of the image serving now, switched to once healthy."""
    current = _get(client, spec.project, spec.environment)
    return deploy(client, spec, tag=current.image.id, progress=progress)


def update_modules(client: docker.DockerClient, spec: InstanceSpec, modules: list[str], *,
                   progress=None, timeout: int = 1800) -> tuple[InstanceStatus, str]:  # fmt: skip
    """``-u modules`` with the environment's (new) code in a one-off container while the
    current instance serves, then a rolling switch onto that code.

    Returns the new status and the update's log. If the update fails, nothing else
    happens: the current instance goes on serving.
    """
    say = progress or (lambda message: None)
    say("Building the image")
    tag = environment_image(client, spec.base_image, spec.addons_dirs)
    say(f"Updating {', '.join(modules)} in a one-off container")
    log = run_once(client, spec, ["-u", ",".join(modules)], timeout=timeout, tag=tag)
    return deploy(client, spec, tag=tag, progress=progress), log


def run_once(client: docker.DockerClient, spec: InstanceSpec, args: list[str], *,
             timeout: int = 600, tag: str | None = None) -> str:  # fmt: skip
    """Run ``odoo ARGS --stop-after-init`` in a one-off container of the environment's image.

    Used to install or update modules while the instance itself keeps serving. Returns the
    command's log; the container is removed whatever happens.

    :raises InstanceFailed: the command exited with an error (with its log's tail, and the
        whole log as ``error.log``) or ran longer than ``timeout`` seconds.
    """
    code, log = _run_container(client, spec, args, timeout=timeout, tag=tag)
    if code != 0:
        raise InstanceFailed(f"odoo {' '.join(args)} failed (exit {code}):\n{_log_tail(log)}",
                             log=log)  # fmt: skip
    return log


def run_tests(client: docker.DockerClient, spec: InstanceSpec, modules: list[str], *,
              demo: bool = True, timeout: int = 1800) -> tuple[TestReport, str]:  # fmt: skip
    """Install ``modules`` (with demo data) in the spec's database and run their tests, in
    a one-off container; returns what the tests say and the whole log.

    Failing tests are a result, not an error (Odoo exits 1 for them).

    :raises InstanceFailed: the modules could not be installed, or the run timed out.
    """
    args = ["-i", ",".join(modules), "--test-tags", ",".join(f"/{m}" for m in modules),
            "--log-level", "test", *(["--with-demo"] if demo else [])]  # fmt: skip
    code, log = _run_container(client, spec, args, timeout=timeout, serves=True)
    report = parse_test_log(log)
    if code not in (0, 1) or (code == 1 and not report.failed + report.errors):
        raise InstanceFailed(
            f"Installing {', '.join(modules)} failed (exit {code}):\n{_log_tail(log)}", log=log
        )
    return report, log


def _run_container(client, spec: InstanceSpec, args: list[str], *, timeout: int,
                   tag: str | None = None, serves: bool = False) -> tuple[int, str]:  # fmt: skip
    """``odoo ARGS --stop-after-init`` in a one-off container: exit code and log.

    ``serves``: the command opens Odoo's HTTP port (running tests always does, whatever
    ``--no-http`` says), so it gets a free port pair of the host, labelled as taken until
    the container is gone; otherwise HTTP is off and the port is only written in odoo.conf.
    """
    tag = tag or environment_image(client, spec.base_image, spec.addons_dirs)
    if serves:
        port, role, command = _free_pair(client, spec), "tests", [*args, "--stop-after-init"]
    else:
        port, role = spec.port_range[0], "once"
        command = [*args, "--stop-after-init", "--no-http"]
    container = _api(
        "create the container", _create, client, spec, tag, port, role=role, command=command
    )
    try:
        _api("start the container", container.start)
        try:
            result = container.wait(timeout=timeout)
        except requests.RequestException:
            raise InstanceFailed(
                f"odoo {' '.join(args)} ran longer than {timeout}s:\n{_tail(container)}",
                log=_whole_log(container),
            ) from None
        return result.get("StatusCode", -1), _whole_log(container)
    finally:
        with contextlib.suppress(docker.errors.APIError, requests.RequestException):
            container.remove(force=True, v=True)


def _log_tail(log: str, lines: int = LOG_TAIL) -> str:
    return "\n".join(log.rstrip().splitlines()[-lines:])


def _whole_log(container) -> str:
    return bounded_log(container)


def _tail(container, lines: int = LOG_TAIL) -> str:
    return container.logs(tail=lines).decode(errors="replace").rstrip()


def status(client: docker.DockerClient, project: str, environment: str) -> InstanceStatus:
    container = find(client, project, environment)
    if container is None:
        return InstanceStatus(state="missing")
    return InstanceStatus(
        state=container.status,
        http_port=_public(container),
        backend_port=_backend(container),
        container_id=container.id,
        image=(container.image.tags or [container.image.id])[0],
        health=(container.attrs["State"].get("Health") or {}).get("Status"),
    )


def start(client: docker.DockerClient, spec: InstanceSpec, *, wait: bool = True):
    """Start the environment's stopped container again and route its public port to it."""
    container = _get(client, spec.project, spec.environment)
    _api("start the container", container.start)
    if wait:
        _wait_container_healthy(container, f"{spec.project}/{spec.environment}")
    front.route(client, _public(container), _backend(container), image=spec.base_image,
                bind=spec.bind)  # fmt: skip
    return status(client, spec.project, spec.environment)


def stop(client: docker.DockerClient, spec: InstanceSpec) -> InstanceStatus:
    """Stop serving: the public port stops answering, then the container stops."""
    container = _get(client, spec.project, spec.environment)
    front.unroute(client, _public(container))
    _api("stop the container", container.stop, timeout=STOP_TIMEOUT)
    return status(client, spec.project, spec.environment)


def restart(client: docker.DockerClient, project: str, environment: str, *, wait: bool = True):
    """Restart the container in place (brief downtime; :func:`rolling_restart` has none)."""
    container = _get(client, project, environment)
    _api("restart the container", container.restart, timeout=STOP_TIMEOUT)
    if wait:
        _wait_container_healthy(container, f"{project}/{environment}")
    return status(client, project, environment)


def remove(
    client: docker.DockerClient, project: str, environment: str, *, volume: bool = False
) -> None:
    """Remove the environment's containers and route (with ``volume``, its filestore too)."""
    for container in _servers(client, project, environment):
        if front.routes(client).get(_public(container)) == _backend(container):
            front.unroute(client, _public(container))
        _api("remove the container", container.remove, force=True, v=True)
    if volume:
        with contextlib.suppress(docker.errors.NotFound):
            client.volumes.get(f"{container_name(project, environment)}-data").remove()


def logs(client: docker.DockerClient, project: str, environment: str, tail: int = 200) -> str:
    """The last ``tail`` lines the instance wrote."""
    return _tail(_get(client, project, environment), tail)


def health(
    port: int,
    host: str = "127.0.0.1",
    timeout: float = HEALTH_TIMEOUT,
    *,
    with_database: bool = True,
) -> Health:
    """``GET /web/health`` on the instance: ok when Odoo answers ``{"status": "pass"}``.

    :param with_database: also ask Odoo to connect to its PostgreSQL server with its own
        credentials (``db_server_status``): an instance that cannot reach it is not healthy.
    """
    started = time.monotonic()
    params = {"db_server_status": "1"} if with_database else None
    try:
        response = requests.get(f"http://{host}:{port}/web/health", params=params, timeout=timeout)
    except requests.RequestException as exc:
        return Health(ok=False, latency_ms=None, detail=f"no answer: {type(exc).__name__}")
    latency = (time.monotonic() - started) * 1000
    try:
        passed = response.status_code == 200 and response.json().get("status") == "pass"
    except ValueError:
        passed = False
    detail = "pass" if passed else f"HTTP {response.status_code}: {response.text[:200]}"
    return Health(ok=passed, latency_ms=round(latency, 1), detail=detail)


def login_page(port: int, host: str = "127.0.0.1", timeout: float = HEALTH_TIMEOUT) -> Health:
    """``GET /web/login``: the instance serves its database's pages, not only its health."""
    started = time.monotonic()
    try:
        response = requests.get(f"http://{host}:{port}/web/login", timeout=timeout)
    except requests.RequestException as exc:
        return Health(
            ok=False, latency_ms=None, detail=f"login page: no answer: {type(exc).__name__}"
        )
    latency = round((time.monotonic() - started) * 1000, 1)
    if response.status_code == 200 and 'name="login"' in response.text:
        return Health(ok=True, latency_ms=latency, detail="pass")
    return Health(ok=False, latency_ms=latency, detail=f"login page: HTTP {response.status_code}")


def _wait_container_healthy(container, name: str, timeout: float = READY_TIMEOUT) -> None:
    """Wait for Docker's health check of ``container`` to pass.

    :raises InstanceFailed: the container exited, or was not healthy in ``timeout``
        seconds; the message quotes the end of its log.
    """
    deadline = time.monotonic() + timeout
    while True:
        container.reload()
        state = container.attrs["State"]
        if (state.get("Health") or {}).get("Status") == "healthy":
            return
        if container.status not in {"running", "created", "restarting"}:
            raise InstanceFailed(
                f"{name} stopped ({container.status}) before it was healthy:\n{_tail(container)}",
                log=_whole_log(container),
            )
        if time.monotonic() > deadline:
            raise InstanceFailed(
                f"{name} did not pass its health check within {timeout:.0f}s:\n{_tail(container)}",
                log=_whole_log(container),
            )
        time.sleep(0.5)


def wait_healthy(client: docker.DockerClient, project: str, environment: str,
                 timeout: float = READY_TIMEOUT) -> None:  # fmt: skip
    """Wait until the environment's serving container passes its health check."""
    _wait_container_healthy(_get(client, project, environment), f"{project}/{environment}",
                            timeout)  # fmt: skip
