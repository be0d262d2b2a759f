"""File names a database or a backup set gives are a stranger's: nothing outside the
filestore is ever read into a backup, nor written by a restore or an import."""

import json
import os
import zipfile

import pytest
from conftest import run_sql

from ipai_ops.backup import backup_database
from ipai_ops.errors import BackupCorrupt, PathNotAllowed
from ipai_ops.identifiers import database_exists
from ipai_ops.odoo_zip import import_zip
from ipai_ops.paths import create_below, filestore_relpath, open_below
from ipai_ops.restore import restore_backup
from ipai_ops.storage import MANIFEST
from ipai_ops.verify import verify_set

OUTSIDE_NAMES = ["/etc/passwd", "../secret.txt", "ab/../../secret.txt", "ab//cd", "./ab", ""]


@pytest.mark.parametrize("name", [*OUTSIDE_NAMES, "a\\b", "a\0b", None, 7])
def test_names_outside_a_filestore_are_refused(name):
    with pytest.raises(PathNotAllowed):
        filestore_relpath(name)


def test_odoo_names_are_accepted():
    assert filestore_relpath("ab/ab12cd") == "ab/ab12cd"
    assert filestore_relpath("checklist/ab/ab12cd") == "checklist/ab/ab12cd"


def test_open_below_follows_no_link(tmp_path):
    root = tmp_path / "fs"
    (root / "ab").mkdir(parents=True)
    secret = tmp_path / "secret.txt"
    secret.write_text("the server's secret")
    (root / "ab" / "file").symlink_to(secret)
    (root / "cd").symlink_to(tmp_path)  # a directory link planted in the filestore
    os.mkfifo(root / "ab" / "fifo")
    for name in ("ab/file", "cd/secret.txt", "ab/fifo"):
        with pytest.raises(PathNotAllowed):
            open_below(root, name)
    (root / "ab" / "real").write_bytes(b"content")
    with open_below(root, "ab/real") as handle:
        assert handle.read() == b"content"


def test_create_below_never_writes_through_a_link(tmp_path):
    root = tmp_path / "fs"
    root.mkdir()
    (root / "ab").symlink_to(tmp_path)
    with pytest.raises(PathNotAllowed):
        create_below(root, "../escape")
    with pytest.raises(PathNotAllowed):
        create_below(root, "ab/escape")
    assert not (tmp_path / "escape").exists()


def _plant_attachment(spec, database, store_fname):
    run_sql(
        spec,
        database,
        "INSERT INTO ir_attachment (name, store_fname, checksum, file_size, mimetype)"
        " VALUES ('planted', %s, 'x', 1, 'text/plain')",
        (store_fname,),
    )


def test_a_backup_never_reads_a_file_a_store_fname_names_outside(spec, odoo_db, target, tmp_path):
    """Absolute and ``..`` store_fnames, and a link planted in the filestore, are listed
    as refused; the files they name are in no blob of the set."""
    name, filestore = odoo_db
    secret = tmp_path / "role-password"
    secret.write_bytes(b"s3cret-of-the-control-plane")
    _plant_attachment(spec, name, str(secret))
    _plant_attachment(spec, name, "../../role-password")
    (filestore / "zz").mkdir()
    (filestore / "zz" / "linked").symlink_to(secret)
    _plant_attachment(spec, name, "zz/linked")

    result = backup_database(spec, name, target, filestore=filestore)

    files = result.manifest["filestore"]
    assert files["refused_count"] == 3, files["refused"]
    assert all(entry[0] != "zz/linked" for entry in files["files"])
    for blob_name, path in target.iter_blobs():
        assert b"s3cret" not in path.read_bytes(), f"blob {blob_name} holds the secret"
    assert files["file_count"] == 40  # the real files are all there


def _tamper(target, set_id, change):
    path = target.set_path(set_id) / MANIFEST
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


@pytest.mark.parametrize("bad_name", ["/tmp/planted-by-a-set", "../../planted-by-a-set"])
def test_a_restore_refuses_a_set_naming_a_file_outside(
    spec, odoo_db, target, tmp_path, admin_conn, bad_name
):
    name, filestore = odoo_db
    set_id = backup_database(spec, name, target, filestore=filestore).set_id
    _tamper(target, set_id, lambda m: m["filestore"]["files"][0].__setitem__(0, bad_name))
    dest = tmp_path / "restored" / "fs"
    with pytest.raises(BackupCorrupt, match="outside any filestore"):
        restore_backup(spec, target, set_id, f"{name}_r", filestore=dest)
    assert not database_exists(admin_conn, f"{name}_r")
    assert not dest.exists()
    assert not os.path.exists("/tmp/planted-by-a-set")
    assert not (tmp_path / "planted-by-a-set").exists()
    with pytest.raises(BackupCorrupt):
        verify_set(target, set_id)


def test_a_manifest_naming_a_blob_outside_the_store_is_corrupt(spec, odoo_db, target):
    name, filestore = odoo_db
    set_id = backup_database(spec, name, target, filestore=filestore).set_id
    _tamper(target, set_id, lambda m: m["filestore"]["files"][0].__setitem__(3, "../../lock"))
    with pytest.raises(BackupCorrupt):
        verify_set(target, set_id)


def test_an_odoo_zip_with_a_member_outside_its_filestore_is_refused(spec, target, tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("dump.sql", "SELECT 1;\n")
        out.writestr("manifest.json", json.dumps({"db_name": "evil"}))
        out.writestr("filestore/../../escaped", b"x")
    with pytest.raises(BackupCorrupt, match="not a file name of a filestore"):
        import_zip(spec, archive, target)
    assert target.list_sets() == []


def test_a_copy_of_a_filestore_takes_no_link_and_no_device(tmp_path):
    """Links and FIFOs planted in a filestore are not carried into a copy, nothing is
    read through them, and the copy shares no inode with its source."""
    from ipai_ops.filestore import copy_tree  # noqa: PLC0415

    source = tmp_path / "fs"
    (source / "ab").mkdir(parents=True)
    (source / "ab" / "real").write_bytes(b"attachment")
    (tmp_path / "secret").write_bytes(b"secret")
    (source / "ab" / "link").symlink_to(tmp_path / "secret")
    (source / "cd").symlink_to(tmp_path)
    os.mkfifo(source / "ab" / "fifo")
    assert sum(copy_tree(source, tmp_path / "copy")) == 1
    copied = sorted(
        p.relative_to(tmp_path / "copy").as_posix() for p in (tmp_path / "copy").rglob("*")
    )
    assert copied == ["ab", "ab/real"]
    assert (
        os.stat(source / "ab" / "real").st_ino != os.stat(tmp_path / "copy" / "ab" / "real").st_ino
    )
