"""Reading and writing files of a container through the engine's archive API.

Files go in before a container starts (its ``odoo.conf``, its password file) or while it
runs (the router's routes); either way nothing passes through a command line.
"""

from __future__ import annotations

import io
import tarfile
import time


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
