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
LOG_HEAD_BYTES = 2 * 1024**2  # of a one-off container's log, kept from its start
LOG_TAIL_BYTES = 14 * 1024**2  # and from its end: a branch's code may print without end
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


def put_files(container, user: str, files: dict[str, tuple[str, int, bool]], *,
              into: str = "/") -> None:  # fmt: skip
    """Write ``{path: (text, mode, owned_by_user)}`` into the container.

    A path ending in ``/`` is a directory (its text is ignored). Paths are relative to
    ``into``: a container with a read-only root file system takes files only into a
    volume of its own, named by its mount point.
    """
    uid, gid = user_ids(container, user)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, (text, mode, owned) in files.items():
            data = text.encode()
            info = tarfile.TarInfo(str(PurePosixPath(path).relative_to(into)))
            if path.endswith("/"):
                info.type, data = tarfile.DIRTYPE, b""
            info.size, info.mode, info.mtime = len(data), mode, int(time.time())
            info.uid, info.gid = (uid, gid) if owned else (0, 0)
            tar.addfile(info, io.BytesIO(data))
    container.put_archive(into, buffer.getvalue())


def give_directory(client, image, host_dir: str, mount: str, labels: dict[str, str],
                   *, runner=None) -> None:  # fmt: skip
    """Give ``host_dir`` of the host (and what it holds) to ``image``'s user, by a root
    one-off container without network: it works on remote hosts too, and needs no
    privilege of the control plane's.

    :param runner: the image whose ``chown`` does it (default: ``image``). An
        environment's image holds a branch's code, which may have replaced ``chown``
        when its requirements were installed: the trusted base image runs it instead,
        never following a link (``-h``, and ``-R`` does not traverse them)."""
    path = PurePosixPath(host_dir)
    if not path.is_absolute() or ".." in path.parts or len(path.parts) < MIN_DEPTH:
        raise RuntimeHostError(
            f"{host_dir} is not a directory ipai-ops gives away: it must be an absolute "
            f"path at least {MIN_DEPTH - 1} levels deep (a filestore, a mail spool)."
        )
    user = image.attrs["Config"].get("User") or "root"
    if user in ("root", "0"):
        return
    code, log = run_to_end(
        client, (runner or image).id, ["chown", "-R", "-h", f"{user}:", mount], labels=labels,
        user="root", capabilities=["CHOWN", "DAC_READ_SEARCH"],
        volumes={host_dir: {"bind": mount, "mode": "rw"}}, timeout=GIVE_TIMEOUT,
    )  # fmt: skip
    if code != 0:
        tail = "\n".join(log.strip().splitlines()[-20:])
        raise RuntimeHostError(f"Could not give {host_dir} to the image's user {user}: {tail}")


ONE_OFF_PIDS = 512  # processes of a one-off container


def run_to_end(client, image: str, entrypoint: list[str], *, labels: dict[str, str],
               timeout: float, user: str | None = None, volumes: dict | None = None,
               capabilities: list[str] | None = None) -> tuple[int, str]:  # fmt: skip
    """Run ``entrypoint`` in a one-off container of ``image`` without network, to its end
    (``timeout`` seconds at most); its exit code and log. The container is removed.

    It has no capability but ``capabilities`` and gains no privilege (setuid binaries
    stay unprivileged): an image may hold a branch's code."""
    container = client.containers.create(
        image,
        name=f"ipai-ops-once-{uuid.uuid4().hex[:12]}",
        entrypoint=entrypoint,
        command=[],
        user=user or "",
        labels={engine.MANAGED: "1", **labels},
        network_mode="none",
        volumes=volumes or {},
        cap_drop=["ALL"],
        cap_add=capabilities or [],
        security_opt=["no-new-privileges:true"],
        pids_limit=ONE_OFF_PIDS,
    )
    try:
        container.start()
        try:
            code = container.wait(timeout=timeout).get("StatusCode", -1)
        except requests.RequestException:
            code = -1  # ran too long: the log says how far it got
        return code, bounded_log(container)
    finally:
        with contextlib.suppress(docker.errors.APIError, requests.RequestException):
            container.remove(force=True)


def bounded_log(container) -> str:
    """A container's log, streamed: its first :data:`LOG_HEAD_BYTES` and last
    :data:`LOG_TAIL_BYTES`, with what lies between left out (and said so). The log is
    the branch's code's output, so its size is the branch's choice, not ours."""
    head, tail, dropped = bytearray(), bytearray(), 0
    for chunk in container.logs(stream=True, follow=False):
        room = max(0, LOG_HEAD_BYTES - len(head))
        head += chunk[:room]
        tail += chunk[room:]
        if len(tail) > LOG_TAIL_BYTES:
            dropped += len(tail) - LOG_TAIL_BYTES
            del tail[: len(tail) - LOG_TAIL_BYTES]
    middle = f"\n[… {dropped} bytes of the log left out …]\n".encode() if dropped else b""
    return (bytes(head) + middle + bytes(tail)).decode(errors="replace")
