"""Reaching a runtime host's Docker engine, and the labels that mark what ipai-ops owns."""

from __future__ import annotations

import os
from dataclasses import dataclass

import docker
import docker.errors
import docker.tls
import requests

from ..errors import EngineUnreachable, RuntimeHostError

ENGINE_TIMEOUT = 60  # seconds for one API call (image builds stream, so this bounds silence)

MANAGED = "ipai-ops.managed"
PROJECT = "ipai-ops.project"
ENVIRONMENT = "ipai-ops.environment"
HTTP_PORT = "ipai-ops.http-port"  # the backend port the container's Odoo listens on
PUBLIC_PORT = "ipai-ops.public-port"  # the environment's stable port, on the host's router
ROLE = "ipai-ops.role"  # "server": an instance; "once"/"tests": one-off Odoo commands; "router"


@dataclass(frozen=True)
class TlsFiles:
    """Paths of a ``tcp://`` engine's TLS material (read by the Docker SDK, never copied)."""

    ca_cert: str
    client_cert: str
    client_key: str

    def config(self) -> docker.tls.TLSConfig:
        for path in (self.ca_cert, self.client_cert, self.client_key):
            if not os.path.isfile(path):
                raise EngineUnreachable(f"The TLS file {path} does not exist on this server.")
        return docker.tls.TLSConfig(
            client_cert=(self.client_cert, self.client_key), ca_cert=self.ca_cert, verify=True
        )


def connect(
    base_url: str | None = None, *, timeout: int = ENGINE_TIMEOUT, tls: TlsFiles | None = None
) -> docker.DockerClient:
    """A client for the engine at ``base_url`` (``unix://…``, ``tcp://…``; None: ``DOCKER_HOST``).

    :param tls: client certificate, key and CA for a ``tcp://`` engine (verified).
    :raises EngineUnreachable: nothing answers there, with the endpoint in the message.
    """
    try:
        if base_url:
            client = docker.DockerClient(
                base_url=base_url, timeout=timeout, tls=tls.config() if tls else False
            )
        else:
            client = docker.from_env(timeout=timeout)
        client.ping()
    except (docker.errors.DockerException, requests.RequestException) as exc:
        where = base_url or "DOCKER_HOST"
        raise EngineUnreachable(
            f"No Docker engine answers at {where}: {exc}. Start the engine or fix the endpoint."
        ) from None
    return client


def is_local(client: docker.DockerClient) -> bool:
    """Whether the engine runs on this machine (a Unix socket): its ports are ours to probe."""
    return client.api.base_url.startswith("http+docker://")


def managed_filters(labels: dict[str, str] | None = None) -> dict:
    """``filters=`` for containers ipai-ops made, narrowed by ``{label: value}``."""
    wanted = [f"{MANAGED}=1"]
    wanted += [f"{name}={value}" for name, value in (labels or {}).items()]
    return {"label": wanted}


HOST_NETWORK = "host"
# Docker's own networks that are not a bridge: "none" has no way in, "host" is the default
UNPUBLISHABLE = ("none",)


def check_network(client: docker.DockerClient, name: str) -> str:
    """The network containers of a host join: ``host`` (these machines, and the default)
    or the name of a bridge or overlay network that exists on the engine.

    :raises RuntimeHostError: the network does not exist, or nothing could reach a
        container on it (``none``, or a driver without published ports).
    """
    name = (name or HOST_NETWORK).strip()
    if name == HOST_NETWORK:
        return name
    try:
        network = client.networks.get(name)
    except docker.errors.NotFound:
        raise RuntimeHostError(
            f"The Docker network {name!r} does not exist on this runtime host: create it "
            "(docker network create --driver bridge …) or leave the setting empty for host "
            "networking."
        ) from None
    except (docker.errors.APIError, requests.RequestException) as exc:
        message = f"The engine could not say what network {name!r} is: {exc}"
        raise EngineUnreachable(message) from None
    driver = network.attrs.get("Driver")
    if name in UNPUBLISHABLE or driver not in ("bridge", "overlay"):
        raise RuntimeHostError(
            f"The Docker network {name!r} ({driver}) cannot carry instances: the router reaches "
            "them through ports published on the host, which a bridge or overlay network has."
        )
    return name


def network_settings(network: str, ports: tuple[int, ...] = ()) -> dict:
    """``containers.create`` arguments for ``network``: host networking, or the named
    network with ``ports`` published on the host's loopback only, where the router (on the
    host) reaches them and nobody else does."""
    if (network or HOST_NETWORK) == HOST_NETWORK:
        return {"network_mode": HOST_NETWORK}
    return {"network": network, "ports": {f"{port}/tcp": ("127.0.0.1", port) for port in ports}}


def listens_on(network: str) -> str:
    """Where a container's own server listens: loopback when it shares the host's network
    (nothing else of the host may reach it), every address of its own namespace otherwise
    (published ports arrive on its network address)."""
    return "127.0.0.1" if (network or HOST_NETWORK) == HOST_NETWORK else "0.0.0.0"  # noqa: S104
