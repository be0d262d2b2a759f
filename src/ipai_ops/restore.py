"""The ``restore`` operation: a backup set into a new database, or in place of one.

The target database is never dropped or modified before the restored copy is
complete and verified:

1. the dump is restored into a scratch database (``<name>-restoring-<hex>``)
   with ``pg_restore --exit-on-error`` while the set is verified against its
   manifest (checksums); a corrupt or truncated backup fails here, having touched
   nothing but the scratch database, which is dropped;
2. the restored copy is checked (Odoo tables, installed modules as in the
   manifest); the filestore is written beside the destination under a
   temporary name;
3. only then is the copy put in place by renames. In ``replace`` mode the old
   database and filestore are kept under ``<name>-old-<timestamp>`` until an
   administrator discards them.

A copy restored as a *new* database gets a new ``database.uuid`` (Odoo uses it
to tell databases apart, e.g. for its publisher warranty and IAP accounts).
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from psycopg2 import sql

from .connection import ServerSpec, connection
from .errors import BackupCorrupt, ClientToolError, DatabaseExists, OpsError, StorageError
from .filestore import refuse_unsafe_entries, restore_filestore
from .guards import (
    drop_database,
    is_production,
    mark_production,
    refuse_production,
    session_count,
    terminate_sessions,
)
from .identifiers import database_exists, database_identifier, validate_database_name
from .pgtools import find_client, run_tool
from .progress import ProgressCallback, SideBySide, Tracker
from .scratch import (
    create_private,
    database_owner,
    existing_role,
    let_create,
    open_to_all,
    owner_tag,
    sweep,
    token_of,
)
from .source import count_users
from .storage import LocalTarget
from .untrusted_sql import disable_owner_triggers, enable_triggers, harden, refuse_non_tables
from .verify import verify_set

RESTORE_MODES = ("new", "replace")
NAME_STEM = 40  # characters of the target name kept in scratch/old names (63-byte limit)
# shares of a restore's time: dump, checksums and filestore side by side, then the checks
PHASES = {"restore": 95, "put_in_place": 5}


@dataclass(frozen=True)
class RestoreResult:
    database: str
    set_id: str
    old_database: str | None
    filestore: str | None
    old_filestore: str | None
    seconds: float

    @property
    def summary(self) -> str:
        text = f"Restored {self.set_id} into {self.database} in {self.seconds:.1f} s"
        if self.old_database:
            text += f"; the previous database is kept as {self.old_database}"
        return text + "."


def scratch_name(database: str, label: str) -> str:
    return validate_database_name(f"{database[:NAME_STEM]}-{label}-{secrets.token_hex(3)}")


def restore_backup(
    spec: ServerSpec,
    target: LocalTarget,
    set_id: str,
    database: str,
    *,
    filestore: str | os.PathLike | None = None,
    mode: str = "new",
    new_uuid: bool | None = None,
    force_disconnect: bool = False,
    allow_production: bool = False,
    jobs: int | None = None,
    progress: ProgressCallback | None = None,
    private: bool = False,
    owner: str | None = None,
) -> RestoreResult:
    """Restore backup ``set_id`` from ``target`` as ``database`` (and its ``filestore`` dir).

    :param private: leave ``database`` connectable by its owner only (a copy that is
        still to be neutralized: its caller opens it once it is safe)
    :param owner: the role the database and its objects belong to (the role Odoo
        connects as); default: the replaced database's owner, else the backed-up one's
    """
    validate_database_name(database)
    if mode not in RESTORE_MODES:
        raise ValueError(f"unknown restore mode {mode!r}")
    tracker = Tracker(progress, PHASES)
    started = time.monotonic()
    manifest = target.read_manifest(set_id)
    # a set naming files outside its filestore is refused before anything is created
    refuse_unsafe_entries((manifest.get("filestore") or {}).get("files") or [])
    dest = Path(filestore).expanduser().resolve() if filestore else None
    # server-wide work happens from a maintenance database, never from the one we replace
    admin = spec if spec.dbname and spec.dbname != database else spec.for_database("postgres")
    scratch = scratch_name(database, "restoring")
    with connection(admin, application_name=owner_tag(scratch)) as conn:
        for leftover in sweep(conn, [dest.parent] if dest else []):
            tracker.say(f"Removed the leftover of an interrupted operation: {leftover}")
        _check_destination(
            conn,
            database,
            dest,
            mode=mode,
            force_disconnect=force_disconnect,
            allow_production=allow_production,
        )
        owner = owner or _default_owner(conn, database, manifest, mode)
        scratch_files = (
            dest.with_name(f".{dest.name}.restoring-{token_of(scratch)}") if dest else None
        )
        try:
            _create_like(conn, scratch, manifest["source"])
            tracker.phase(
                "restore",
                f"Restoring the dump into {scratch} while checking it against its manifest",
            )
            files = (manifest.get("filestore") or {}).get("files") if dest else None
            if files is not None:
                tracker.say(f"Writing the filestore ({len(files)} files), checking each blob")
            _verified_restore(
                spec, target, set_id, manifest=manifest, database=scratch, jobs=jobs,
                files=files, scratch_files=scratch_files, owner=owner, tracker=tracker,
            )  # fmt: skip
            tracker.phase("put_in_place", f"Checking {scratch} and putting it in place")
            _check_restored(spec.for_database(scratch), manifest)
            if new_uuid if new_uuid is not None else mode == "new":
                _new_database_uuid(spec.for_database(scratch))
            old_db, old_files = _put_in_place(
                conn,
                scratch,
                database,
                scratch_files=scratch_files,
                dest=dest,
                mode=mode,
                force_disconnect=force_disconnect,
                private=private,
                owner=owner,
            )
        except BaseException:
            drop_database(conn, scratch)
            if scratch_files:
                shutil.rmtree(scratch_files, ignore_errors=True)
            raise
    tracker.finish(f"Restored {set_id} into {database}")
    return RestoreResult(
        database,
        set_id,
        old_db,
        str(dest) if dest else None,
        str(old_files) if old_files else None,
        round(time.monotonic() - started, 3),
    )


def _check_destination(conn, database, dest, *, mode, force_disconnect, allow_production) -> None:
    exists = database_exists(conn, database)
    if mode == "new":
        if exists:
            raise DatabaseExists(
                f"Database {database!r} already exists; restore into a new name or use replace."
            )
        if dest and dest.exists():
            raise StorageError(f"The filestore directory {dest} already exists.")
        return
    if not exists:
        raise OpsError(f"Database {database!r} does not exist; there is nothing to replace.")
    refuse_production(conn, database, "replace", allow=allow_production)
    sessions = session_count(conn, database)
    if sessions and not force_disconnect:
        raise OpsError(
            f"{sessions} session(s) are connected to {database!r}; replacing it disconnects "
            "them — confirm with force_disconnect."
        )


def _create_like(conn, name: str, source: dict) -> None:
    """Create an empty scratch database with the source's encoding and (when known)
    locale, connectable by its owner only until it is published."""
    statement = sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING {}").format(
        database_identifier(name), sql.Literal(source["encoding"])
    )
    if source.get("collate"):
        statement += sql.SQL(" LC_COLLATE {} LC_CTYPE {}").format(
            sql.Literal(source["collate"]), sql.Literal(source["ctype"])
        )
    create_private(conn, statement, name)


def _verified_restore(
    spec, target, set_id, *, manifest, database, jobs, tracker, files=None, scratch_files=None,
    owner=None,
) -> None:  # fmt: skip
    """pg_restore into the scratch database while the set's checksums are verified and
    the filestore is written (each blob hashed as it is copied) beside it.

    All three must succeed before anything else happens; they write only scratch
    objects, so running them side by side costs no safety and hides the hashing
    and the file copying behind pg_restore. A corrupt set is reported as such even
    when pg_restore stumbled on it first.

    The dump counts as many bytes done as the database's size once pg_restore ends,
    the filestore the bytes of each file written.
    """
    database_bytes = manifest["source"].get("size_bytes", 0)
    parts = SideBySide(
        tracker, {"dump": database_bytes, "filestore": sum(f[1] for f in files or ())}
    )

    def written(done: int, _total: int) -> None:
        parts.update("filestore", done)

    with ThreadPoolExecutor(max_workers=2) as pool:
        checks = [pool.submit(verify_set, target, set_id)]
        if files is not None:
            checks.append(pool.submit(restore_filestore, files, target, scratch_files, written))
        try:
            _pg_restore(
                spec, target, set_id, manifest=manifest, database=database, jobs=jobs, owner=owner
            )
        except ClientToolError:
            for check in checks:
                check.result()  # raises BackupCorrupt when that is the cause
            raise
        parts.complete("dump")
        for check in checks:
            check.result()


def _pg_restore(spec, target, set_id, *, manifest, database, jobs, owner=None) -> None:
    pg_restore = find_client("pg_restore", manifest["server"]["version_num"] // 10000)
    let_create(spec.for_database(database), owner)
    run_tool(
        [
            pg_restore,
            f"--dbname={database}",
            f"--jobs={jobs or manifest['dump'].get('jobs') or 1}",
            "--no-owner",
            *as_role(owner),
            "--exit-on-error",
            str(target.set_path(set_id) / "dump"),
        ],
        spec,
        check_message="pg_restore",
    )


def _check_restored(spec: ServerSpec, manifest: dict) -> None:
    odoo = manifest.get("odoo")
    if not odoo:
        return
    with connection(spec) as conn, conn.cursor() as cur:
        harden(cur)  # the restored content is its owner's: none of its code runs
        cur.execute("SELECT to_regclass('public.ir_module_module') IS NOT NULL")
        if not cur.fetchone()[0]:
            raise BackupCorrupt("The restored database has no Odoo module table.")
        refuse_non_tables(cur, ["ir_module_module", "res_users"])
        cur.execute("SELECT count(*) FROM public.ir_module_module WHERE state = 'installed'")
        installed = cur.fetchone()[0]
        users = count_users(cur)
    if installed != len(odoo["modules"]):
        raise BackupCorrupt(
            f"The restored database has {installed} installed modules; the backup recorded "
            f"{len(odoo['modules'])}."
        )
    if odoo.get("users") is not None and users != odoo["users"]:
        raise BackupCorrupt(
            f"The restored database has {users} users; the backup recorded {odoo['users']}."
        )


def _new_database_uuid(spec: ServerSpec) -> None:
    """A copy is another database: it gets a uuid of its own (Odoo's, when it is one),
    written with the owner's triggers on the table disabled."""
    with connection(spec, autocommit=False) as conn, conn.cursor() as cur:
        harden(cur)
        cur.execute("SELECT to_regclass('public.ir_config_parameter') IS NOT NULL")
        if not cur.fetchone()[0]:
            return  # not an Odoo database: it has no uuid to renew
        refuse_non_tables(cur, ["ir_config_parameter"])
        triggers = disable_owner_triggers(cur, ["ir_config_parameter"], "Renewing the uuid")
        cur.execute(
            "UPDATE public.ir_config_parameter SET value = gen_random_uuid()::text"
            " WHERE key = 'database.uuid'"
        )
        enable_triggers(cur, triggers)
        conn.commit()


def _default_owner(conn, database: str, manifest: dict, mode: str) -> str | None:
    if mode == "replace":
        return database_owner(conn, database)
    return existing_role(conn, (manifest.get("source") or {}).get("owner"))


def as_role(owner: str | None) -> list[str]:
    """pg_restore's option creating every object as ``owner`` (Odoo's role), so that Odoo
    owns its tables whichever role restores them."""
    return [f"--role={owner}"] if owner else []


def _put_in_place(
    conn, scratch, database, *, scratch_files, dest, mode, force_disconnect, private=False,
    owner=None,
):  # fmt: skip
    """Rename the verified copy into place; in replace mode keep the old one aside."""
    if not private:
        open_to_all(conn, scratch, owner)
    old_db = old_files = None
    production = mode == "replace" and is_production(conn, database)
    if mode == "replace":
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        old_db = validate_database_name(f"{database[:NAME_STEM]}-old-{stamp}")
        _rename_away(conn, database, old_db, force_disconnect)
        if dest and dest.exists():
            old_files = dest.with_name(f"{dest.name}-old-{stamp}")
            os.rename(dest, old_files)
    try:
        _rename(conn, scratch, database)
    except Exception:
        if old_db:  # put the original back where it was
            _rename(conn, old_db, database)
            _allow_connections(conn, database, True)
        raise
    if production:  # the mark follows the name: the new database is production now
        mark_production(conn, database)
    if scratch_files and scratch_files.exists():
        os.rename(scratch_files, dest)
    return old_db, old_files


def _rename_away(conn, database: str, new_name: str, force_disconnect: bool) -> None:
    _allow_connections(conn, database, False)  # no new session can slip in
    try:
        if force_disconnect:
            terminate_sessions(conn, database)
        _rename(conn, database, new_name)
    except Exception:
        _allow_connections(conn, database, True)
        raise


def _rename(conn, old: str, new: str) -> None:
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                database_identifier(old), database_identifier(new)
            )
        )


def _allow_connections(conn, database: str, allowed: bool) -> None:
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
                database_identifier(database), sql.SQL("true" if allowed else "false")
            )
        )


def drill_backup(
    spec: ServerSpec,
    target: LocalTarget,
    set_id: str,
    stem: str,
    inspect: Callable[[ServerSpec], dict],
    *,
    progress: ProgressCallback | None = None,
) -> tuple[RestoreResult, dict]:
    """Restore a set into a private scratch database, ``inspect`` it, and drop it.

    The scratch database is owned by this call's session from before it exists to
    after it is dropped, so a killed drill leaves nothing a sweep would not remove.

    :return: the restore's result and what ``inspect`` returned
    """
    scratch = scratch_name(stem, "drill")
    admin = spec.for_database(spec.dbname or "postgres")
    tracker = Tracker(progress, {"restore": 95, "inspect": 5})
    with connection(admin, application_name=owner_tag(scratch)) as keeper:
        try:
            result = restore_backup(
                spec, target, set_id, scratch, progress=tracker.within("restore"), private=True
            )
            tracker.phase("inspect", f"Inspecting {scratch}")
            found = inspect(spec.for_database(scratch))
        finally:
            drop_database(keeper, scratch)
    tracker.finish(f"Dropped {scratch}: the drill is done")
    return result, found
