"""The ``backup`` operation: database + filestore + manifest, published atomically.

1. The database is dumped with ``pg_dump`` in directory format, in parallel
   (``-j``), compressed (zstd when the client has it, else gzip level 1).
2. The filestore goes into the target's content-addressed blob store; what an
   earlier backup of the same filestore already stored is not read again.
3. The dump's table of contents is read back (``pg_restore --list``), every
   dump file is hashed, the manifest (versions, modules, sizes, durations, a
   SHA-256 of every stored file) is written, everything is flushed to disk, and
   only then is the set published by one rename.

A failure or a kill at any point leaves no published set; the next backup on
the target removes the leftovers of one whose process died.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import __version__
from .connection import ServerSpec, connection
from .errors import BackupCorrupt, StorageError
from .filestore import FilestoreCapture, capture_filestore
from .identifiers import validate_database_name
from .pgtools import client_major, find_client, run_tool
from .progress import ProgressCallback, SideBySide, Tracker
from .prune import collect_orphans
from .source import SourceInfo, inspect_source
from .storage import MANIFEST, LocalTarget, sha256_file, sync_filesystem
from .untrusted_sql import harden, refuse_non_tables

FORMAT = "ipai-ops-backup/1"
# why a backup was taken: code -> label (the control plane shows the labels)
BACKUP_KINDS = {
    "scheduled": "Scheduled",
    "manual": "Manual",
    "pre-update": "Before update",
    "import": "Imported",
}
MAX_DUMP_JOBS = 4  # parallel pg_dump/pg_restore workers at most; each is a server backend
# shares of a backup's time: the dump and the filestore side by side, then the dump's check
PHASES = {"copy": 95, "verify": 5}


@dataclass(frozen=True)
class BackupFacts:
    """What a published set's manifest says, typed: callers read these, not the manifest."""

    set_id: str
    database: str
    kind: str
    seconds: float
    dump_bytes: int
    filestore_bytes: int
    filestore_new_bytes: int
    file_count: int
    missing_files: tuple[str, ...]
    odoo_version: str | None
    module_count: int

    @classmethod
    def from_dict(cls, manifest: dict) -> BackupFacts:
        files = manifest.get("filestore") or {}
        odoo = manifest.get("odoo") or {}
        return cls(
            set_id=manifest["id"],
            database=manifest["database"],
            kind=manifest["kind"],
            seconds=manifest.get("seconds", 0.0),
            dump_bytes=manifest["dump"]["bytes"],
            filestore_bytes=files.get("bytes", 0),
            filestore_new_bytes=files.get("new_bytes", 0),
            file_count=files.get("file_count", 0),
            missing_files=tuple(files.get("missing", ())),
            odoo_version=odoo.get("version"),
            module_count=len(odoo.get("modules") or {}),
        )


@dataclass(frozen=True)
class BackupResult:
    set_id: str
    manifest: dict

    @property
    def facts(self) -> BackupFacts:
        return BackupFacts.from_dict(self.manifest)

    @property
    def summary(self) -> str:
        dump = self.manifest["dump"]
        files = self.manifest.get("filestore") or {}
        text = f"Backup {self.set_id}: dump {dump['bytes'] / 1024**2:.1f} MiB"
        if files:
            text += (
                f", filestore {files['file_count']} files "
                f"({files['new_blobs']} new, {files['new_bytes'] / 1024**2:.1f} MiB stored)"
            )
            if files.get("missing"):
                text += f"; {len(files['missing'])} referenced file(s) were already missing"
        return text + f" in {self.manifest['seconds']:.1f} s."


def default_jobs() -> int:
    return max(1, min(os.cpu_count() or 1, MAX_DUMP_JOBS))


def new_set_id(database: str, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    return f"{database}-{stamp}-{secrets.token_hex(2)}"


def compression_for(pg_dump: str) -> str:
    return "zstd:3" if client_major(pg_dump) >= 16 else "1"


def backup_database(
    spec: ServerSpec,
    database: str,
    target: LocalTarget,
    *,
    filestore: str | os.PathLike | None = None,
    kind: str = "manual",
    jobs: int | None = None,
    progress: ProgressCallback | None = None,
    imported_filestore: FilestoreCapture | None = None,
    record_as: str | None = None,
) -> BackupResult:
    """Back up ``database`` (and its ``filestore``) into ``target``; return the published set.

    :param imported_filestore: blobs already stored for this set (zip import)
    :param record_as: the database name the set is filed under (default: ``database``)
    """
    validate_database_name(database)
    if kind not in BACKUP_KINDS:
        raise ValueError(f"unknown backup kind {kind!r}")
    tracker = Tracker(progress, PHASES)
    target.refuse_overlap(filestore)  # before anything is created, inside it or not
    target.ensure()
    started = time.monotonic()
    if collected := collect_orphans(target):
        tracker.say(f"Removed {collected[0]} blob(s) an interrupted backup had stored")
    with target.lock(exclusive=False):
        for leftover in target.clean_leftovers():
            tracker.say(f"Removed the leftovers of an interrupted run: {leftover}")
        source = inspect_source(spec, database)
        pg_dump = find_client("pg_dump", source.server_major)
        set_id = new_set_id(record_as or database)
        with target.partial(set_id) as partial:
            manifest = _new_manifest(set_id, kind, source, pg_dump)
            manifest["database"] = record_as or database
            tracker.phase(
                "copy", f"Dumping {database} ({source.size_bytes / 1024**2:.0f} MiB) with {pg_dump}"
            )
            if filestore:
                tracker.say(f"Storing the filestore {filestore} while the dump runs")
            manifest["dump"], files = _dump_and_capture(
                spec, source, pg_dump, partial, jobs or default_jobs(),
                target=target, filestore=Path(filestore) if filestore else None, tracker=tracker,
            )  # fmt: skip
            if files:
                manifest["filestore"] = files
                if files["missing"]:
                    tracker.say(
                        f"{len(files['missing'])} file(s) the database refers to were already gone"
                    )
            elif imported_filestore:
                manifest["filestore"] = imported_filestore.as_manifest(Path("imported"), 0)
            tracker.phase("verify", "Verifying the dump's table of contents")
            manifest["dump"]["toc_entries"] = verify_toc(
                spec, source.server_major, partial / "dump"
            )
            manifest["seconds"] = round(time.monotonic() - started, 3)
            manifest["finished_at"] = datetime.now(timezone.utc).isoformat()
            _write_manifest(partial, manifest)
            target.publish(partial, set_id)
    tracker.finish(f"Published {set_id}")
    return BackupResult(set_id, manifest)


def _new_manifest(set_id: str, kind: str, source: SourceInfo, pg_dump: str) -> dict:
    return {
        "format": FORMAT,
        "id": set_id,
        "kind": kind,
        "database": source.database,
        "started_at": datetime.now(timezone.utc).isoformat(),
        "engine": f"ipai-ops {__version__}",
        "server": {"version": source.server_version, "version_num": source.server_version_num},
        "client": {"pg_dump": pg_dump, "major": client_major(pg_dump)},
        "source": {
            "encoding": source.encoding,
            "collate": source.collate,
            "ctype": source.ctype,
            "size_bytes": source.size_bytes,
            "owner": source.owner,
        },
        "odoo": source.odoo,
    }


def _dump_and_capture(
    spec: ServerSpec,
    source: SourceInfo,
    pg_dump: str,
    partial: Path,
    jobs: int,
    *,
    target: LocalTarget,
    filestore: Path | None,
    tracker: Tracker,
) -> tuple[dict, dict | None]:
    """Dump the database from an exported snapshot and, at the same time, store the
    filestore: ``pg_dump`` is bound by the server and compression, the filestore by
    disk reads and hashing, so side by side the backup takes about the longer of the
    two instead of their sum.

    The files the attachments refer to are listed *in the dump's snapshot*, so the
    filestore captured is checked against exactly what the dump holds.

    The dump counts as many bytes done as the database's size once it ends (pg_dump
    tells nothing before), the filestore the bytes of each new file it stores.

    :return: the dump's manifest entry, and the filestore's (``None`` without one)
    """
    started = time.monotonic()
    parts = SideBySide(tracker, {"dump": source.size_bytes, "filestore": None if filestore else 0})
    dump_dir = partial / "dump"
    compression = compression_for(pg_dump)
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        with exported_snapshot(spec.for_database(source.database)) as (snapshot, referenced):
            files = filestore and pool.submit(
                _capture, target, filestore, source.database, referenced, stop, parts=parts
            )
            try:
                run_tool(
                    [
                        pg_dump,
                        "--format=directory",
                        f"--jobs={jobs}",
                        f"--compress={compression}",
                        f"--snapshot={snapshot}",
                        f"--file={dump_dir}",
                        f"--dbname={source.database}",
                    ],
                    spec,
                    check_message="pg_dump",
                )
            except BaseException:
                stop.set()  # a failed dump fails the backup now, not after the filestore
                raise
            parts.complete("dump")
        entry = {
            "format": "directory",
            "compression": compression,
            "jobs": jobs,
            "files": _hash_dump_files(dump_dir),
            "seconds": round(time.monotonic() - started, 3),
        }
        entry["bytes"] = sum(f["size"] for f in entry["files"].values())
        return entry, files and files.result()


def _hash_dump_files(dump_dir: Path) -> dict:
    files = {}
    for path in sorted(dump_dir.iterdir()):
        digest, size = sha256_file(path)
        files[path.name] = {"size": size, "sha256": digest}
    return files


@contextmanager
def exported_snapshot(spec: ServerSpec) -> Iterator[tuple[str, set[str]]]:
    """A snapshot ``pg_dump --snapshot`` can share, held open for the block, and the
    filestore files Odoo's attachments refer to in it."""
    with connection(spec, autocommit=False) as conn:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with conn.cursor() as cur:
            harden(cur)  # the attachments are the database owner's: none of its code runs
            cur.execute("SELECT pg_export_snapshot()")
            snapshot = cur.fetchone()[0]
            cur.execute("SELECT to_regclass('public.ir_attachment') IS NOT NULL")
            referenced = set()
            if cur.fetchone()[0]:
                refuse_non_tables(cur, ["ir_attachment"])
                cur.execute(
                    "SELECT DISTINCT store_fname FROM public.ir_attachment"
                    " WHERE store_fname IS NOT NULL"
                )
                referenced = {row[0] for row in cur.fetchall()}
        yield snapshot, referenced
        conn.rollback()


def _capture(
    target: LocalTarget,
    root: Path,
    database: str,
    referenced: set[str],
    stop: threading.Event,
    *,
    parts: SideBySide,
) -> dict:
    started = time.monotonic()
    previous = previous_filestore_entries(target, database, root)
    capture = capture_filestore(
        root, target, previous, referenced=referenced, stop=stop,
        on_bytes=lambda done, total: parts.update("filestore", done, total),
    )  # fmt: skip
    if capture.new_blobs:
        sync_filesystem(target.blobs_dir)  # now, while the dump runs, not all at publication
    return capture.as_manifest(root, time.monotonic() - started)


def previous_filestore_entries(target: LocalTarget, database: str, root: Path) -> dict:
    """The newest earlier set's filestore entries of the same database and path, by path."""
    for set_id, manifest, _why in reversed(list(target.manifests())):
        if manifest is None or not set_id.startswith(f"{database}-"):
            continue
        files = manifest.get("filestore")
        if manifest.get("database") == database and files and files["path"] == str(root):
            return {entry[0]: entry for entry in files["files"]}
    return {}


def verify_toc(spec: ServerSpec, server_major: int, dump_dir: Path) -> int:
    """Read the dump's table of contents back; return its number of entries."""
    pg_restore = find_client("pg_restore", server_major)
    out = run_tool([pg_restore, "--list", str(dump_dir)], spec, check_message="pg_restore --list")
    entries = [line for line in out.stdout.decode().splitlines() if line and line[0] != ";"]
    if not entries:
        raise BackupCorrupt(f"The dump in {dump_dir} has an empty table of contents.")
    return len(entries)


def _write_manifest(partial: Path, manifest: dict) -> None:
    data = json.dumps(manifest, indent=1, sort_keys=True).encode()
    try:
        with open(partial / MANIFEST, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        hint = " — the disk is full" if exc.errno == errno.ENOSPC else ""
        raise StorageError(f"Could not write the manifest{hint}: {exc.strerror}.") from None
