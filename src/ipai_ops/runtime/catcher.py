"""The mail catcher container of a runtime host (the catcher itself: ``catcher_main``).

Every staging and development instance of a host sends its mail here (neutralization
points its outgoing server at ``127.0.0.1:PORT`` of the host, which instances reach
through host networking; on a Docker network of the host's, the catcher joins it and
instances name it by its container name, :func:`smtp_address`). It files mails in a
spool directory of the host, bind-mounted:
the control plane's own spool when the host is local, the same path on shared storage
otherwise. One per host, labelled like everything ipai-ops makes, restarted with the
engine (``unless-stopped``); made again when its port or spool changes.
"""

from __future__ import annotations

import time
from pathlib import Path

import docker
import docker.errors

from ..errors import RuntimeHostError
from . import engine
from .catcher_main import LOGINS
from .container_files import give_directory, put_files

CATCHER_NAME = "ipai-ops-mail-catcher"
SCRIPT_PATH = "/opt/ipai-ops/catcher_main.py"
SPOOL_MOUNT = "/var/spool/ipai-ops-mail"
SPOOL_LABEL = "ipai-ops.spool"
NETWORK_LABEL = "ipai-ops.network"
START_TIMEOUT = 20  # seconds for the catcher to listen


def find_catcher(client: docker.DockerClient):
    found = client.containers.list(
        all=True, filters=engine.managed_filters({engine.ROLE: "catcher"})
    )
    return found[0] if found else None


def smtp_address(port: int, network: str = engine.HOST_NETWORK) -> tuple[str, int]:
    """Where the instances of a host on ``network`` send mail to reach its catcher."""
    if network == engine.HOST_NETWORK:
        return "127.0.0.1", port
    return CATCHER_NAME, port


def ensure_catcher(client: docker.DockerClient, image: str, spool: str | Path, port: int, *,
                   bind: str = "127.0.0.1", network: str = engine.HOST_NETWORK):  # fmt: skip
    """The host's catcher on ``bind:port`` (on ``network``: that network's address)
    filing into ``spool``: kept, made or started."""
    spool = str(spool)
    network = engine.check_network(client, network)
    catcher = find_catcher(client)
    if catcher is not None and (
        catcher.labels.get(engine.HTTP_PORT) != str(port)
        or catcher.labels.get(SPOOL_LABEL) != spool
        or catcher.labels.get(NETWORK_LABEL, engine.HOST_NETWORK) != network
    ):
        catcher.remove(force=True)
        catcher = None
    if catcher is None:
        catcher = _create(client, image, spool, port, bind=bind, network=network)
    if catcher.status != "running":
        catcher.start()
    _wait_listening(catcher)
    return catcher


def _wait_listening(catcher, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while b"catching mail on" not in catcher.logs(tail=5):
        catcher.reload()
        if catcher.status == "exited" or time.monotonic() > deadline:
            tail = catcher.logs(tail=20).decode(errors="replace").strip()
            raise RuntimeHostError(
                f"The host's mail catcher did not start ({catcher.status}): {tail}"
            )
        time.sleep(0.2)


def _create(client, image: str, spool: str, port: int, *, bind: str, network: str):
    try:
        found = client.images.get(image)
    except docker.errors.ImageNotFound:
        raise RuntimeHostError(f"The image {image} is not on this runtime host.") from None
    labels = {engine.ROLE: "catcher", engine.HTTP_PORT: str(port), SPOOL_LABEL: spool,
              NETWORK_LABEL: network}  # fmt: skip
    if network != engine.HOST_NETWORK:
        bind = engine.listens_on(network)  # its own namespace: instances arrive by name
    # a host's catcher takes a login only with the password granted to it (catcher_main)
    Path(spool, LOGINS).mkdir(parents=True, exist_ok=True)
    give_directory(client, found, spool, SPOOL_MOUNT, labels={engine.ROLE: "once"})
    catcher = client.containers.create(
        found.id,
        name=CATCHER_NAME,
        entrypoint=["python3", SCRIPT_PATH, SPOOL_MOUNT, bind, str(port)],
        command=[],
        labels={engine.MANAGED: "1", **labels},
        **engine.network_settings(network),
        init=True,
        restart_policy={"Name": "unless-stopped"},
        volumes={spool: {"bind": SPOOL_MOUNT, "mode": "rw"}},
    )
    user = found.attrs["Config"].get("User") or "root"
    script = Path(__file__).with_name("catcher_main.py").read_text()
    put_files(catcher, user, {SCRIPT_PATH: (script, 0o444, False)})
    return catcher
