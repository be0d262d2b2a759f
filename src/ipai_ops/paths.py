"""Which directories the engine may read, write or delete.

Every path the engine acts on comes from a record somebody edited. A path is
accepted only when it is absolute and, once symbolic links and ``..`` are
resolved, lies strictly *inside* one of the roots an administrator configured
(a database server's filestore root, a storage target's directory). The root
itself is never accepted: deleting it would delete every environment's files.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import PathNotAllowed


def resolve(path: str | os.PathLike) -> Path:
    """``path`` made absolute with every link and ``..`` resolved (it need not exist)."""
    text = os.fspath(path)
    if not text or not os.path.isabs(text):
        raise PathNotAllowed(f"{text!r} is not an absolute path.")
    return Path(text).resolve(strict=False)


def path_under(path: str | os.PathLike, roots: Iterable[str | os.PathLike]) -> Path:
    """Return ``path`` resolved, or raise :class:`PathNotAllowed` if it is not inside a root."""
    resolved = resolve(path)
    checked = [resolve(root) for root in roots if root]
    if not checked:
        raise PathNotAllowed(
            f"{os.fspath(path)!r} cannot be used: no root directory is configured for it."
        )
    for root in checked:
        if resolved != root and resolved.is_relative_to(root):
            return resolved
    allowed = ", ".join(str(root) for root in checked)
    raise PathNotAllowed(f"{os.fspath(path)!r} is not inside the configured root ({allowed}).")


# --- paths a database or a backup set names ------------------------------------------
#
# A filestore's file names come from ``ir_attachment.store_fname`` and from backup
# manifests: whoever pushes a branch writes both. They are accepted only as relative
# paths in Odoo's layout, and files are opened one component at a time, never following
# a link, so neither an absolute name, a ``..`` nor a link planted in the filestore
# reaches outside its root.

MAX_RELPATH_PARTS = 8  # Odoo writes "<ab>/<sha1>" (and "checklist/<ab>/<sha1>")
MAX_PART_BYTES = 255
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def filestore_relpath(name: object) -> str:
    """``name`` if it is a relative path in a filestore's layout; else raise PathNotAllowed.

    Refused: anything not a string, empty, absolute, with an empty, ``.`` or ``..``
    component, a NUL, a backslash, or more than :data:`MAX_RELPATH_PARTS` components.
    """
    if not isinstance(name, str) or not name:
        raise PathNotAllowed(f"{name!r} is not a file name of a filestore.")
    parts = name.split("/")
    if (
        name.startswith("/")
        or "\0" in name
        or "\\" in name
        or len(parts) > MAX_RELPATH_PARTS
        or any(part in ("", ".", "..") or len(part.encode()) > MAX_PART_BYTES for part in parts)
    ):
        raise PathNotAllowed(f"{name!r} is not a file name of a filestore.")
    return name


def _open_parent(root_fd: int, parts: list[str], *, create: bool) -> int:
    """A descriptor of the directory ``parts`` name below ``root_fd``, no link followed."""
    fd = os.dup(root_fd)
    try:
        for part in parts:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
            child = os.open(part, _DIRECTORY_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def _links_refused(relpath: str) -> Iterator[None]:
    """A link met on the way (ELOOP under O_NOFOLLOW, ENOTDIR for a linked directory)
    becomes :class:`PathNotAllowed`."""
    try:
        yield
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise PathNotAllowed(f"{relpath!r} is, or passes through, a link.") from None
        raise


def _open_at(root, relpath: str, flags: int, *, create: bool) -> int:
    """A descriptor of ``relpath`` below ``root``, opened with ``flags`` | O_NOFOLLOW."""
    parts = filestore_relpath(relpath).split("/")
    root_fd = os.open(root, _DIRECTORY_FLAGS)
    try:
        with _links_refused(relpath):
            parent = _open_parent(root_fd, parts[:-1], create=create)
    finally:
        os.close(root_fd)
    try:
        with _links_refused(relpath):
            return os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=parent)
    finally:
        os.close(parent)


def open_below(root: str | os.PathLike, relpath: str):
    """Open the regular file ``relpath`` below ``root`` for reading, following no link.

    :raises PathNotAllowed: the name is not a filestore name, or a component of it is a
        link or not what it should be (a FIFO, a device…)
    :raises FileNotFoundError: it does not exist (any more)
    """
    # O_NONBLOCK: a FIFO planted in the filestore must not hang the reader
    fd = _open_at(root, relpath, os.O_RDONLY | os.O_NONBLOCK, create=False)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise PathNotAllowed(f"{relpath!r} is not a regular file.")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def create_below(root: str | os.PathLike, relpath: str):
    """Create the new file ``relpath`` below ``root`` for writing (its directories too),
    following no link and never opening a file that already exists."""
    fd = _open_at(root, relpath, os.O_WRONLY | os.O_CREAT | os.O_EXCL, create=True)
    return os.fdopen(fd, "wb")
