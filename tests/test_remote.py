"""Off-site copies on fsspec targets, and fetching a set back to restore it."""

import pytest
from odoo_like import table_fingerprints
from sftp_server import SftpServer

from ipai_ops.backup import backup_database
from ipai_ops.errors import BackupCorrupt
from ipai_ops.guards import drop_database
from ipai_ops.remote import RemoteTarget
from ipai_ops.replicate import replicate_set
from ipai_ops.restore import restore_backup
from ipai_ops.storage import LocalTarget
from ipai_ops.verify import verify_set


@pytest.fixture(scope="module")
def sftp(tmp_path_factory):
    server = SftpServer(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


@pytest.fixture(params=["file", "memory", "sftp"])
def remote(request, tmp_path):
    if request.param == "file":
        yield RemoteTarget(f"file://{tmp_path / 'offsite'}")
        return
    if request.param == "sftp":  # a real OpenSSH server, over the network stack
        server = request.getfixturevalue("sftp")
        # fsspec shares one connection per server among the tests: it stays open
        yield RemoteTarget(server.url(tmp_path / "offsite"), **server.options())
        return
    remote = RemoteTarget(f"memory://offsite-{tmp_path.name}")
    yield remote
    remote.fs.rm(remote.root, recursive=True)


def test_push_fetch_restore(spec, odoo_db, target, remote, tmp_path, admin_conn):
    name, filestore = odoo_db
    result = backup_database(spec, name, target, filestore=filestore)
    assert replicate_set(target, remote, result.set_id) == 40 * 5000
    assert remote.list_sets() == [result.set_id]
    assert replicate_set(target, remote, result.set_id) == 0  # already off-site

    fresh = LocalTarget(tmp_path / "rebuilt")  # the local copy is lost: fetch it back
    assert remote.fetch_set(result.set_id, fresh) == 40 * 5000
    verify_set(fresh, result.set_id, deep=True)
    copy = f"{name}_offsite"
    try:
        restore_backup(spec, fresh, result.set_id, copy, new_uuid=False)
        assert table_fingerprints(spec, copy) == table_fingerprints(spec, name)
    finally:
        drop_database(admin_conn, copy)


def test_interrupted_upload_is_invisible(spec, odoo_db, target, remote):
    name, filestore = odoo_db
    result = backup_database(spec, name, target, filestore=filestore)
    replicate_set(target, remote, result.set_id)
    remote.fs.rm(remote._path("sets", result.set_id, "manifest.json"))  # died before the end
    assert remote.list_sets() == []
    replicate_set(target, remote, result.set_id)
    assert remote.list_sets() == [result.set_id]


def test_corrupt_remote_blob_is_refused_on_fetch(spec, odoo_db, target, remote, tmp_path):
    name, filestore = odoo_db
    result = backup_database(spec, name, target, filestore=filestore)
    replicate_set(target, remote, result.set_id)
    digest = result.manifest["filestore"]["files"][0][3]
    with remote.fs.open(remote._path("blobs", digest[:2], digest), "wb") as handle:
        handle.write(b"x" * 5000)  # same size, other content
    fresh = LocalTarget(tmp_path / "rebuilt")
    with pytest.raises(BackupCorrupt, match="corrupt"):
        remote.fetch_set(result.set_id, fresh)
    assert fresh.list_sets() == []
