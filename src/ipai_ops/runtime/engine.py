"""Reaching a runtime host's Docker engine, and the labels that mark what ipai-ops owns."""

from __future__ import annotations

import os
from dataclasses import dataclass

import docker
import docker.errors
import docker.tls
import requests

from ..errors import EngineUnreachable

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
