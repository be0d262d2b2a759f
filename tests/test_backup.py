"""Backups and restores against the real cluster, with real pg_dump/pg_restore and files."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest
from conftest import run_sql
from odoo_like import table_fingerprints, tree_digest, write_filestore

from ipai_ops.backup import backup_database
from ipai_ops.errors import (
    BackupCorrupt,
    ClientToolError,
    DatabaseExists,
    OpsError,
    ProtectedDatabase,
    StorageError,
)
from ipai_ops.guards import drop_database, mark_production
from ipai_ops.identifiers import database_exists
from ipai_ops.pgtools import find_client
from ipai_ops.restore import restore_backup
from ipai_ops.verify import verify_set


def test_round_trip_restores_equal_rows_and_files(spec, odoo_db, target, tmp_path, admin_conn):
    name, filestore = odoo_db
    result = backup_database(spec, name, target, filestore=filestore, kind="scheduled")
    manifest = result.manifest
    assert target.list_sets() == [result.set_id]
    assert manifest["odoo"]["version"] == "19.0"
    assert manifest["odoo"]["modules"]["mail"] == "19.0.1.19"
    assert all(len(f["sha256"]) == 64 for f in manifest["dump"]["files"].values())
    assert manifest["filestore"]["file_count"] == 40
    assert manifest["dump"]["toc_entries"] > 5

    restored = f"{name}_restored"
    dest = tmp_path / "filestore" / restored
    try:
        outcome = restore_backup(spec, target, result.set_id, restored, filestore=dest)
        assert outcome.old_database is None
        copy, original = table_fingerprints(spec, restored), table_fingerprints(spec, name)
        # a copy gets a new database.uuid; every other row is identical
        assert copy.pop("ir_config_parameter") != original.pop("ir_config_parameter")
        assert copy == original
        assert tree_digest(dest) == tree_digest(filestore)
        params = "SELECT key, value FROM ir_config_parameter WHERE key <> 'database.uuid'"
        assert run_sql(spec, restored, params) == run_sql(spec, name, params)
        uuid_sql = "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'"
        assert run_sql(spec, restored, uuid_sql) != run_sql(spec, name, uuid_sql)
    finally:
        drop_database(admin_conn, restored)


def test_second_backup_of_unchanged_filestore_stores_nothing_new(spec, odoo_db, target):
    name, filestore = odoo_db
    first = backup_database(spec, name, target, filestore=filestore)
    blobs_before = sorted(digest for digest, _path in target.iter_blobs())
    second = backup_database(spec, name, target, filestore=filestore)
    files = second.manifest["filestore"]
    assert (files["new_blobs"], files["new_bytes"]) == (0, 0)
    assert files["reused"] == 40
    assert sorted(digest for digest, _path in target.iter_blobs()) == blobs_before
    assert first.manifest["filestore"]["new_blobs"] == 40

    write_filestore(filestore, None, None, files=1, size=777, seed="later")
    third = backup_database(spec, name, target, filestore=filestore)
    assert third.manifest["filestore"]["new_blobs"] == 1
    assert third.manifest["filestore"]["new_bytes"] == 777


def test_killed_backup_leaves_nothing_published_and_is_cleaned_next_time(
    spec, odoo_db, target, tmp_path
):
    name, filestore = odoo_db
    big = tmp_path / "filestore-big"
    write_filestore(big, None, None, files=400, size=256 * 1024)  # 100 MiB: time to be killed
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "ipai_ops.cli", "backup", name, "--target", str(target.root),
           "--filestore", str(big)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        blobs = list((target.root / "blobs").glob("*/*"))
        if len(blobs) > 20:  # the filestore is being stored
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert target.list_sets() == [], "a killed backup must not be visible as a set"
    assert list(target.tmp_dir.glob("*.partial")), "the killed run left its partial set"

    result = backup_database(spec, name, target, filestore=filestore)
    assert target.list_sets() == [result.set_id]
    assert not list(target.tmp_dir.glob("*.partial"))
    stored = {path.name for path in (target.root / "blobs").glob("*/*")}
    used = {entry[3] for entry in result.manifest["filestore"]["files"]}
    assert stored == used, "the blobs only the killed backup had stored are gone"


def test_corrupt_dump_fails_restore_and_leaves_target_untouched(spec, odoo_db, target, admin_conn):
    name, filestore = odoo_db
    result = backup_database(spec, name, target, filestore=filestore)
    before = table_fingerprints(spec, name)
    data_file = max(
        (p for p in (target.set_path(result.set_id) / "dump").iterdir() if p.name != "toc.dat"),
        key=lambda p: p.stat().st_size,
    )
    with open(data_file, "r+b") as handle:
        handle.truncate(data_file.stat().st_size // 2)

    with pytest.raises(BackupCorrupt, match="does not match its checksum"):
        restore_backup(spec, target, result.set_id, name, mode="replace", force_disconnect=True)
    assert table_fingerprints(spec, name) == before
    with admin_conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_database WHERE datname LIKE '%-restoring-%'")
        assert cur.fetchone()[0] == 0
    with pytest.raises(BackupCorrupt):
        verify_set(target, result.set_id)


def test_replace_keeps_the_old_database_and_needs_consent_to_disconnect(
    spec, odoo_db, target, tmp_path, admin_conn
):
    name, filestore = odoo_db
    result = backup_database(spec, name, target, filestore=filestore)
    run_sql(spec, name, "UPDATE res_partner SET name = 'changed after backup'")
    holder = psycopg2.connect(**spec.for_database(name).connect_kwargs())
    try:
        with pytest.raises(OpsError, match="force_disconnect"):
            restore_backup(spec, target, result.set_id, name, mode="replace", filestore=filestore)
        assert database_exists(admin_conn, name)

        outcome = restore_backup(
            spec, target, result.set_id, name, mode="replace", filestore=filestore,
            force_disconnect=True,
        )  # fmt: skip
    finally:
        holder.close()
    try:
        assert run_sql(
            spec, name, "SELECT count(*) FROM res_partner WHERE name LIKE 'changed%'"
        ) == [(0,)]
        assert outcome.old_database.startswith(f"{name[:40]}-old-")
        assert database_exists(admin_conn, outcome.old_database)
        assert Path(outcome.old_filestore).is_dir()
        assert tree_digest(filestore) == tree_digest(Path(outcome.old_filestore))
    finally:
        drop_database(admin_conn, outcome.old_database)


def test_restore_as_new_refuses_an_existing_database(spec, odoo_db, target):
    name, filestore = odoo_db
    result = backup_database(spec, name, target, filestore=filestore)
    with pytest.raises(DatabaseExists):
        restore_backup(spec, target, result.set_id, name)


def test_production_databases_are_never_replaced_or_dropped_by_accident(
    spec, odoo_db, target, admin_conn
):
    name, filestore = odoo_db
    result = backup_database(spec, name, target, filestore=filestore)
    mark_production(admin_conn, name)
    try:
        with pytest.raises(ProtectedDatabase, match="production"):
            restore_backup(spec, target, result.set_id, name, mode="replace")
        with pytest.raises(ProtectedDatabase):
            drop_database(admin_conn, name)
        assert database_exists(admin_conn, name)
    finally:
        mark_production(admin_conn, name, production=False)


def test_storage_target_inside_filestore_is_refused(spec, odoo_db):
    from ipai_ops.storage import LocalTarget  # noqa: PLC0415

    name, filestore = odoo_db
    with pytest.raises(StorageError, match="overlaps the filestore"):
        backup_database(spec, name, LocalTarget(filestore / "backups"), filestore=filestore)


def test_missing_client_version_says_what_to_install():
    with pytest.raises(ClientToolError, match="install postgresql-client-99"):
        find_client("pg_dump", 99)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_full_disk_publishes_nothing(spec, odoo_db, tmp_path):
    from ipai_ops.storage import LocalTarget  # noqa: PLC0415

    name, _filestore = odoo_db
    big = tmp_path / "filestore-big"
    write_filestore(big, None, None, files=40, size=256 * 1024)  # 10 MiB > 4 MiB disk
    mount = tmp_path / "small-disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        target = LocalTarget(mount)
        with pytest.raises(StorageError, match="full"):
            backup_database(spec, name, target, filestore=big)
        assert target.list_sets() == []
        assert not list(target.tmp_dir.glob("*.partial"))
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_manifest_is_readable_json_with_versions(spec, odoo_db, target):
    name, filestore = odoo_db
    result = backup_database(spec, name, target, filestore=filestore)
    on_disk = json.loads((target.set_path(result.set_id) / "manifest.json").read_text())
    assert on_disk["server"]["version_num"] >= 120000
    assert on_disk["client"]["major"] >= on_disk["server"]["version_num"] // 10000
    assert on_disk["source"]["size_bytes"] > 0
    assert on_disk["seconds"] > 0


def test_restore_works_when_the_connection_names_the_target_database(
    spec, odoo_db, target, admin_conn
):
    """A DSN pointing at the database to create must not be used for server-wide work."""
    name, filestore = odoo_db
    result = backup_database(spec, name, target, filestore=filestore)
    copy = f"{name}_copy"
    try:
        restore_backup(spec.for_database(copy), target, result.set_id, copy)
        assert database_exists(admin_conn, copy)
    finally:
        drop_database(admin_conn, copy)


def test_a_database_that_is_not_odoos_is_backed_up_and_restored(
    spec, scratch_db, target, admin_conn
):
    """Not every database is Odoo's: it has no uuid to renew, and is restored as it was."""
    plain = scratch_db()
    run_sql(spec, plain, "CREATE TABLE readings (value int); INSERT INTO readings VALUES (42)")
    set_id = backup_database(spec, plain, target).set_id
    restored = f"{plain}_restored"
    try:
        restore_backup(spec, target, set_id, restored)
        assert run_sql(spec, restored, "SELECT value FROM readings") == [(42,)]
    finally:
        drop_database(admin_conn, restored)
