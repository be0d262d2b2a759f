"""An environment's image: the base Odoo image with the environment's addons baked in.

Each addons directory is copied to ``/mnt/extra-addons/<n>`` (read-only to Odoo's user)
and its ``requirements.txt``, when it has one, is installed with pip **as Odoo's user**,
into a directory of its own on ``PYTHONUSERBASE``: a requirement is a stranger's code
(its ``setup.py`` runs at install time), and as root it could rewrite the image's
``chown``, Odoo itself or its Python. The tag is the whole SHA-256 of the base image's id
and the addons trees' names, modes and contents, so an unchanged tree maps to an
existing tag and is not built again, and no other tree can be given the same tag; two
environments running the same code share one image.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path

import docker
import docker.errors

from ..errors import ImageBuildFailed
from . import engine

REPOSITORY = "ipai-ops-env"
ADDONS_ROOT = "/mnt/extra-addons"
ADDONS_PATH_LABEL = "ipai-ops.addons-path"
PYTHON_USER_BASE = "/opt/ipai-ops/python"  # the requirements' packages, the build user's
NOBODY = "65534"  # installs requirements when the base image runs as root
BUILD_LOG_TAIL = 30  # lines of the build log kept in the error
SKIPPED_NAMES = frozenset({"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")


def _files(root: Path) -> list[Path]:
    """Files under ``root`` that belong in an image, in a stable order."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_NAMES)
        found += [
            Path(dirpath, name) for name in sorted(filenames) if not name.endswith(SKIPPED_SUFFIXES)
        ]
    return found


def addons_digest(base_image_id: str, addons_dirs: Iterable[Path]) -> str:
    """A digest of everything the image is made of (SHA-256, 64 hex digits)."""
    digest = hashlib.sha256(base_image_id.encode())
    for index, root in enumerate(addons_dirs):
        digest.update(f"\0dir {index}\0".encode())
        for path in _files(root):
            digest.update(f"\0{path.relative_to(root)}\0{path.stat().st_mode & 0o777}\0".encode())
            with path.open("rb") as handle:
                for block in iter(lambda h=handle: h.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def _dockerfile(base_image: str, user: str, requirements: list[str]) -> str:
    lines = [f"FROM {base_image}", "USER root", f"COPY addons/ {ADDONS_ROOT}/"]
    if requirements:
        installer = user if user not in ("", "root", "0") else NOBODY
        lines += [
            f"RUN mkdir -p {PYTHON_USER_BASE} && chown {installer} {PYTHON_USER_BASE}",
            f"ENV PYTHONUSERBASE={PYTHON_USER_BASE}",
            f"USER {installer}",
        ]
        lines += [
            f"RUN pip3 install --user --no-cache-dir --break-system-packages -r {ADDONS_ROOT}/{req}"
            for req in requirements
        ]
    lines.append(f"USER {user or 'root'}")
    return "\n".join(lines) + "\n"


def _context(base_image: str, user: str, addons_dirs: list[Path], fileobj) -> None:
    requirements = [
        f"{index}/requirements.txt"
        for index, root in enumerate(addons_dirs)
        if (root / "requirements.txt").is_file()
    ]
    with tarfile.open(fileobj=fileobj, mode="w") as tar:
        for index, root in enumerate(addons_dirs):
            for path in _files(root):
                info = tar.gettarinfo(path, f"addons/{index}/{path.relative_to(root)}")
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mode |= 0o444  # readable by Odoo's user, writable by nobody but root
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
        dockerfile = _dockerfile(base_image, user, requirements).encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    fileobj.seek(0)


def addons_path(count: int) -> str:
    """The in-image addons path for ``count`` addons directories."""
    return ",".join(f"{ADDONS_ROOT}/{index}" for index in range(count))


def environment_image(
    client: docker.DockerClient, base_image: str, addons_dirs: Iterable[os.PathLike | str]
) -> str:
    """The tag of the image running ``addons_dirs`` on ``base_image``, built if missing.

    :raises ImageBuildFailed: the base image is missing, or the build failed (with the
        last lines of its log).
    """
    dirs = [Path(d).resolve() for d in addons_dirs]
    for root in dirs:
        if not root.is_dir():
            raise ImageBuildFailed(f"The addons directory {root} does not exist.")
    try:
        base = client.images.get(base_image)
    except docker.errors.ImageNotFound:
        raise ImageBuildFailed(
            f"The base image {base_image} is not on this runtime host: load or build it first."
        ) from None
    tag = f"{REPOSITORY}:{addons_digest(base.id, dirs)}"
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    _build(client, base_image, base.attrs["Config"].get("User", ""), dirs, tag)
    return tag


def _build(client, base_image: str, user: str, dirs: list[Path], tag: str) -> None:
    log: list[str] = []
    labels = {engine.MANAGED: "1", ADDONS_PATH_LABEL: addons_path(len(dirs))}
    with tempfile.TemporaryFile() as context:
        _context(base_image, user, dirs, context)
        try:
            for chunk in client.api.build(
                fileobj=context,
                custom_context=True,
                tag=tag,
                labels=labels,
                network_mode="host",
                rm=True,
                forcerm=True,
                decode=True,
            ):
                log += chunk.get("stream", "").splitlines()
                if "error" in chunk:
                    log.append(chunk["error"])
                    raise ImageBuildFailed(_failure(tag, log), log="\n".join(log))
        except docker.errors.APIError as exc:
            log.append(str(exc))
            raise ImageBuildFailed(_failure(tag, log), log="\n".join(log)) from None


def _failure(tag: str, log: list[str]) -> str:
    tail = "\n".join(line for line in log[-BUILD_LOG_TAIL:] if line.strip())
    return f"Building {tag} failed:\n{tail}"


def prune_unused(client: docker.DockerClient, *, older_than: str = "24h") -> tuple[int, int]:
    """Remove the environment images no container uses (running or not) that were made
    more than ``older_than`` ago (Docker's duration, e.g. "24h"): every push makes one,
    and a host's disk is shared by every project on it. A younger image may be about to
    serve (built, not yet deployed) and is kept.

    :return: (images removed, bytes reclaimed)
    """
    try:
        pruned = client.images.prune(
            filters={"dangling": False, "label": f"{engine.MANAGED}=1", "until": older_than}
        )
    except docker.errors.APIError as exc:
        raise ImageBuildFailed(f"The engine refused to remove unused images: {exc}") from None
    removed = [item for item in pruned.get("ImagesDeleted") or [] if item.get("Deleted")]
    return len(removed), pruned.get("SpaceReclaimed") or 0
