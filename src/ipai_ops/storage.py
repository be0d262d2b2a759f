"""Where backups live: a storage target and its layout.

A target is a directory::

    sets/<set id>/            published backup sets (manifest.json + dump/)
    blobs/<ab>/<sha256>       filestore files, stored once per target whatever
                              the number of backups referring to them
    tmp/<set id>.partial/     a backup being written (invisible until published)
    tmp/<set id>.lock         held (flock) by the process writing that set
    lock                      shared by writers, exclusive for pruning

Publishing is one ``rename`` of a fully written, fsynced and verified partial
directory into ``sets/``: a process killed at any line leaves either no set or a
whole one. Leftover partials whose writer is gone are removed by the next run.

:class:`LocalTarget` is the file-system implementation; the methods it offers
(``list_sets``, ``read_manifest``, ``store_blob``, ``open_blob``…) are the whole
interface the operations use, so a remote target only has to provide them.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from .errors import BackupCorrupt, BackupNotFound, StorageError

CHUNK = 1024 * 1024  # bytes read or written at a time when copying and hashing
MANIFEST = "manifest.json"
COLLECT_MARK = "orphan-blobs"  # in tmp/: blobs of a failed backup await collection


_DIGEST = re.compile(r"[0-9a-f]{64}")


def valid_digest(digest: object) -> str:
    """``digest`` if it is a SHA-256 in hex, else :class:`BackupCorrupt`."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise BackupCorrupt(f"{str(digest)[:80]!r} is not a blob's SHA-256.")
    return digest


def sha256_file(path: Path) -> tuple[str, int]:
    """SHA-256 hex digest and size of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_filesystem(path: Path) -> None:
    """Flush every dirty page of the file system holding ``path`` (Linux syncfs).

    One call instead of one fsync per file: a first backup writes thousands of blobs.
    """
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if getattr(libc, "syncfs", None) is None or libc.syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _raise_storage(exc: OSError, what: str) -> NoReturn:
    if exc.errno == errno.ENOSPC:
        raise StorageError(f"The storage target is full while {what}; nothing was published.")
    if exc.errno == errno.EROFS:
        raise StorageError(f"The storage target is on a read-only file system ({what}).")
    raise StorageError(f"Storage error while {what}: {exc}")


class LocalTarget:
    """A storage target in a local (or locally mounted) directory."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser().resolve()
        self.sets_dir = self.root / "sets"
        self.blobs_dir = self.root / "blobs"
        self.tmp_dir = self.root / "tmp"

    def __repr__(self) -> str:
        return f"LocalTarget({str(self.root)!r})"

    # --- layout and safety -------------------------------------------------------

    def check_root(self) -> None:
        """A target path that exists must be a directory (a file there is a mistake)."""
        if self.root.exists() and not self.root.is_dir():
            raise StorageError(f"The storage target {self.root} is a file, not a directory.")

    def ensure(self) -> None:
        self.check_root()
        for folder in (self.sets_dir, self.blobs_dir, self.tmp_dir):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                _raise_storage(exc, f"creating {folder}")

    def refuse_overlap(self, filestore: str | os.PathLike | None) -> None:
        """A target inside the filestore (or the reverse) would back up itself."""
        if not filestore:
            return
        store = Path(filestore).expanduser().resolve()
        if self.root == store or store in self.root.parents or self.root in store.parents:
            raise StorageError(
                f"The storage target {self.root} overlaps the filestore {store}: choose a "
                "directory outside the filestore."
            )

    def _lock_file(self):
        try:
            return open(self.root / "lock", "a+")  # the callers close it (with)
        except OSError as exc:
            _raise_storage(exc, f"opening {self.root / 'lock'}")

    @contextmanager
    def lock(self, *, exclusive: bool) -> Iterator[None]:
        """Writers share the target; pruning (which deletes blobs) needs it alone."""
        self.ensure()
        with self._lock_file() as handle:
            fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def lock_if_alone(self) -> Iterator[bool]:
        """The exclusive lock if nobody holds the target now (yields True), else False."""
        self.ensure()
        with self._lock_file() as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # A failed or killed backup may have stored blobs no set will ever use: this file
    # says so, until the next collection run alone on the target removes them.
    def note_orphans(self) -> None:
        (self.tmp_dir / COLLECT_MARK).touch()

    def has_orphans(self) -> bool:
        return (self.tmp_dir / COLLECT_MARK).exists()

    def orphans_collected(self) -> None:
        (self.tmp_dir / COLLECT_MARK).unlink(missing_ok=True)

    # --- partial sets ------------------------------------------------------------

    @contextmanager
    def partial(self, set_id: str) -> Iterator[Path]:
        """A private directory for a set being written; removed unless published."""
        self.ensure()
        lock_path = self.tmp_dir / f"{set_id}.lock"
        path = self.tmp_dir / f"{set_id}.partial"
        with open(lock_path, "w") as lock_handle:
            fcntl.flock(lock_handle, fcntl.LOCK_EX)
            path.mkdir()
            try:
                yield path
            finally:
                if path.exists():  # not published: its new blobs, if any, are orphans
                    self.note_orphans()
                    shutil.rmtree(path, ignore_errors=True)
                lock_path.unlink(missing_ok=True)

    def publish(self, partial: Path, set_id: str) -> Path:
        """Make a fully written set visible, atomically and durably."""
        final = self.sets_dir / set_id
        try:
            sync_filesystem(partial)
            os.rename(partial, final)
            fsync_dir(self.sets_dir)
        except OSError as exc:
            _raise_storage(exc, f"publishing {set_id}")
        return final

    def clean_leftovers(self) -> list[str]:
        """Remove partial and half-deleted sets whose writer is gone; return their names."""
        removed = []
        if not self.tmp_dir.is_dir():
            return removed
        removed += self._remove_dead_incoming()
        for entry in sorted(self.tmp_dir.iterdir()):
            if entry.suffix == ".deleting":
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry.name)
            elif entry.suffix == ".partial" and not self._writer_alive(entry):
                self.note_orphans()
                shutil.rmtree(entry, ignore_errors=True)
                (self.tmp_dir / f"{entry.stem}.lock").unlink(missing_ok=True)
                removed.append(entry.name)
        return removed

    def _remove_dead_incoming(self) -> list[str]:
        """Blobs being written by a process that no longer runs (``.incoming-<pid>-…``)."""
        removed = []
        if not self.blobs_dir.is_dir():
            return removed
        for entry in self.blobs_dir.glob(".incoming-*"):
            pid = entry.name.split("-")[1]
            if pid.isdigit() and not _process_alive(int(pid)):
                entry.unlink(missing_ok=True)
                removed.append(entry.name)
        return removed

    def _writer_alive(self, partial: Path) -> bool:
        lock_path = self.tmp_dir / f"{partial.stem}.lock"
        if not lock_path.exists():
            return False
        with open(lock_path) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    # --- published sets ----------------------------------------------------------

    def list_sets(self) -> list[str]:
        self.check_root()
        if not self.sets_dir.is_dir():
            return []
        return sorted(p.name for p in self.sets_dir.iterdir() if (p / MANIFEST).is_file())

    def set_path(self, set_id: str) -> Path:
        path = self.sets_dir / set_id
        if "/" in set_id or set_id.startswith(".") or not (path / MANIFEST).is_file():
            raise BackupNotFound(f"No backup {set_id!r} on {self.root}.")
        return path

    def manifests(self) -> Iterator[tuple[str, dict | None, str | None]]:
        """Every published set as (id, manifest, None), or (id, None, why) when its
        manifest cannot be read: one damaged set never hides the others."""
        for set_id in self.list_sets():
            try:
                yield set_id, self.read_manifest(set_id), None
            except BackupCorrupt as exc:
                yield set_id, None, str(exc)

    def read_manifest(self, set_id: str) -> dict:
        path = self.set_path(set_id) / MANIFEST
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise BackupCorrupt(f"Backup {set_id}: unreadable manifest ({exc}).") from None

    def delete_set(self, set_id: str) -> None:
        """Make a set disappear at once (rename), then remove its files."""
        path = self.set_path(set_id)
        doomed = self.tmp_dir / f"{set_id}.{secrets.token_hex(3)}.deleting"
        os.rename(path, doomed)
        fsync_dir(self.sets_dir)
        shutil.rmtree(doomed, ignore_errors=True)

    # --- blobs -------------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        valid_digest(digest)  # a manifest's digest names a file: never "../…"
        return self.blobs_dir / digest[:2] / digest

    def has_blob(self, digest: str, size: int) -> bool:
        try:
            return self.blob_path(digest).stat().st_size == size
        except FileNotFoundError:
            return False

    def store_blob(self, source: Path) -> tuple[str, int, bool]:
        """Copy a file into the blob store, hashing as it goes.

        :return: (sha256, size, whether a new blob was written)
        """
        try:
            with open(source, "rb") as src:
                return self.store_stream(src, what=str(source))
        except OSError as exc:
            _raise_storage(exc, f"reading {source}")

    def store_stream(self, src, what: str = "a file") -> tuple[str, int, bool]:
        """Like :meth:`store_blob`, from an open binary stream (a zip member, say)."""
        tmp = self.blobs_dir / f".incoming-{os.getpid()}-{secrets.token_hex(4)}"
        digest = hashlib.sha256()
        size = 0
        try:
            with open(tmp, "wb") as dst:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
            hexdigest = digest.hexdigest()
            if self.has_blob(hexdigest, size):
                tmp.unlink()
                return hexdigest, size, False
            final = self.blob_path(hexdigest)
            final.parent.mkdir(exist_ok=True)
            os.rename(tmp, final)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            _raise_storage(exc, f"storing {what}")
        return hexdigest, size, True

    def open_blob(self, digest: str):
        return open(self.blob_path(digest), "rb")

    def copy_blob(self, digest: str, out, *, size: int | None = None) -> int:
        """Write blob ``digest`` to the binary stream ``out``, hashing what is read:
        a blob whose content no longer matches its name (bit rot, a flipped byte, a
        truncation) raises :class:`BackupCorrupt`, so nothing unchecked is delivered.

        :return: bytes written
        """
        hasher = hashlib.sha256()
        written = 0
        try:
            with self.open_blob(digest) as blob:
                while chunk := blob.read(CHUNK):
                    hasher.update(chunk)
                    out.write(chunk)
                    written += len(chunk)
        except FileNotFoundError:
            raise BackupCorrupt(f"filestore blob {digest[:12]}… is missing") from None
        if hasher.hexdigest() != digest or (size is not None and written != size):
            raise BackupCorrupt(f"filestore blob {digest[:12]}… does not match its checksum")
        return written

    def iter_blobs(self) -> Iterator[tuple[str, Path]]:
        if not self.blobs_dir.is_dir():
            return
        for folder in self.blobs_dir.iterdir():
            if folder.is_dir():
                for blob in folder.iterdir():
                    yield blob.name, blob
            elif folder.name.startswith(".incoming-"):
                yield folder.name, folder
