"""The engine's own lines of defence: paths under roots, secrets by reference, the
control plane's database, and the production mark surviving a replace."""

import os

import pytest
from conftest import run_sql

from ipai_ops.backup import backup_database
from ipai_ops.errors import PathNotAllowed, ProtectedDatabase, SecretUnavailable
from ipai_ops.guards import drop_database, is_production, mark_production, refuse_control_plane
from ipai_ops.paths import path_under
from ipai_ops.restore import restore_backup
from ipai_ops.secret_refs import resolve_reference, validate_reference


def test_paths_must_lie_strictly_inside_a_root(tmp_path):
    root = tmp_path / "filestore"
    (root / "prod").mkdir(parents=True)
    assert path_under(root / "prod", [root]) == (root / "prod").resolve()
    assert path_under(str(root / "new-copy"), [root]) == (root / "new-copy").resolve()
    for hostile in (root, root / "..", "/etc", root / "prod" / ".." / "..", "relative/dir", ""):
        with pytest.raises(PathNotAllowed):
            path_under(hostile, [root])
    with pytest.raises(PathNotAllowed, match="no root"):
        path_under(root / "prod", [])


def test_a_symlink_inside_a_root_cannot_lead_outside(tmp_path):
    root = tmp_path / "filestore"
    root.mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "innocent").symlink_to(outside)
    with pytest.raises(PathNotAllowed, match="not inside"):
        path_under(root / "innocent", [root])


def test_secret_references_read_the_host_not_the_database(tmp_path, monkeypatch):
    monkeypatch.setenv("IPAI_OPS_TEST_SECRET", "s3cret")
    assert resolve_reference("env:IPAI_OPS_TEST_SECRET") == "s3cret"
    secret_file = tmp_path / "pg.secret"
    secret_file.write_text("from-a-file\n")
    os.chmod(secret_file, 0o600)
    assert resolve_reference(f"file:{secret_file}") == "from-a-file"
    with pytest.raises(SecretUnavailable, match="not set"):
        resolve_reference("env:IPAI_OPS_TEST_UNSET_SECRET")
    with pytest.raises(SecretUnavailable, match="cannot be read"):
        resolve_reference(f"file:{tmp_path / 'missing'}")
    for bad in ("plain-password", "env:", "env:WITH SPACE", "file:relative/path"):
        with pytest.raises(SecretUnavailable, match="not a secret reference"):
            validate_reference(bad)


def test_the_control_plane_database_is_refused_by_uuid(spec, odoo_db):
    name, _filestore = odoo_db
    run_sql(
        spec, name,
        "INSERT INTO ir_config_parameter (key, value) VALUES ('database.uuid', 'cp-uuid')"
        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
    )  # fmt: skip
    with pytest.raises(ProtectedDatabase, match="control plane"):
        refuse_control_plane(spec.for_database(name), "cp-uuid")
    refuse_control_plane(spec.for_database(name), "another-uuid")
    refuse_control_plane(spec.for_database("ipai_test_does_not_exist"), "cp-uuid")


def test_a_replace_carries_the_production_mark_to_the_new_database(
    spec, odoo_db, target, admin_conn
):
    name, filestore = odoo_db
    result = backup_database(spec, name, target, filestore=filestore)
    mark_production(admin_conn, name)
    restored = restore_backup(
        spec, target, result.set_id, name, mode="replace", force_disconnect=True,
        allow_production=True, filestore=filestore,
    )  # fmt: skip
    try:
        assert is_production(admin_conn, name), "the database now in place is protected"
        assert is_production(admin_conn, restored.old_database), "so is the one kept aside"
        with pytest.raises(ProtectedDatabase):
            restore_backup(spec, target, result.set_id, name, mode="replace", force_disconnect=True)
    finally:
        mark_production(admin_conn, name, production=False)
        drop_database(admin_conn, restored.old_database, allow_production=True)
