"""Odoo's backup zip: export any backup set as one, import one as a backup set.

The format is the one Odoo's database manager and Odoo.sh read and write:
``dump.sql`` (plain SQL), ``manifest.json`` (Odoo and PostgreSQL versions,
installed modules) and ``filestore/<ab>/<sha1>``. Export streams: ``dump.sql``
comes out of ``pg_restore`` into the zip and each filestore file straight out of
the blob store, so nothing is staged on disk and the zip can go to a socket.
Import loads ``dump.sql`` into a scratch database (stopping at the first error),
streams the filestore into the blob store, and takes a normal backup of the result.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from datetime import datetime
from typing import BinaryIO

from .backup import BackupResult, backup_database
from .connection import ServerSpec, client_env, connection
from .errors import BackupCorrupt, ClientToolError, PathNotAllowed
from .filestore import FilestoreCapture
from .guards import drop_database
from .identifiers import validate_database_name
from .paths import filestore_relpath
from .pgtools import STDERR_TAIL, dies_with_us, find_client
from .progress import ProgressCallback, Tracker
from .restore import _create_like, scratch_name
from .scratch import owner_tag
from .storage import CHUNK, LocalTarget
from .verify import verify_set

SQL_COMPRESSLEVEL = 1  # deflate level of dump.sql: fast, and still ~4x smaller
# shares of an import's time: loading dump.sql, storing the filestore, the backup of the result
IMPORT_PHASES = {"load": 40, "filestore": 20, "backup": 40}


def odoo_manifest(manifest: dict) -> dict:
    """The manifest.json Odoo's ``dump_db`` writes, from our manifest."""
    odoo = manifest.get("odoo") or {}
    version = odoo.get("version") or ""
    major, _, minor = version.partition(".")
    pg_major, pg_minor = divmod(manifest["server"]["version_num"] // 100, 100)  # as Odoo writes it
    return {
        "odoo_dump": "1",
        "db_name": manifest["database"],
        "version": version,
        "version_info": [int(major or 0), int(minor or 0), 0, "final", 0, ""],
        "major_version": version,
        "pg_version": f"{pg_major}.{pg_minor}",
        "modules": odoo.get("modules") or {},
    }


def export_zip(target: LocalTarget, set_id: str, out: BinaryIO) -> int:
    """Write backup ``set_id`` as an Odoo zip to ``out`` (which need not be seekable).

    :return: number of filestore files written
    """
    manifest, _report = verify_set(target, set_id)
    pg_restore = find_client("pg_restore", manifest["server"]["version_num"] // 10000)
    dump_dir = target.set_path(set_id) / "dump"
    files = (manifest.get("filestore") or {}).get("files", [])
    with zipfile.ZipFile(
        out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=SQL_COMPRESSLEVEL
    ) as archive:
        with archive.open("dump.sql", "w", force_zip64=True) as sql_out:
            _stream_plain_sql(pg_restore, dump_dir, sql_out)
        archive.writestr("manifest.json", json.dumps(odoo_manifest(manifest), indent=4))
        for relpath, size, mtime_ns, digest in files:
            info = zipfile.ZipInfo(  # stored as is: attachments are mostly compressed already
                f"filestore/{relpath}",
                date_time=datetime.fromtimestamp(mtime_ns / 1e9).timetuple()[:6],
            )
            with archive.open(info, "w", force_zip64=True) as member:
                target.copy_blob(digest, member, size=size)
    return len(files)


def _stream_plain_sql(pg_restore: str, dump_dir, sql_out) -> None:
    proc = subprocess.Popen(  # noqa: S603 - argument list
        dies_with_us([pg_restore, "--no-owner", "--file=-", str(dump_dir)]),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        shutil.copyfileobj(proc.stdout, sql_out, CHUNK)
    except BaseException:  # the reader went away: pg_restore must not linger
        proc.kill()
        proc.wait()
        raise
    stderr = proc.stderr.read().decode(errors="replace")
    if proc.wait() != 0:
        raise ClientToolError(f"pg_restore could not write dump.sql: {stderr[-STDERR_TAIL:]}")


def import_zip(
    spec: ServerSpec,
    zip_path,
    target: LocalTarget,
    *,
    database: str | None = None,
    progress: ProgressCallback | None = None,
) -> BackupResult:
    """Turn an Odoo zip (Odoo.sh, Odoo Online, a database manager) into a backup set.

    :param database: name the set after this database (default: the zip's db_name)
    """
    tracker = Tracker(progress, IMPORT_PHASES)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise BackupCorrupt(f"{zip_path} is not a readable zip file ({exc}).") from None
    with archive:
        names = set(archive.namelist())
        if "dump.sql" not in names:
            raise BackupCorrupt(f"{zip_path} has no dump.sql: it is not an Odoo backup zip.")
        odoo_meta = json.loads(archive.read("manifest.json")) if "manifest.json" in names else {}
        label = validate_database_name(database or odoo_meta.get("db_name") or "imported")
        admin = spec.for_database("postgres")
        scratch = scratch_name(label, "import")
        # the shared lock keeps a concurrent prune from collecting the blobs stored here
        # before the set that references them is published
        with (
            connection(admin, application_name=owner_tag(scratch)) as conn,
            target.lock(exclusive=False),
        ):
            try:
                _create_like(conn, scratch, {"encoding": "UTF8", "collate": None, "ctype": None})
                tracker.phase("load", f"Loading dump.sql into {scratch}")
                _load_sql(spec.for_database(scratch), archive)
                tracker.phase("filestore", "Storing the filestore")
                capture = _capture_zip_filestore(archive, target, tracker)
                return backup_database(
                    spec,
                    scratch,
                    target,
                    kind="import",
                    imported_filestore=capture,
                    record_as=label,
                    progress=tracker.within("backup"),
                )
            finally:
                drop_database(conn, scratch)


def _load_sql(spec: ServerSpec, archive: zipfile.ZipFile) -> None:
    psql = find_client("psql", 0)
    proc = subprocess.Popen(  # noqa: S603 - argument list
        dies_with_us(
            [psql, "--quiet", "--no-psqlrc", "--set=ON_ERROR_STOP=1", "--output=/dev/null"]
        ),
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=client_env(spec),
    )
    try:
        with archive.open("dump.sql") as sql_in:
            shutil.copyfileobj(sql_in, proc.stdin, CHUNK)
        proc.stdin.close()
    except BrokenPipeError:
        pass  # psql stopped at an error: its message follows
    stderr = proc.stderr.read().decode(errors="replace")
    if proc.wait() != 0:
        raise BackupCorrupt(f"dump.sql does not load: {stderr[-STDERR_TAIL:]}")


def _capture_zip_filestore(
    archive: zipfile.ZipFile, target: LocalTarget, tracker: Tracker
) -> FilestoreCapture:
    capture = FilestoreCapture()
    target.ensure()
    members = [
        info
        for info in archive.infolist()
        if info.filename.startswith("filestore/") and not info.is_dir()
    ]
    for info in members:  # names become paths of restored filestores: Odoo's layout only
        try:
            filestore_relpath(info.filename.removeprefix("filestore/"))
        except PathNotAllowed:
            raise BackupCorrupt(
                f"The zip's member {info.filename[:200]!r} is not a file name of a filestore: "
                "nothing of the zip is imported."
            ) from None
    for number, info in enumerate(members, 1):
        with archive.open(info) as member:
            digest, size, new = target.store_stream(member, what=info.filename)
        mtime_ns = int(datetime(*info.date_time).timestamp() * 1e9)
        capture.entries.append([info.filename.removeprefix("filestore/"), size, mtime_ns, digest])
        capture.total_bytes += size
        capture.new_blobs += int(new)
        capture.new_bytes += size if new else 0
        tracker.units(number, len(members))
    return capture
