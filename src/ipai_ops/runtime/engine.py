"""Reaching a runtime host's Docker engine, and the labels that mark what ipai-ops owns."""

from __future__ import annotations

import docker
import docker.errors
import requests

from ..errors import EngineUnreachable

ENGINE_TIMEOUT = 60  # seconds for one API call (image builds stream, so this bounds silence)

MANAGED = "ipai-ops.managed"
PROJECT = "ipai-ops.project"
ENVIRONMENT = "ipai-ops.environment"
HTTP_PORT = "ipai-ops.http-port"
ROLE = "ipai-ops.role"  # "server" for an instance, "once" for a one-off Odoo command


def connect(base_url: str | None = None, *, timeout: int = ENGINE_TIMEOUT) -> docker.DockerClient:
    """A client for the engine at ``base_url`` (``unix://…``, ``tcp://…``; None: ``DOCKER_HOST``).

    :raises EngineUnreachable: nothing answers there, with the endpoint in the message.
    """
    try:
        if base_url:
            client = docker.DockerClient(base_url=base_url, timeout=timeout)
        else:
            client = docker.from_env(timeout=timeout)
        client.ping()
    except (docker.errors.DockerException, requests.RequestException) as exc:
        where = base_url or "DOCKER_HOST"
        raise EngineUnreachable(
            f"No Docker engine answers at {where}: {exc}. Start the engine or fix the endpoint."
        ) from None
    return client


def managed_filters(labels: dict[str, str] | None = None) -> dict:
    """``filters=`` for containers ipai-ops made, narrowed by ``{label: value}``."""
    wanted = [f"{MANAGED}=1"]
    wanted += [f"{name}={value}" for name, value in (labels or {}).items()]
    return {"label": wanted}
