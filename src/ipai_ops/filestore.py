"""Odoo filestores in and out of a storage target's blob store.

Odoo names each attachment file by the SHA-1 of its content and never changes a
file in place, so a file seen in an earlier backup with the same path, size and
mtime is the same file: its blob is reused without reading it again (the
"files cache" of borg and restic). New files are hashed (SHA-256) while they are
copied, and each distinct content is stored once per target.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import StorageError
from .storage import LocalTarget, sync_filesystem

Progress = Callable[[str], None]


@dataclass
class FilestoreCapture:
    """What a backup stored of a filestore."""

    entries: list[list] = field(default_factory=list)  # [path, size, mtime_ns, sha256]
    total_bytes: int = 0
    new_blobs: int = 0
    new_bytes: int = 0
    reused: int = 0
    vanished: list[str] = field(default_factory=list)

    def as_manifest(self, root: Path, seconds: float) -> dict:
        return {
            "path": str(root),
            "files": self.entries,
            "file_count": len(self.entries),
            "bytes": self.total_bytes,
            "new_blobs": self.new_blobs,
            "new_bytes": self.new_bytes,
            "reused": self.reused,
            "vanished": self.vanished,
            "seconds": round(seconds, 3),
        }


def walk_files(root: Path) -> Iterator[tuple[str, os.stat_result, Path]]:
    """Regular files below ``root`` as (relative path, stat, absolute path), sorted."""
    stack = [root]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name, reverse=True):
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    path = Path(entry.path)
                    yield str(path.relative_to(root)), entry.stat(follow_symlinks=False), path


def capture_filestore(
    root: Path, target: LocalTarget, previous: dict[str, list] | None = None
) -> FilestoreCapture:
    """Store every file of ``root`` in ``target``'s blobs; reuse what ``previous`` proves known.

    :param previous: an earlier capture's entries by path (the files cache)
    """
    capture = FilestoreCapture()
    previous = previous or {}
    if not root.is_dir():
        raise StorageError(f"The filestore {root} does not exist or is not a directory.")
    for relpath, stat, path in walk_files(root):
        known = previous.get(relpath)
        if (
            known
            and known[1] == stat.st_size
            and known[2] == stat.st_mtime_ns
            and target.has_blob(known[3], stat.st_size)
        ):
            digest, size = known[3], stat.st_size
            capture.reused += 1
        else:
            try:
                digest, size, new = target.store_blob(path)
            except StorageError:
                if not path.exists():  # deleted by Odoo's garbage collector meanwhile
                    capture.vanished.append(relpath)
                    continue
                raise
            if new:
                capture.new_blobs += 1
                capture.new_bytes += size
        capture.entries.append([relpath, size, stat.st_mtime_ns, digest])
        capture.total_bytes += size
    return capture


def restore_filestore(
    entries: list[list], target: LocalTarget, destination: Path, *, hardlink: bool = False
) -> int:
    """Recreate a filestore from blobs into ``destination`` (which must not exist).

    :return: bytes written
    """
    if destination.exists():
        raise StorageError(f"{destination} already exists; refusing to write a filestore over it.")
    destination.mkdir(parents=True)
    written = 0
    made_dirs: set[Path] = set()
    for relpath, size, mtime_ns, digest in entries:
        out = destination / relpath
        if out.parent not in made_dirs:
            out.parent.mkdir(parents=True, exist_ok=True)
            made_dirs.add(out.parent)
        blob = target.blob_path(digest)
        if hardlink:
            os.link(blob, out)
        else:
            shutil.copyfile(blob, out)
            os.utime(out, ns=(mtime_ns, mtime_ns))
        written += size
    sync_filesystem(destination)
    return written
