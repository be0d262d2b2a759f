"""Off-site copies on fsspec targets, and fetching a set back to restore it."""

import hashlib
import json
import os

import pytest
from odoo_like import table_fingerprints
from s3_server import S3Server
from sftp_server import SftpServer

from ipai_ops.backup import backup_database
from ipai_ops.errors import BackupCorrupt, StorageError
from ipai_ops.guards import drop_database
from ipai_ops.remote import RemoteTarget, parse_storage_options
from ipai_ops.replicate import replicate_set
from ipai_ops.restore import restore_backup
from ipai_ops.storage import LocalTarget
from ipai_ops.verify import verify_set


@pytest.fixture(scope="module")
def sftp(tmp_path_factory):
    server = SftpServer(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    server = S3Server(tmp_path_factory.mktemp("moto")).start()
    yield server
    server.stop()


S3_OPTIONS_VAR = "IPAI_OPS_TEST_S3_OPTIONS"


def s3_target(server, prefix, monkeypatch, **changes) -> RemoteTarget:
    """A target made as the product makes one, its options the reference env:…:
    the JSON with the secret is in the environment, not in the target."""
    monkeypatch.setenv(S3_OPTIONS_VAR, json.dumps(server.options(**changes)))
    return RemoteTarget(server.url(prefix), **parse_storage_options(f"env:{S3_OPTIONS_VAR}"))


@pytest.fixture(params=["file", "memory", "sftp", "s3"])
def remote(request, tmp_path, monkeypatch):
    if request.param == "file":
        yield RemoteTarget(f"file://{tmp_path / 'offsite'}")
        return
    if request.param == "sftp":  # a real OpenSSH server, over the network stack
        server = request.getfixturevalue("sftp")
        # fsspec shares one connection per server among the tests: it stays open
        yield RemoteTarget(server.url(tmp_path / "offsite"), **server.options())
        return
    if request.param == "s3":  # moto's S3 server over HTTP, signatures checked
        yield s3_target(request.getfixturevalue("s3"), tmp_path.name, monkeypatch)
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


def test_s3_refuses_a_wrong_secret_and_nothing_is_published(
    spec, odoo_db, target, s3, tmp_path, monkeypatch
):
    name, filestore = odoo_db
    result = backup_database(spec, name, target, filestore=filestore)
    wrong_secret = "wrong-" + s3.secret[6:]
    refused = s3_target(s3, tmp_path.name, monkeypatch, secret=wrong_secret)
    with pytest.raises(StorageError, match=r"signature .* does not match") as raised:
        replicate_set(target, refused, result.set_id)
    message = str(raised.value)
    assert result.set_id in message and refused.url in message  # says what failed, where
    assert wrong_secret not in message and s3.secret not in message
    assert wrong_secret not in repr(refused)
    seen_rightly = RemoteTarget(s3.url(tmp_path.name), **s3.options())
    assert seen_rightly.fs.find(seen_rightly.root) == []  # not a byte uploaded, no set


# s3fs uploads a file of two 50 MiB chunks or more in parts (multipart upload)
MULTIPART_SIZE = 100 * 2**20 + 1


def test_s3_file_uploaded_in_parts_comes_back_whole(
    spec, odoo_db, target, s3, tmp_path, monkeypatch
):
    name, filestore = odoo_db
    content = os.urandom(MULTIPART_SIZE)  # random: parts joined out of order would show
    sha1 = hashlib.sha1(content).hexdigest()
    (filestore / sha1[:2]).mkdir(exist_ok=True)
    (filestore / sha1[:2] / sha1).write_bytes(content)
    result = backup_database(spec, name, target, filestore=filestore)
    remote = s3_target(s3, tmp_path.name, monkeypatch)
    assert replicate_set(target, remote, result.set_id) == 40 * 5000 + MULTIPART_SIZE

    digest = hashlib.sha256(content).hexdigest()
    etag = remote.fs.info(remote._path("blobs", digest[:2], digest))["ETag"]
    assert etag.strip('"').endswith("-3")  # S3 names an object put in 3 parts so
    fresh = LocalTarget(tmp_path / "rebuilt")
    assert remote.fetch_set(result.set_id, fresh) == 40 * 5000 + MULTIPART_SIZE
    verify_set(fresh, result.set_id, deep=True)
    assert fresh.blob_path(digest).read_bytes() == content


def test_storage_options_read_from_the_host_are_never_quoted(tmp_path, monkeypatch):
    options_file = tmp_path / "s3.json"
    options_file.write_text('{"secret": "s3cr3t-value"}\n')
    assert parse_storage_options(f"file:{options_file}") == {"secret": "s3cr3t-value"}
    monkeypatch.setenv("IPAI_OPS_TEST_BROKEN", '{"secret": "s3cr3t-value"')  # not JSON
    with pytest.raises(StorageError, match="must be a JSON object") as raised:
        parse_storage_options("env:IPAI_OPS_TEST_BROKEN")
    assert "s3cr3t" not in str(raised.value)
