"""The router container of a runtime host and its routes (the router itself: ``router_main``).

Each environment has a *public* port pair that never changes (HTTP, and the next port for
Odoo's websocket when it runs workers); the router forwards it to the *backend* pair of the
container serving the environment now. A rolling restart starts a new container on
another backend pair, waits until it is healthy, moves the route, waits for the old
container's connections to end and only then stops it: a client sees no failed request.

One router per host, labelled like everything ipai-ops makes, restarted by the engine
with the host (``unless-stopped``). When it has to be made again its routes are rebuilt
from the serving containers' labels.
"""

from __future__ import annotations

import json
import tarfile
import time
from pathlib import Path

import docker
import docker.errors

from ..errors import PortInUse, RuntimeHostError
from . import engine
from .container_files import put_files, read_text

ROUTER_NAME = "ipai-ops-router"
SCRIPT_PATH = "/opt/ipai-ops/router_main.py"
STATE_DIR = "/var/lib/ipai-ops-router"  # the router's user writes here, nowhere else
ROUTES_DIR = f"{STATE_DIR}/routes"
STATUS_PATH = f"{STATE_DIR}/status.json"
APPLY_TIMEOUT = 10  # seconds for the router to apply a route
DRAIN_TIMEOUT = 30  # seconds an old container is given to finish its open connections
POLL = 0.2


def find_router(client: docker.DockerClient):
    found = client.containers.list(
        all=True, filters=engine.managed_filters({engine.ROLE: "router"})
    )
    return found[0] if found else None


def _serving_routes(client) -> dict[int, int]:
    """Routes rebuilt from the running instances: the newest container of each port wins."""
    routes: dict[int, int] = {}
    running = client.containers.list(
        filters={**engine.managed_filters({engine.ROLE: "server"}), "status": "running"}
    )
    for container in reversed(running):  # the engine lists the newest first
        public = container.labels.get(engine.PUBLIC_PORT, "")
        backend = container.labels.get(engine.HTTP_PORT, "")
        if public.isdigit() and backend.isdigit():
            routes[int(public)], routes[int(public) + 1] = int(backend), int(backend) + 1
    return routes


def ensure_router(client: docker.DockerClient, image: str, bind: str = "127.0.0.1"):
    """The host's router, created (from ``image``, which must have python3) or started."""
    router = find_router(client)
    if router is None:
        router = _create_router(client, image, bind)
    if router.status != "running":
        router.start()
    _wait(router, lambda status: True, "start")
    return router


def _create_router(client, image: str, bind: str):
    try:
        router = client.containers.create(
            image,
            name=ROUTER_NAME,
            entrypoint=["python3", SCRIPT_PATH, ROUTES_DIR, STATUS_PATH, bind],
            command=[],
            labels={engine.MANAGED: "1", engine.ROLE: "router"},
            network_mode="host",
            init=True,
            restart_policy={"Name": "unless-stopped"},
        )
    except docker.errors.ImageNotFound:
        raise RuntimeHostError(f"The image {image} is not on this runtime host.") from None
    user = client.images.get(image).attrs["Config"].get("User") or "root"
    script = Path(__file__).with_name("router_main.py").read_text()
    files = {
        SCRIPT_PATH: (script, 0o444, False),
        f"{STATE_DIR}/": ("", 0o755, True),
        f"{ROUTES_DIR}/": ("", 0o755, True),
    }
    routes = _serving_routes(client)
    files |= {f"{ROUTES_DIR}/{p}": (str(b), 0o644, True) for p, b in routes.items()}
    put_files(router, user, files)
    return router


def status(router) -> dict | None:
    """What the router last wrote: routes applied, open connections, ports refused
    (None: not yet, or caught while it was replaced — ask again)."""
    try:
        return json.loads(read_text(router, STATUS_PATH))
    except (docker.errors.NotFound, ValueError, tarfile.TarError, IndexError):
        return None


def _wait(router, done, what: str, timeout: float = APPLY_TIMEOUT) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        current = status(router)
        if current is not None and done(current):
            return current
        if time.monotonic() > deadline:
            router.reload()
            tail = router.logs(tail=20).decode(errors="replace")
            raise RuntimeHostError(
                f"The host's router did not {what} within {timeout:.0f}s ({router.status}):\n{tail}"
            )
        time.sleep(POLL)


def route(client, public: int, backend: int, *, image: str, bind: str = "127.0.0.1") -> None:
    """Send the public pair ``public``/``public+1`` to the backend pair; returns once the
    router applied it (made first, from ``image``, if the host has none).

    :raises PortInUse: the router cannot listen on the public port.
    """
    router = ensure_router(client, image, bind)
    _apply(router, public, {public: backend, public + 1: backend + 1})
    if error := (status(router) or {}).get("errors", {}).get(str(public)):
        _apply(router, public, {public: None, public + 1: None})
        raise PortInUse(
            f"Port {public} on {bind} cannot be listened on ({error}): "
            "free it or choose another port."
        )


def unroute(client, public: int) -> None:
    """Stop answering on the public pair ``public``/``public+1`` (open connections finish)."""
    router = find_router(client)
    if router is not None and router.status == "running":
        _apply(router, public, {public: None, public + 1: None})


def _apply(router, public: int, wanted: dict[int, int | None]) -> None:
    user = router.image.attrs["Config"].get("User") or "root"
    files = {f"{ROUTES_DIR}/{p}": (str(b or ""), 0o644, True) for p, b in wanted.items()}
    put_files(router, user, files)
    router.kill(signal="SIGHUP")

    def applied(current: dict) -> bool:
        if str(public) in current.get("errors", {}):
            return True
        shown = current.get("routes", {})
        return all(shown.get(str(p)) == b for p, b in wanted.items())

    _wait(router, applied, f"route port {public}")


def routes(client) -> dict[int, int]:
    """The routes the router applies now (``{public port: backend port}``)."""
    router = find_router(client)
    current = status(router) if router is not None and router.status == "running" else None
    return {int(p): b for p, b in (current or {}).get("routes", {}).items()}


def drain(client, backend: int, timeout: float = DRAIN_TIMEOUT) -> bool:
    """Wait until no connection through the router is open to ``backend`` (False: timed out,
    e.g. a browser's websocket, which reconnects by itself)."""
    router = find_router(client)
    if router is None:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = status(router)
        if current is not None and not current.get("open", {}).get(str(backend)):
            return True
        time.sleep(POLL)
    return False
