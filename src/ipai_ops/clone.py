"""The ``clone`` operation: a new database copied from a live one, never disturbing it.

* ``template``: ``CREATE DATABASE … TEMPLATE source`` — fastest, and used only when
  the source has no other session. PostgreSQL refuses to copy a database others
  are connected to; we never disconnect them to make it work.
* ``dump``: ``pg_dump -Fd -j`` of a consistent snapshot + ``pg_restore -j``:
  online, production's sessions keep working (they only cannot run DDL on a
  table while it is being read).
* ``auto`` (default): template when the source is idle and not production, else
  dump (a template copy makes new connections to the source wait until it ends).

The copy is built under a scratch name; ``prepare`` (neutralization, masking) runs
on it before it gets its final name, so nobody can log into an unneutralized copy,
and any failure drops it. The filestore gets files of its own: reflinks where the
file system has them, full copies otherwise. Never hard links: Odoo never changes a
file in place, but a branch's code running on the copy may, and would change
production's file through a shared inode. A ``prepare``
that takes a ``progress`` keyword reports its own steps as one phase of the copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2 import sql

from .backup import default_jobs
from .check import require_odoo_database
from .connection import ServerSpec, client_env, connection
from .errors import ClientToolError, DatabaseExists, DatabaseMissing, OpsError, StorageError
from .filestore import copy_tree, walk_files
from .guards import drop_database, is_production, refuse_production, session_count
from .identifiers import database_exists, database_identifier, validate_database_name
from .pgtools import dies_with_us, find_client, run_tool
from .progress import ProgressCallback, Tracker, accepts_keyword
from .restore import _create_like, _rename, as_role, restore_backup, scratch_name
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
from .source import inspect_source

CLONE_METHODS = ("auto", "template", "dump")
Prepare = Callable[..., object]  # prepare(scratch), or prepare(scratch, progress=…)
# shares of a copy's time, of the phases it has: the database (copied or restored), the
# preparation (neutralization, masking), the filestore's copy
PHASES = {"database": 60, "prepare": 30, "filestore": 10}


@dataclass(frozen=True)
class CloneResult:
    database: str
    method: str
    seconds: float
    filestore: str | None
    reflinked: int
    copied: int
    prepared: object = None

    @property
    def summary(self) -> str:
        files = (
            f", filestore {self.reflinked} reflinked / {self.copied} copied"
            if self.filestore
            else ""
        )
        return f"Cloned into {self.database} by {self.method} in {self.seconds:.1f} s{files}."


@dataclass
class _Build:
    """A copy being built: its scratch database and filestore names."""

    conn: object
    scratch: str
    files_tmp: Path | None
    owner: str | None = None  # the role the copy is handed to (Odoo's), objects included


@contextmanager
def _building(spec: ServerSpec, target: str, dest: Path | None) -> Iterator[_Build]:
    """Build a copy under scratch names; give it its real names only if the block succeeds.

    On any failure (neutralization included) the scratch database and files are removed,
    so no usable, unprepared copy is ever left behind.
    """
    scratch = scratch_name(target, "cloning")
    with connection(spec.for_database("postgres"), application_name=owner_tag(scratch)) as conn:
        sweep(conn, [dest.parent] if dest else [])
        if database_exists(conn, target):
            raise DatabaseExists(f"Database {target!r} already exists; a clone needs a new name.")
        if dest and dest.exists():
            raise StorageError(f"The filestore directory {dest} already exists.")
        build = _Build(
            conn,
            scratch,
            dest.with_name(f".{dest.name}.cloning-{token_of(scratch)}") if dest else None,
        )
        try:
            yield build
            open_to_all(conn, build.scratch, build.owner)  # prepared: it may be seen now
            _rename(conn, build.scratch, target)
            if build.files_tmp and build.files_tmp.exists():
                os.rename(build.files_tmp, dest)
        except BaseException:
            drop_database(conn, build.scratch)
            if build.files_tmp:
                shutil.rmtree(build.files_tmp, ignore_errors=True)
            raise


def clone_database(
    spec: ServerSpec,
    source: str,
    target: str,
    *,
    source_filestore: str | os.PathLike | None = None,
    target_filestore: str | os.PathLike | None = None,
    method: str = "auto",
    jobs: int | None = None,
    prepare: Prepare | None = None,
    workdir: str | None = None,
    progress: ProgressCallback | None = None,
    owner: str | None = None,
) -> CloneResult:
    """Copy ``source`` into a new database ``target`` on the same server.

    :param owner: the role the copy and its objects belong to (default: the source's owner)
    """
    validate_database_name(source)
    validate_database_name(target)
    if method not in CLONE_METHODS:
        raise ValueError(f"unknown clone method {method!r}")
    started = time.monotonic()
    dest = Path(target_filestore).expanduser().resolve() if target_filestore else None
    copying_files = bool(dest and source_filestore)
    tracker = Tracker(
        progress, _phases("database", prepare and "prepare", copying_files and "filestore")
    )
    if source_filestore and not Path(source_filestore).is_dir():  # say so before copying
        raise StorageError(f"The source filestore {source_filestore} does not exist.")
    with _building(spec, target, dest) as build:
        if not database_exists(build.conn, source):
            raise DatabaseMissing(f"The source database {source!r} does not exist.")
        if prepare:  # masked and neutralized: refused before a byte is copied
            require_odoo_database(spec, source, "clone")
        build.owner = owner or database_owner(build.conn, source)
        used = _copy_database(
            build.conn, spec, source, build.scratch, method=method, jobs=jobs,
            workdir=workdir or (dest.parent if dest else None), say=tracker.say,
            owner=build.owner,
        )  # fmt: skip
        prepared = _prepare(prepare, build.scratch, tracker) if prepare else None
        reflinked = copied = 0
        if copying_files:
            tracker.phase("filestore", "Copying the filestore")
            reflinked, copied = copy_tree(Path(source_filestore), build.files_tmp)
    tracker.finish(f"{target} is ready")
    return CloneResult(
        target, used, round(time.monotonic() - started, 3), str(dest) if dest else None,
        reflinked, copied, prepared,
    )  # fmt: skip


def _phases(*names: str | None) -> dict[str, int]:
    """The shares of the phases a copy has (a falsy name: a phase it has not)."""
    return {name: PHASES[name] for name in names if name}


def _prepare(prepare: Prepare, scratch: str, tracker: Tracker) -> object:
    if accepts_keyword(prepare, "progress"):
        tracker.phase("prepare")
        return prepare(scratch, progress=tracker.within("prepare"))
    tracker.phase("prepare", f"Preparing {scratch}")
    return prepare(scratch)


def _copy_database(conn, spec, source, scratch, *, method, jobs, workdir, say, owner) -> str:
    # CREATE DATABASE … TEMPLATE keeps every new connection to the source waiting for the
    # whole copy: never chosen by itself for a production database, which must stay open
    template_ok = method == "template" or not is_production(conn, source)
    if owner and owner != database_owner(conn, source):
        # a template copy keeps every object's owner: only a restore gives them to ``owner``
        if method == "template":
            raise OpsError(
                f"A template copy of {source!r} would keep its owner's objects; the copy "
                f"must belong to {owner}. Use the dump method."
            )
        template_ok = False
    if method in ("auto", "template") and template_ok and session_count(conn, source) == 0:
        say(f"Copying {source} as a template (it has no sessions)")
        try:
            create_private(
                conn,
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    database_identifier(scratch), database_identifier(source)
                ),
                scratch,
            )
            return "template"
        except psycopg2.errors.ObjectInUse:
            if method == "template":
                raise OpsError(
                    f"{source!r} gained a session; it cannot be used as a template."
                ) from None
    elif method == "template":
        raise OpsError(
            f"{source!r} has open sessions: copying it as a template would need to "
            "disconnect them, which ipai-ops never does. Use the dump method."
        )
    say(f"Dumping {source} (online) and restoring it")
    _dump_restore(
        conn, spec, source, scratch, jobs=jobs or live_clone_jobs(), workdir=workdir, owner=owner
    )
    return "dump"


def live_clone_jobs() -> int:
    """Parallel jobs of an online clone: one core is left to production's own sessions."""
    return max(1, default_jobs() - 1)


def gentle_env(spec: ServerSpec) -> dict:
    """A client environment whose server sessions build indexes without parallel
    workers: a restore into a copy must not take every core of production's server."""
    env = client_env(spec)
    env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} -c max_parallel_maintenance_workers=0".strip()
    return env


def _dump_restore(conn, spec, source, scratch, *, jobs, workdir, owner) -> None:
    info = inspect_source(spec, source)
    pg_dump = find_client("pg_dump", info.server_major)
    pg_restore = find_client("pg_restore", info.server_major)
    _create_like(conn, scratch, {"encoding": info.encoding, "collate": info.collate,
                                 "ctype": info.ctype})  # fmt: skip
    let_create(spec.for_database(scratch), owner)
    if not workdir:  # production data never goes to the system's temporary directory
        _pipe_dump_restore(spec, pg_dump, pg_restore, source, scratch, owner=owner)
        return
    prefix = f".ipai-ops-dump-{token_of(scratch)}-"  # swept if we are killed
    with tempfile.TemporaryDirectory(prefix=prefix, dir=workdir) as tmp:
        dump_dir = os.path.join(tmp, "dump")
        # uncompressed: the dump only lives until the restore has read it
        dump = [pg_dump, "--format=directory", f"--jobs={jobs}", "--compress=0",
                f"--file={dump_dir}", f"--dbname={source}"]  # fmt: skip
        run_tool(dump, spec, check_message="pg_dump")
        restore = [pg_restore, f"--dbname={scratch}", f"--jobs={jobs}", "--no-owner",
                   *as_role(owner), "--exit-on-error", dump_dir]  # fmt: skip
        run_tool(restore, spec, check_message="pg_restore", env=gentle_env(spec))


def _pipe_dump_restore(spec, pg_dump, pg_restore, source, scratch, *, owner) -> None:
    """``pg_dump | pg_restore`` with nothing on disk, for clones with no directory to use."""
    env = gentle_env(spec)
    dump = subprocess.Popen(  # noqa: S603 - argument list
        dies_with_us([pg_dump, "--format=custom", "--compress=0", f"--dbname={source}"]),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    restore = subprocess.run(  # noqa: S603 - argument list
        dies_with_us([pg_restore, f"--dbname={scratch}", "--no-owner", *as_role(owner),
                      "--exit-on-error"]),
        stdin=dump.stdout, capture_output=True, env=env, check=False,
    )  # fmt: skip
    dump.stdout.close()
    dump_err = dump.stderr.read().decode(errors="replace")
    if dump.wait() != 0:
        raise ClientToolError(f"pg_dump failed (exit {dump.returncode}): {dump_err[-2000:]}")
    if restore.returncode != 0:
        stderr = restore.stderr.decode(errors="replace")
        raise ClientToolError(f"pg_restore failed (exit {restore.returncode}): {stderr[-2000:]}")


def drop_clone(spec: ServerSpec, database: str, filestore: str | os.PathLike | None = None) -> None:
    """Drop a staging or development copy and its filestore; never a production database."""
    with connection(spec.for_database("postgres")) as conn:
        refuse_production(conn, database, "drop")
        drop_database(conn, database)
    if filestore:
        shutil.rmtree(filestore, ignore_errors=True)


def clone_from_backup(
    spec: ServerSpec,
    store,
    set_id: str,
    target: str,
    *,
    target_filestore: str | os.PathLike | None = None,
    prepare: Prepare | None = None,
    progress: ProgressCallback | None = None,
    owner: str | None = None,
) -> CloneResult:
    """Like :func:`clone_database`, from a backup set instead of a live database."""
    validate_database_name(target)
    started = time.monotonic()
    tracker = Tracker(progress, _phases("database", prepare and "prepare"))
    dest = Path(target_filestore).expanduser().resolve() if target_filestore else None
    with _building(spec, target, dest) as build:
        source_owner = (store.read_manifest(set_id).get("source") or {}).get("owner")
        build.owner = owner or existing_role(build.conn, source_owner)
        restore_backup(
            spec, store, set_id, build.scratch, filestore=build.files_tmp,
            progress=tracker.within("database"), private=True, owner=build.owner,
        )  # fmt: skip
        prepared = _prepare(prepare, build.scratch, tracker) if prepare else None
    tracker.finish(f"{target} is ready")
    copied = len(list(walk_files(dest))) if dest and dest.exists() else 0
    return CloneResult(
        target, "backup", round(time.monotonic() - started, 3), str(dest) if dest else None,
        0, copied, prepared,
    )  # fmt: skip
