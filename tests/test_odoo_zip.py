"""Odoo-format zips: export streams a loadable dump, import turns a zip into a backup."""

import io
import json
import zipfile

import pytest
from odoo_like import table_fingerprints, tree_digest

from ipai_ops.backup import backup_database
from ipai_ops.errors import BackupCorrupt
from ipai_ops.guards import drop_database
from ipai_ops.odoo_zip import export_zip, import_zip
from ipai_ops.restore import restore_backup


class NoSeek(io.RawIOBase):
    """A write-only stream, like an HTTP response body."""

    def __init__(self):
        self.buffer = bytearray()

    def writable(self):
        return True

    def write(self, data):
        self.buffer += data
        return len(data)


def test_export_then_import_round_trips(spec, odoo_db, target, tmp_path, admin_conn):
    name, filestore = odoo_db
    result = backup_database(spec, name, target, filestore=filestore)
    out = NoSeek()
    assert export_zip(target, result.set_id, out) == 40
    zip_path = tmp_path / "odoo.zip"
    zip_path.write_bytes(bytes(out.buffer))

    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        meta = json.loads(archive.read("manifest.json"))
        assert names[0] == "dump.sql"
        assert sum(n.startswith("filestore/") for n in names) == 40
        assert meta["db_name"] == name and meta["version"] == "19.0"
        assert meta["modules"]["base"] == "19.0.1.3"
        assert b"CREATE TABLE public.res_partner" in archive.read("dump.sql")

    imported = import_zip(spec, zip_path, target, database="imported_copy")
    assert imported.manifest["kind"] == "import"
    assert imported.manifest["database"] == "imported_copy"
    assert imported.manifest["filestore"]["new_blobs"] == 0  # same files, already stored
    copy = "imported_copy"
    dest = tmp_path / "restored-fs"
    try:
        restore_backup(spec, target, imported.set_id, copy, filestore=dest, new_uuid=False)
        assert table_fingerprints(spec, copy) == table_fingerprints(spec, name)
        assert tree_digest(dest) == tree_digest(filestore)
    finally:
        drop_database(admin_conn, copy)


def test_import_of_a_broken_dump_fails_and_leaves_nothing(spec, target, tmp_path, admin_conn):
    zip_path = tmp_path / "broken.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("dump.sql", "CREATE TABLE ok (id int);\nTHIS IS NOT SQL;\n")
        archive.writestr("manifest.json", json.dumps({"db_name": "broken"}))
    with pytest.raises(BackupCorrupt, match="does not load"):
        import_zip(spec, zip_path, target)
    assert target.list_sets() == []
    with admin_conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'broken-import-%'")
        assert cur.fetchone()[0] == 0


def test_not_a_zip_is_refused(spec, target, tmp_path):
    bogus = tmp_path / "bogus.zip"
    bogus.write_text("hello")
    with pytest.raises(BackupCorrupt, match="not a readable zip"):
        import_zip(spec, bogus, target)
