"""Restores and exports deliver only checked bytes; backups agree with their own dump."""

import io
import os
import shutil
import threading
import zipfile

import pytest
from conftest import run_sql

from ipai_ops.backup import backup_database
from ipai_ops.errors import BackupCorrupt
from ipai_ops.filestore import walk_files
from ipai_ops.guards import drop_database
from ipai_ops.identifiers import database_exists
from ipai_ops.odoo_zip import export_zip
from ipai_ops.restore import restore_backup
from ipai_ops.verify import verify_set


def _flip_one_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    os.chmod(path, 0o644)
    path.write_bytes(bytes(data))


def test_a_flipped_byte_in_a_blob_fails_restore_and_export(
    spec, odoo_db, target, tmp_path, admin_conn
):
    name, filestore = odoo_db
    result = backup_database(spec, name, target, filestore=filestore)
    digest = result.manifest["filestore"]["files"][7][3]
    blob = target.blob_path(digest)
    size = blob.stat().st_size
    _flip_one_byte(blob)
    assert blob.stat().st_size == size, "same size: only the content is wrong"

    restored = f"{name}_from_corrupt"
    dest = tmp_path / "restored-filestore"
    with pytest.raises(BackupCorrupt, match=digest[:12]):
        restore_backup(spec, target, result.set_id, restored, filestore=dest)
    assert not database_exists(admin_conn, restored), "nothing is left behind"
    assert not dest.exists()
    assert not [p for p in dest.parent.iterdir() if ".restoring" in p.name]

    with pytest.raises(BackupCorrupt, match=digest[:12]):
        export_zip(target, result.set_id, io.BytesIO())
    with pytest.raises(BackupCorrupt, match="does not match"):
        verify_set(target, result.set_id, deep=True)


def test_restored_files_match_the_backup_byte_for_byte(spec, odoo_db, target, tmp_path, admin_conn):
    name, filestore = odoo_db
    result = backup_database(spec, name, target, filestore=filestore)
    restored = f"{name}_exact"
    dest = tmp_path / "exact"
    try:
        restore_backup(spec, target, result.set_id, restored, filestore=dest)
        original = {rel: path.read_bytes() for rel, _st, path in walk_files(filestore)}
        copy = {rel: path.read_bytes() for rel, _st, path in walk_files(dest)}
        assert copy == original
        buffer = io.BytesIO()
        export_zip(target, result.set_id, buffer)
        with zipfile.ZipFile(buffer) as archive:
            members = {n.removeprefix("filestore/"): archive.read(n) for n in archive.namelist()
                       if n.startswith("filestore/")}  # fmt: skip
        assert members == original
    finally:
        drop_database(admin_conn, restored)


def test_backup_says_which_referenced_files_were_gone(spec, odoo_db, target):
    """Odoo's filestore cleanup deleted files the dump still refers to: the backup does
    not crash, does not pretend, and verify reports exactly those files."""
    name, filestore = odoo_db
    rows = run_sql(spec, name, "SELECT store_fname FROM ir_attachment ORDER BY id LIMIT 3")
    gone = sorted(row[0] for row in rows)
    for relpath in gone:
        (filestore / relpath).unlink()
    result = backup_database(spec, name, target, filestore=filestore)
    assert result.manifest["filestore"]["missing"] == gone
    assert "3 referenced file(s) were already missing" in result.summary
    _manifest, report = verify_set(target, result.set_id)
    assert report.missing_files == tuple(gone)
    assert gone[0] in report.summary


def test_backup_survives_the_filestore_cleanup_running_during_the_walk(spec, odoo_db, target):
    """Directories and files vanish while the backup walks the filestore."""
    name, filestore = odoo_db
    doomed = sorted(p for p in filestore.iterdir() if p.is_dir())[:5]
    stop = threading.Event()

    def collect_garbage():
        for folder in doomed:
            if stop.is_set():
                return
            shutil.rmtree(folder, ignore_errors=True)

    cleaner = threading.Thread(target=collect_garbage)
    cleaner.start()
    try:
        result = backup_database(spec, name, target, filestore=filestore)
    finally:
        stop.set()
        cleaner.join()
    files = result.manifest["filestore"]
    referenced = {row[0] for row in run_sql(spec, name, "SELECT store_fname FROM ir_attachment")}
    captured = {entry[0] for entry in files["files"]}
    assert referenced == captured | set(files["missing"]), "every referenced file is accounted"
    verify_set(target, result.set_id, deep=True)
