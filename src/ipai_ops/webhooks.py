"""Push notifications from GitHub and GitLab: who sent them, and what they say.

GitHub signs the body with the hook's secret (``X-Hub-Signature-256: sha256=<hmac>``);
GitLab sends the secret itself (``X-Gitlab-Token``). Both are compared in constant
time; an unsigned request is refused like a wrongly signed one. Replays are the
caller's to refuse: the delivery id (``X-GitHub-Delivery``, GitLab's
``X-Gitlab-Event-UUID``) is given back to be remembered.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from .errors import OpsError
from .git_repo import is_sha

NO_COMMIT = "0" * 40  # the "after" of a push that deleted the branch


class WebhookRefused(OpsError):
    """A notification that is not signed by the project's secret, or not a push."""


@dataclass(frozen=True)
class Push:
    branch: str
    commit: str  # the branch's new head
    delivery: str  # the sender's id of this notification, to refuse a replay
    repository_urls: tuple[str, ...]
    author: str = ""  # of the head commit, when the notification says
    message: str = ""


def _header(headers: dict, name: str) -> str:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), "") or ""


def verify(headers: dict, body: bytes, secret: str) -> str:
    """Which forge sent this notification ("github" or "gitlab"), if signed by
    ``secret``; :class:`WebhookRefused` otherwise."""
    if not secret:
        raise WebhookRefused("This project accepts no webhook: it has no webhook secret.")
    signature = _header(headers, "X-Hub-Signature-256")
    if signature:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected.encode(), signature.encode()):
            return "github"
        raise WebhookRefused("The signature does not match the project's webhook secret.")
    token = _header(headers, "X-Gitlab-Token")
    if token:
        if hmac.compare_digest(secret.encode(), token.encode()):
            return "gitlab"
        raise WebhookRefused("The token does not match the project's webhook secret.")
    raise WebhookRefused("The notification is not signed.")


def parse_push(forge: str, headers: dict, body: bytes) -> Push | None:
    """The push a verified notification announces; None for other events (a ping) and
    for a deleted branch."""
    event = _header(headers, "X-GitHub-Event" if forge == "github" else "X-Gitlab-Event")
    if event not in ("push", "Push Hook"):
        return None
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise WebhookRefused("The push notification is not JSON.") from exc
    ref, after = payload.get("ref") or "", payload.get("after") or ""
    if not ref.startswith("refs/heads/") or not is_sha(after) or after == NO_COMMIT:
        return None
    where = payload.get("repository" if forge == "github" else "project") or {}
    keys = ("clone_url", "ssh_url") if forge == "github" else ("git_http_url", "git_ssh_url")
    delivery = _header(headers, "X-GitHub-Delivery" if forge == "github" else "X-Gitlab-Event-UUID")
    head = _head_commit(forge, payload, after)
    return Push(
        branch=ref.removeprefix("refs/heads/"),
        commit=after,
        delivery=delivery,
        repository_urls=tuple(where[k] for k in keys if where.get(k)),
        author=str((head.get("author") or {}).get("name") or ""),
        message=str(head.get("message") or "").split("\n", 1)[0],
    )


def _head_commit(forge: str, payload: dict, sha: str) -> dict:
    if forge == "github":
        return payload.get("head_commit") or {}
    return next((c for c in payload.get("commits") or [] if c.get("id") == sha), {})
