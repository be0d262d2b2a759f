"""Reading and writing files of a container through the engine's archive API.

Files go in before a container starts (its ``odoo.conf``, its password file) or while it
runs (the router's routes); either way nothing passes through a command line.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import time
import uuid
from pathlib import PurePosixPath

import docker.errors
import requests

from ..errors import RuntimeHostError
from . import engine

GIVE_TIMEOUT = 600  # seconds for chown -R of a large filestore
MIN_DEPTH = 4  # "/", then three levels: never /, /var or /var/lib wholesale


def read_text(container, path: str) -> str:
    """The text of one file of ``container``."""
    stream, _ = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        return tar.extractfile(tar.getmembers()[0]).read().decode()


def user_ids(container, user: str) -> tuple[int, int]:
    """The uid/gid of ``user`` in the container's own /etc/passwd (root when unknown)."""
    name = user.split(":", maxsplit=1)[0]
    if name.isdigit():
        return int(name), int(name)
    for line in read_text(container, "/etc/passwd").splitlines():
        fields = line.split(":")
        if len(fields) > 3 and fields[0] == name:
            return int(fields[2]), int(fields[3])
    return 0, 0


def put_files(container, user: str, files: dict[str, tuple[str, int, bool]]) -> None:
    """Write ``{path: (text, mode, owned_by_user)}`` into the container.

    A path ending in ``/`` is a directory (its text is ignored).
    """
    uid, gid = user_ids(container, user)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, (text, mode, owned) in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path.strip("/"))
            if path.endswith("/"):
                info.type, data = tarfile.DIRTYPE, b""
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            info.uid, info.gid = (uid, gid) if owned else (0, 0)
            tar.addfile(info, io.BytesIO(data))
    container.put_archive("/", buffer.getvalue())


def give_directory(client, image, host_dir: str, mount: str, labels: dict[str, str]) -> None:
    """Give ``host_dir`` of the host (and what it holds) to ``image``'s user, by a root
    one-off container without network: it works on remote hosts too, and needs no
    privilege of the control plane's."""
    path = PurePosixPath(host_dir)
    if not path.is_absolute() or ".." in path.parts or len(path.parts) < MIN_DEPTH:
        raise RuntimeHostError(
            f"{host_dir} is not a directory ipai-ops gives away: it must be an absolute "
            f"path at least {MIN_DEPTH - 1} levels deep (a filestore, a mail spool)."
        )
    user = image.attrs["Config"].get("User") or "root"
    if user in ("root", "0"):
        return
    container = client.containers.create(
        image.id,
        name=f"ipai-ops-give-{uuid.uuid4().hex[:12]}",
        entrypoint=["chown", "-R", f"{user}:", mount],
        user="root",
        labels={engine.MANAGED: "1", **labels},
        network_mode="none",
        volumes={host_dir: {"bind": mount, "mode": "rw"}},
    )
    try:
        container.start()
        code = container.wait(timeout=GIVE_TIMEOUT).get("StatusCode", -1)
        if code != 0:
            tail = container.logs(tail=20).decode(errors="replace").strip()
            raise RuntimeHostError(f"Could not give {host_dir} to the image's user {user}: {tail}")
    finally:
        with contextlib.suppress(docker.errors.APIError, requests.RequestException):
            container.remove(force=True)
