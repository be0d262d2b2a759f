"""The PostgreSQL client tools: finding a version that fits the server, running them.

``pg_dump`` must be at least as new as the server it dumps; Debian installs each
major version under ``/usr/lib/postgresql/<major>/bin``, so we pick the oldest
installed client that is new enough, or say exactly what to install. Tools run
with argument lists and get the password through the environment.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from .connection import ServerSpec, client_env
from .errors import ClientToolError, StorageError

CLIENT_DIRS = "/usr/lib/postgresql/*/bin"
STDERR_TAIL = 2000  # characters of a failing tool's stderr kept in the error message


@lru_cache(maxsize=64)
def client_major(binary: str) -> int:
    """Major version of a client binary (``pg_dump (PostgreSQL) 15.18`` -> 15)."""
    out = subprocess.run(  # noqa: S603 - a binary we located, in an argument list
        [binary, "--version"], capture_output=True, text=True, check=False
    )
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", out.stdout)
    if not match:
        raise ClientToolError(f"{binary} does not report a PostgreSQL version: {out.stdout!r}")
    return int(match.group(1))


def _candidates(tool: str) -> list[str]:
    found = sorted(glob.glob(os.path.join(CLIENT_DIRS, tool)))
    on_path = shutil.which(tool)
    if on_path:
        found.append(on_path)
    return [path for path in found if os.access(path, os.X_OK)]


def find_client(tool: str, server_major: int) -> str:
    """The oldest installed ``tool`` whose major version is >= the server's."""
    usable = sorted(
        (client_major(path), path)
        for path in _candidates(tool)
        if client_major(path) >= server_major
    )
    if usable:
        return usable[0][1]
    installed = sorted({client_major(path) for path in _candidates(tool)})
    have = f"only {', '.join(map(str, installed))} installed" if installed else "none installed"
    raise ClientToolError(
        f"{tool} {server_major} or newer is needed for a PostgreSQL {server_major} server "
        f"({have}): install postgresql-client-{server_major}."
    )


@lru_cache(maxsize=1)
def _setpriv() -> str | None:
    """util-linux's ``setpriv``, when it can set a parent-death signal (Linux)."""
    path = shutil.which("setpriv")
    if not path:
        return None
    out = subprocess.run([path, "--help"], capture_output=True, text=True, check=False)  # noqa: S603
    return path if "--pdeathsig" in out.stdout else None


def dies_with_us(args: list[str]) -> list[str]:
    """``args`` made to die with the thread that starts it.

    A ``pg_restore`` or ``odoo-bin`` whose engine was killed would otherwise run on and
    finish an unneutralized copy of production nobody is watching. ``setpriv
    --pdeathsig KILL`` asks the kernel to kill the child when its parent goes; where
    there is no such tool the command runs as it is.
    """
    setpriv = _setpriv()
    return [setpriv, "--pdeathsig", "KILL", "--", *args] if setpriv else list(args)


def run_tool(
    args: list[str],
    spec: ServerSpec,
    *,
    stdout=None,
    check_message: str = "",
    env: dict | None = None,
) -> subprocess.CompletedProcess:
    """Run a client tool with ``spec``'s settings in its environment; raise on failure.

    :param env: the environment to use instead (from :func:`client_env`)
    """
    proc = subprocess.run(  # noqa: S603 - argument list, never a shell
        dies_with_us(args),
        env=env or client_env(spec),
        stdout=stdout if stdout is not None else subprocess.PIPE,
        stderr=subprocess.PIPE,
        check=False,
    )
    if proc.returncode != 0:
        stderr = proc.stderr.decode(errors="replace").strip()
        hint = disk_full_hint(stderr)
        error = StorageError if hint == DISK_FULL else ClientToolError
        raise error(
            f"{check_message or Path(args[0]).name} failed (exit {proc.returncode}){hint}: "
            f"{stderr[-STDERR_TAIL:]}"
        )
    return proc


DISK_FULL = " — the disk is full"


def disk_full_hint(text: str) -> str:
    if "No space left on device" in text or "could not extend file" in text:
        return DISK_FULL
    if "permission denied" in text:
        return (
            " — the role lacks a privilege: it needs membership in the role that owns "
            "the database (GRANT <odoo role> TO <engine role>;)"
        )
    return ""
