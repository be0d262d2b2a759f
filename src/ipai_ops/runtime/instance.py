"""An environment's running Odoo: one labelled container on a runtime host.

Every container ipai-ops makes carries ``ipai-ops.managed=1`` plus the project and the
environment it runs; every lookup here filters on those labels, so a container without
them is never listed, stopped or removed, whatever its name. A deploy builds (or reuses)
the environment's image, replaces the environment's previous container, writes the
generated ``odoo.conf`` and password file into the new one before it starts, and waits
for ``/web/health``. The filestore lives on a named volume that outlives containers.
"""

from __future__ import annotations

import contextlib
import io
import re
import socket
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
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
from . import config, engine
from .image import ADDONS_PATH_LABEL, environment_image

DEFAULT_PORT_RANGE = (18069, 18169)  # inclusive; each instance takes an HTTP and a gevent port
HEALTH_TIMEOUT = 5  # seconds for one /web/health request
READY_TIMEOUT = 90  # seconds for a new instance to answer /web/health
STOP_TIMEOUT = 10  # seconds between SIGTERM and SIGKILL
LOG_TAIL = 40  # lines of an instance's log quoted in errors
NAME_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


@dataclass(frozen=True)
class InstanceSpec:
    """What to run: an environment's code, its database and where it listens."""

    project: str
    environment: str
    base_image: str
    addons_dirs: tuple[Path, ...]
    server: ServerSpec = field(repr=False)  # host/port/user/password of PostgreSQL
    db_name: str
    http_port: int | None = None  # None: the first free pair in port_range
    port_range: tuple[int, int] = DEFAULT_PORT_RANGE
    workers: int = 0

    @property
    def labels(self) -> dict[str, str]:
        return {engine.PROJECT: self.project, engine.ENVIRONMENT: self.environment}


@dataclass(frozen=True)
class InstanceStatus:
    """What the engine says about an environment's container."""

    state: str  # Docker's: created, running, exited, …; "missing" when there is none
    http_port: int | None = None
    container_id: str | None = None
    image: str | None = None


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


def find(client: docker.DockerClient, project: str, environment: str, role: str = "server"):
    """The environment's managed container, or None. Never returns an unlabelled one."""
    labels = {engine.PROJECT: project, engine.ENVIRONMENT: environment, engine.ROLE: role}
    found = client.containers.list(all=True, filters=engine.managed_filters(labels))
    return found[0] if found else None


def _get(client, project: str, environment: str):
    container = find(client, project, environment)
    if container is None:
        raise InstanceNotFound(
            f"No instance of {project}/{environment} on this runtime host: deploy it first."
        )
    return container


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _choose_port(client, spec: InstanceSpec, keep: int | None) -> int:
    """The HTTP port (its gevent port is the next one); ``keep``: the previous container's."""
    if spec.http_port is not None:
        wanted = [spec.http_port]
    else:
        low, high = spec.port_range
        wanted = ([keep] if keep else []) + list(range(low, high, 2))
    taken = {
        int(c.labels[engine.HTTP_PORT])
        for c in client.containers.list(all=True, filters=engine.managed_filters())
        if c.labels.get(engine.HTTP_PORT, "").isdigit() and c.labels.get(engine.ROLE) == "server"
    }
    if keep:
        taken.discard(keep)
    for port in wanted:
        if port == keep:
            return port  # held by the previous container, which the deploy replaces
        if port not in taken and _port_free(port) and _port_free(port + 1):
            return port
    if spec.http_port is not None:
        raise PortInUse(
            f"Port {spec.http_port} (or {spec.http_port + 1}) on 127.0.0.1 is in use: "
            "free it or choose another port."
        )
    raise PortInUse(f"No free port pair left in {spec.port_range[0]}-{spec.port_range[1]}.")


def _user_ids(container, user: str) -> tuple[int, int]:
    """The uid/gid of ``user`` in the container's own /etc/passwd (root when unknown)."""
    name = user.split(":", maxsplit=1)[0]
    if name.isdigit():
        return int(name), int(name)
    stream, _ = container.get_archive("/etc/passwd")
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        passwd = tar.extractfile(tar.getmembers()[0]).read().decode()
    for line in passwd.splitlines():
        fields = line.split(":")
        if len(fields) > 3 and fields[0] == name:
            return int(fields[2]), int(fields[3])
    return 0, 0


def _put_files(container, user: str, files: dict[str, tuple[str, int, bool]]) -> None:
    """Write ``{path: (text, mode, owned_by_user)}`` into a created container."""
    uid, gid = _user_ids(container, user)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, (text, mode, owned) in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            info.uid, info.gid = (uid, gid) if owned else (0, 0)
            tar.addfile(info, io.BytesIO(data))
    container.put_archive("/", buffer.getvalue())


def _settings(spec: InstanceSpec, image, port: int, db_name: str) -> config.OdooSettings:
    return config.OdooSettings(
        db_host=spec.server.host or "127.0.0.1",
        db_port=spec.server.port or 5432,
        db_user=spec.server.user or "odoo",
        db_name=db_name,
        http_port=port,
        gevent_port=port + 1,
        addons_path=image.labels.get(ADDONS_PATH_LABEL, ""),
        workers=spec.workers,
    )


def _create(client, spec: InstanceSpec, tag: str, port: int, *, role: str, command: list[str]):
    image = client.images.get(tag)
    settings = _settings(spec, image, port, spec.db_name)
    volume = f"{container_name(spec.project, spec.environment)}-data"
    try:
        client.volumes.get(volume)
    except docker.errors.NotFound:
        client.volumes.create(volume, labels={engine.MANAGED: "1", **spec.labels})
    name = container_name(spec.project, spec.environment)
    if role != "server":
        name = f"{name}-{role}-{int(time.time() * 1000)}"
    container = client.containers.create(
        tag,
        name=name,
        # the image's entrypoint is bypassed: the official one copies db settings from
        # odoo.conf onto the command line, which would put them in `docker inspect`
        entrypoint=["odoo", "--config", config.CONF_PATH],
        command=command,
        environment={"PGPASSFILE": config.PGPASS_PATH},
        labels={
            engine.MANAGED: "1",
            **spec.labels,
            engine.ROLE: role,
            engine.HTTP_PORT: str(port),
        },
        network_mode="host",
        init=True,
        volumes={volume: {"bind": config.DATA_DIR, "mode": "rw"}},
        stop_signal="SIGTERM",
    )
    _put_files(
        container,
        image.attrs["Config"].get("User") or "root",
        {
            config.CONF_PATH: (config.render_odoo_conf(settings), 0o444, False),
            config.PGPASS_PATH: (
                config.render_pgpass(settings, spec.server.password or ""),
                0o400,
                True,
            ),
        },
    )
    return container


def _api(action: str, call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except docker.errors.APIError as exc:
        message = f"The Docker engine refused to {action}: {exc.explanation}"
        raise RuntimeHostError(message) from None
    except requests.ConnectionError as exc:
        message = f"The Docker engine went away while trying to {action}: {exc}"
        raise EngineUnreachable(message) from None


def deploy(client: docker.DockerClient, spec: InstanceSpec, *, wait: bool = True) -> InstanceStatus:
    """Build (or reuse) the environment's image and run it in place of its previous container.

    :param wait: return only once ``/web/health`` answers.
    :raises ImageBuildFailed, PortInUse, InstanceFailed: see :mod:`ipai_ops.errors`.
    """
    tag = environment_image(client, spec.base_image, spec.addons_dirs)
    previous = find(client, spec.project, spec.environment)
    keep = int(previous.labels[engine.HTTP_PORT]) if previous else None
    port = _choose_port(client, spec, keep)  # before stopping anything: a refusal changes nothing
    if previous is not None:
        _api("stop the previous container", previous.stop, timeout=STOP_TIMEOUT)
        _api("remove the previous container", previous.remove)
    container = _api(
        "create the container", _create, client, spec, tag, port, role="server", command=[]
    )
    _api("start the container", container.start)
    if wait:
        wait_healthy(client, spec.project, spec.environment)
    return status(client, spec.project, spec.environment)


def run_once(
    client: docker.DockerClient, spec: InstanceSpec, args: list[str], *, timeout: int = 600
) -> str:
    """Run ``odoo ARGS --stop-after-init`` in a one-off container of the environment's image.

    Used to install or update modules while the instance itself keeps serving. Returns the
    command's log; the container is removed whatever happens.

    :raises InstanceFailed: the command exited with an error (with its log's tail) or ran
        longer than ``timeout`` seconds.
    """
    tag = environment_image(client, spec.base_image, spec.addons_dirs)
    port = spec.http_port or spec.port_range[0]  # only written in odoo.conf: --no-http
    command = [*args, "--stop-after-init", "--no-http"]
    container = _api(
        "create the container", _create, client, spec, tag, port, role="once", command=command
    )
    try:
        _api("start the container", container.start)
        try:
            result = container.wait(timeout=timeout)
        except requests.RequestException:
            raise InstanceFailed(
                f"odoo {' '.join(args)} ran longer than {timeout}s:\n{_tail(container)}"
            ) from None
        log = container.logs().decode(errors="replace")
        if result.get("StatusCode") != 0:
            raise InstanceFailed(
                f"odoo {' '.join(args)} failed (exit {result.get('StatusCode')}):\n"
                f"{_tail(container)}"
            )
        return log
    finally:
        container.remove(force=True)


def _tail(container, lines: int = LOG_TAIL) -> str:
    return container.logs(tail=lines).decode(errors="replace").rstrip()


def status(client: docker.DockerClient, project: str, environment: str) -> InstanceStatus:
    container = find(client, project, environment)
    if container is None:
        return InstanceStatus(state="missing")
    return InstanceStatus(
        state=container.status,
        http_port=int(container.labels[engine.HTTP_PORT]),
        container_id=container.id,
        image=(container.image.tags or [container.image.id])[0],
    )


def start(client: docker.DockerClient, project: str, environment: str, *, wait: bool = True):
    _api("start the container", _get(client, project, environment).start)
    if wait:
        wait_healthy(client, project, environment)
    return status(client, project, environment)


def stop(client: docker.DockerClient, project: str, environment: str) -> InstanceStatus:
    _api("stop the container", _get(client, project, environment).stop, timeout=STOP_TIMEOUT)
    return status(client, project, environment)


def restart(client: docker.DockerClient, project: str, environment: str, *, wait: bool = True):
    container = _get(client, project, environment)
    _api("restart the container", container.restart, timeout=STOP_TIMEOUT)
    if wait:
        wait_healthy(client, project, environment)
    return status(client, project, environment)


def remove(
    client: docker.DockerClient, project: str, environment: str, *, volume: bool = False
) -> None:
    """Remove the environment's container (and with ``volume``, its filestore volume)."""
    container = find(client, project, environment)
    if container is not None:
        _api("remove the container", container.remove, force=True)
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


def wait_healthy(
    client: docker.DockerClient, project: str, environment: str, timeout: float = READY_TIMEOUT
) -> Health:
    """Poll ``/web/health`` until it passes.

    :raises InstanceFailed: the container exited, or did not answer in ``timeout`` seconds;
        the message quotes the end of its log.
    """
    container = _get(client, project, environment)
    port = int(container.labels[engine.HTTP_PORT])
    deadline = time.monotonic() + timeout
    while True:
        check = health(port)
        if check.ok:
            return check
        container.reload()
        if container.status not in {"running", "created", "restarting"}:
            raise InstanceFailed(
                f"{project}/{environment} stopped ({container.status}) before it was healthy:\n"
                f"{_tail(container)}"
            )
        if time.monotonic() > deadline:
            raise InstanceFailed(
                f"{project}/{environment} did not answer /web/health on port {port} "
                f"within {timeout:.0f}s ({check.detail}):\n{_tail(container)}"
            )
        time.sleep(0.5)
