"""Secrets referenced from the host instead of stored in the control plane's database.

The control plane's database travels: into its own backups, into copies made to
debug it. A secret written there travels with it. A *reference* names where the
secret lives on the host that runs the operation, in the manner of OCA's
``server_environment``:

* ``env:NAME`` — the environment variable ``NAME`` of the Odoo (or CLI) process;
* ``file:/absolute/path`` — the file's content, trailing newline removed
  (e.g. a Docker or systemd secret, readable by the service user only).

Resolved only at the moment of use; the value is never logged.
"""

from __future__ import annotations

import os
import re

from .errors import SecretUnavailable

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_SECRET_BYTES = 64 * 1024  # a secret file larger than this is a mistake, not a secret


REFERENCE_KINDS = ("env:", "file:")


def is_reference(text: str | None) -> bool:
    """Whether ``text`` names a secret on the host rather than being one."""
    return bool(text) and text.strip().startswith(REFERENCE_KINDS)


def validate_reference(reference: str) -> str:
    """Return ``reference`` if it has one of the accepted forms, else raise."""
    kind, _, name = (reference or "").partition(":")
    if kind == "env" and ENV_NAME.fullmatch(name):
        return reference
    if kind == "file" and os.path.isabs(name):
        return reference
    raise SecretUnavailable(
        f"{reference!r} is not a secret reference: write env:VARIABLE or file:/absolute/path."
    )


def resolve_reference(reference: str) -> str:
    """The secret a reference points to; :class:`SecretUnavailable` when it cannot be read."""
    kind, _, name = validate_reference(reference).partition(":")
    if kind == "env":
        value = os.environ.get(name)
        if value is None:
            raise SecretUnavailable(f"The environment variable {name} is not set on this host.")
        return value
    try:
        with open(name, "rb") as handle:
            data = handle.read(MAX_SECRET_BYTES + 1)
    except OSError as exc:
        raise SecretUnavailable(f"The secret file {name} cannot be read: {exc.strerror}.") from None
    if len(data) > MAX_SECRET_BYTES:
        raise SecretUnavailable(f"The secret file {name} is larger than {MAX_SECRET_BYTES} bytes.")
    return data.decode("utf-8").rstrip("\r\n")
