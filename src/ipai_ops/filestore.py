"""Odoo filestores in and out of a storage target's blob store.

Odoo names each attachment file by the SHA-1 of its content and never changes a
file in place, so a file seen in an earlier backup with the same path, size and
mtime is the same file: its blob is reused without reading it again (the
"files cache" of borg and restic). New files are hashed (SHA-256) while they are
copied, and each distinct content is stored once per target.

Every name comes from the filestore or the database, which a branch's code writes:
names are checked (:func:`~ipai_ops.paths.filestore_relpath`) and files opened
without following links (:func:`~ipai_ops.paths.open_below`); what fails is listed
as *refused* in the manifest and never read or written.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BackupCorrupt, PathNotAllowed, StorageError
from .paths import create_below, filestore_relpath, open_below
from .storage import LocalTarget, sync_filesystem, valid_digest

# told (bytes done, bytes in all) after each file, from the thread doing the work
ByteCount = Callable[[int, int], None]
STORE_WORKERS = 4  # files hashed and copied into the blob store at once
MAX_REFUSED_LISTED = 100  # refused names kept in a manifest (the count is always exact)
REFUSED_NAME_CHARS = 200  # of each refused name, in the manifest


class CaptureStopped(Exception):
    """The backup a capture ran for has failed: what it would still store is not needed."""


@dataclass
class FilestoreCapture:
    """What a backup stored of a filestore."""

    entries: list[list] = field(default_factory=list)  # [path, size, mtime_ns, sha256]
    total_bytes: int = 0
    new_blobs: int = 0
    new_bytes: int = 0
    reused: int = 0
    vanished: list[str] = field(default_factory=list)
    # referenced by the database's attachments, but absent from the filestore
    missing: list[str] = field(default_factory=list)
    # names that are no file of the filestore (absolute, "..", links, devices): never read
    refused: list[str] = field(default_factory=list)
    refused_count: int = 0
    refused_names: set = field(default_factory=set, repr=False)  # as given, not shown

    def refuse(self, name: object) -> None:
        if name in self.refused_names:
            return
        self.refused_names.add(name)
        self.refused_count += 1
        if len(self.refused) < MAX_REFUSED_LISTED:
            self.refused.append(repr(name)[:REFUSED_NAME_CHARS])

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
            "missing": self.missing,
            "refused": self.refused,
            "refused_count": self.refused_count,
            "seconds": round(seconds, 3),
        }


def walk_files(root: Path) -> Iterator[tuple[str, os.stat_result, Path]]:
    """Regular files below ``root`` as (relative path, stat, absolute path), sorted."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda e: e.name, reverse=True)
        except FileNotFoundError:
            if folder == root:
                raise
            continue  # a directory emptied and removed meanwhile (Odoo's filestore GC)
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    path = Path(entry.path)
                    yield str(path.relative_to(root)), entry.stat(follow_symlinks=False), path
            except FileNotFoundError:
                continue  # deleted between the listing and the look


def capture_filestore(
    root: Path,
    target: LocalTarget,
    previous: dict[str, list] | None = None,
    *,
    referenced: set[str] | None = None,
    stop: threading.Event | None = None,
    on_bytes: ByteCount | None = None,
) -> FilestoreCapture:
    """Store every file of ``root`` in ``target``'s blobs; reuse what ``previous`` proves known.

    :param previous: an earlier capture's entries by path (the files cache)
    :param referenced: the files the dumped database refers to: one the walk did not see
        (created after it) is stored now; one that no longer exists is listed as missing
    :param stop: once set, the capture ends with :class:`CaptureStopped`
    :param on_bytes: told the bytes of new files stored so far, and of all new files:
        first once the walk is done, then after each file
    """
    capture = FilestoreCapture()
    previous = previous or {}
    if not root.is_dir():
        raise StorageError(f"The filestore {root} does not exist or is not a directory.")
    pending = []
    for relpath, stat, path in walk_files(root):
        known = previous.get(relpath)
        if (
            known
            and known[1] == stat.st_size
            and known[2] == stat.st_mtime_ns
            and target.has_blob(known[3], stat.st_size)
        ):
            capture.reused += 1
            _add(capture, [relpath, stat.st_size, stat.st_mtime_ns, known[3]])
        else:
            pending.append((relpath, stat, path))
    pending_bytes, stored_bytes = sum(item[1].st_size for item in pending), 0
    tell = on_bytes or (lambda _done, _total: None)
    tell(0, pending_bytes)
    # hashing and copying new files in parallel: hashlib and file I/O release the GIL
    with ThreadPoolExecutor(max_workers=STORE_WORKERS) as pool:
        stored = pool.map(lambda item: _store_unless_vanished(target, root, item[0], stop), pending)
        for (relpath, stat, _path), outcome in zip(pending, stored, strict=True):
            stored_bytes += stat.st_size
            tell(stored_bytes, pending_bytes)
            if outcome is None:  # deleted by Odoo's garbage collector meanwhile
                capture.vanished.append(relpath)
                continue
            if outcome is REFUSED:
                capture.refuse(relpath)
                continue
            digest, size, new = outcome
            capture.new_blobs += int(new)
            capture.new_bytes += size if new else 0
            _add(capture, [relpath, size, stat.st_mtime_ns, digest])
    capture.entries.sort()
    if referenced:
        _capture_late_files(root, target, capture, referenced)
    return capture


def _add(capture: FilestoreCapture, entry: list) -> None:
    capture.entries.append(entry)
    capture.total_bytes += entry[1]


def _unreadable(relpath: str, exc: OSError) -> StorageError:
    return StorageError(f"Could not read {relpath} of the filestore: {exc.strerror}.")


REFUSED = object()  # what storing a file gives when its name or kind is refused


def _store_unless_vanished(
    target: LocalTarget, root: Path, relpath: str, stop: threading.Event | None = None
) -> tuple[str, int, bool] | object | None:
    """Store ``relpath`` of ``root``: its blob, None if it vanished, or REFUSED."""
    if stop is not None and stop.is_set():
        raise CaptureStopped
    try:
        with open_below(root, relpath) as handle:
            return target.store_stream(handle, what=relpath)
    except PathNotAllowed:
        return REFUSED
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _unreadable(relpath, exc) from None


def _capture_late_files(
    root: Path, target: LocalTarget, capture: FilestoreCapture, referenced: set[str]
) -> None:
    seen = {entry[0] for entry in capture.entries} | capture.refused_names
    for relpath in sorted(referenced - seen, key=str):
        try:
            with open_below(root, relpath) as handle:  # refuses absolute names, "..", links
                mtime_ns = os.fstat(handle.fileno()).st_mtime_ns
                digest, size, new = target.store_stream(handle, what=relpath)
        except PathNotAllowed:
            capture.refuse(relpath)  # a store_fname naming something outside the filestore
            continue
        except FileNotFoundError:
            capture.missing.append(relpath)
            continue
        except OSError as exc:
            raise _unreadable(relpath, exc) from None
        capture.new_blobs += int(new)
        capture.new_bytes += size if new else 0
        capture.entries.append([relpath, size, mtime_ns, digest])
        capture.total_bytes += size


def restore_filestore(
    entries: list[list],
    target: LocalTarget,
    destination: Path,
    on_bytes: ByteCount | None = None,
) -> int:
    """Recreate a filestore from blobs into ``destination`` (which must not exist).

    Every blob is hashed as it is copied: a corrupt one fails the restore
    (:class:`BackupCorrupt`) before the restored filestore is put in place.

    :param on_bytes: told the bytes written so far, and in all, after each file

    :return: bytes written
    """
    if destination.exists():
        raise StorageError(f"{destination} already exists; refusing to write a filestore over it.")
    refuse_unsafe_entries(entries)  # before anything is written
    destination.mkdir(parents=True)
    written = 0
    total = sum(entry[1] for entry in entries)
    for relpath, size, mtime_ns, digest in entries:
        with create_below(destination, relpath) as handle:
            written += target.copy_blob(digest, handle, size=size)
            os.utime(handle.fileno(), ns=(mtime_ns, mtime_ns))
        if on_bytes:
            on_bytes(written, total)
    sync_filesystem(destination)
    return written


def refuse_unsafe_entries(entries: list[list]) -> None:
    """Raise :class:`BackupCorrupt` if a manifest's filestore entry names a path outside
    its filestore (absolute, ``..``) or a blob that is not a SHA-256: such a set was
    written or altered by someone else, and nothing of it is restored."""
    bad = []
    for entry in entries:
        try:
            relpath, size, _mtime, digest = entry
            filestore_relpath(relpath)
            valid_digest(digest)
            if not isinstance(size, int) or size < 0:
                raise PathNotAllowed("size")
        except (PathNotAllowed, TypeError, ValueError):
            bad.append(repr(entry)[:REFUSED_NAME_CHARS])
    if bad:
        shown = ", ".join(bad[:5])
        raise BackupCorrupt(
            f"The set's filestore names {len(bad)} file(s) outside any filestore ({shown}): "
            "it was not written by ipai-ops and nothing of it is restored."
        )


FICLONE = 0x40049409  # ioctl: share the source's extents, copy-on-write (Btrfs, XFS, …)
COPY_WORKERS = 4  # files copied at once: copy_file_range releases the GIL


def copy_tree(source: Path, destination: Path) -> tuple[int, int]:
    """Give ``destination`` (which must not exist) copies of ``source``'s regular files:
    reflinks where the file system has them, full copies otherwise — never hard links.

    The copy is run by a branch's code, which may rewrite its files in place: with a
    shared inode it would rewrite production's too. Links, FIFOs and devices planted in
    ``source`` are not copied, and nothing is opened through a link.

    :return: (files reflinked, files copied)
    """
    if not source.is_dir():
        raise StorageError(f"The filestore {source} does not exist.")
    if destination.exists():
        raise StorageError(f"{destination} already exists.")
    destination.mkdir(parents=True)
    names = [relpath for relpath, _stat, _path in walk_files(source)]
    with ThreadPoolExecutor(max_workers=COPY_WORKERS) as pool:
        outcomes = list(pool.map(lambda name: _copy_one(source, destination, name), names))
    sync_filesystem(destination)
    reflinked = outcomes.count("reflink")
    return reflinked, outcomes.count("copy")


def _copy_one(source: Path, destination: Path, relpath: str) -> str | None:
    """Copy one file, keeping its times; what was done: reflink, copy, or None (skipped)."""
    try:
        src = open_below(source, relpath)
    except (PathNotAllowed, FileNotFoundError):
        return None  # a link or a device, or deleted meanwhile: not a file of the copy
    with src, create_below(destination, relpath) as dst:
        stat = os.fstat(src.fileno())
        how = _clone_or_copy(src.fileno(), dst.fileno(), stat.st_size)
        os.utime(dst.fileno(), ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return how


def _clone_or_copy(src: int, dst: int, size: int) -> str:
    try:
        fcntl.ioctl(dst, FICLONE, src)
        return "reflink"
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY):
            raise
    across = False  # copy_file_range stays within a file system on older kernels
    left = size
    while left > 0:
        try:
            if across:
                done = os.sendfile(dst, src, None, left)
            else:
                done = os.copy_file_range(src, dst, left)
        except OSError as exc:
            if exc.errno != errno.EXDEV or across:
                raise
            across = True
            continue
        if done == 0:  # the file shrank meanwhile
            break
        left -= done
    return "copy"
