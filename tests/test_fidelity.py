"""Restores and exports deliver only checked bytes; backups agree with their own dump."""

import io
import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile

import pytest
from conftest import run_sql

from ipai_ops.backup import backup_database
from ipai_ops.errors import BackupCorrupt
from ipai_ops.filestore import walk_files
from ipai_ops.guards import drop_database, is_production, mark_production
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


def test_rough_edges_get_clear_errors_and_leave_nothing(spec, odoo_db, target, tmp_path):
    """Each mistake an administrator makes gets its exit code and a sentence, no traceback."""
    name, filestore = odoo_db
    result = backup_database(spec, name, target, filestore=filestore)
    cli = [sys.executable, "-m", "ipai_ops.cli"]

    def run(*args):
        out = subprocess.run([*cli, *args], capture_output=True, text=True, check=False)
        assert "Traceback" not in out.stderr, out.stderr
        return out

    addons = ("--addons-path", str(tmp_path))
    missing = run("clone", "ipai_test_no_such_db", f"{name}_x", *addons)
    assert missing.returncode == 3 and "does not exist" in missing.stderr
    no_files = run("clone", name, f"{name}_y", "--source-filestore", str(tmp_path / "nope"),
                   *addons)  # fmt: skip
    assert no_files.returncode == 1 and "source filestore" in no_files.stderr
    a_file = tmp_path / "not-a-directory"
    a_file.write_text("x")
    for command in (["list"], ["backup", name]):
        out = run(*command, "--target", str(a_file))
        assert out.returncode == 1 and "is a file" in out.stderr, out.stderr
    zip_out = tmp_path / "out.zip"
    broken = run(
        "export-zip", "no-such-set", "--target", str(target.root), "--output", str(zip_out)
    )
    assert broken.returncode == 6 and not zip_out.exists(), "no half-written zip is left"
    inside = run(
        "backup", name, "--target", str(filestore / "backups"), "--filestore", str(filestore)
    )
    assert inside.returncode == 1 and "overlaps" in inside.stderr
    assert not (filestore / "backups").exists(), "nothing was created inside the filestore"

    # one damaged manifest does not take the whole target down
    second = backup_database(spec, name, target, filestore=filestore)
    manifest = target.set_path(result.set_id) / "manifest.json"
    manifest.write_text(manifest.read_text()[:40])
    listing = run("--json", "list", "--target", str(target.root))
    assert listing.returncode == 0
    rows = {row["set_id"]: row for row in json.loads(listing.stdout)["sets"]}
    assert "unreadable manifest" in rows[result.set_id]["corrupt"]
    assert rows[second.set_id]["database"] == name
    pruned = run("prune", "--target", str(target.root), "--daily", "1")
    assert pruned.returncode == 0 and "unreadable manifest" in pruned.stdout
    backup_database(spec, name, target, filestore=filestore)  # still backs up


def test_check_marks_a_production_database_from_the_cli(spec, odoo_db, admin_conn):
    name, _filestore = odoo_db
    cli = [sys.executable, "-m", "ipai_ops.cli"]
    out = subprocess.run([*cli, "check", name, "--production"], capture_output=True, text=True,
                         check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr
    try:
        assert is_production(admin_conn, name)
        refused = subprocess.run([*cli, "neutralize", name, "--addons-path", "/nonexistent"],
                                 capture_output=True, text=True, check=False)  # fmt: skip
        assert refused.returncode == 7
    finally:
        mark_production(admin_conn, name, production=False)
