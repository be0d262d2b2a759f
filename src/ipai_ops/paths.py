"""Which directories the engine may read, write or delete.

Every path the engine acts on comes from a record somebody edited. A path is
accepted only when it is absolute and, once symbolic links and ``..`` are
resolved, lies strictly *inside* one of the roots an administrator configured
(a database server's filestore root, a storage target's directory). The root
itself is never accepted: deleting it would delete every environment's files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
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
