"""The command line as a script sees it: exit codes, JSON, and the disaster-recovery loop."""

import json
import subprocess
import sys

from ipai_ops.guards import drop_database


def ipai_ops(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ipai_ops.cli", *args], capture_output=True, text=True, check=False
    )


def test_backup_list_verify_export_restore_from_the_shell(odoo_db, target, tmp_path, admin_conn):
    name, filestore = odoo_db
    root = str(target.root)
    out = ipai_ops("--json", "backup", name, "--target", root, "--filestore", str(filestore))
    assert out.returncode == 0, out.stdout + out.stderr
    set_id = json.loads(out.stdout)["set_id"]

    listing = json.loads(ipai_ops("--json", "list", "--target", root).stdout)
    assert [row["set_id"] for row in listing["sets"]] == [set_id]

    verified = ipai_ops("verify", set_id, "--target", root, "--deep")
    assert verified.returncode == 0 and "intact" in verified.stdout

    zip_path = tmp_path / "x.zip"
    exported = ipai_ops("export-zip", set_id, "--target", root, "--output", str(zip_path))
    assert exported.returncode == 0 and zip_path.stat().st_size > 0

    again = ipai_ops("restore", set_id, name, "--target", root)
    assert again.returncode == 8, "restoring over an existing database needs --replace"
    assert "already exists" in again.stderr

    copy = f"{name}_cli"
    try:
        restored = ipai_ops("restore", set_id, copy, "--target", root)
        assert restored.returncode == 0, restored.stderr
        assert f"Restored {set_id} into {copy}" in restored.stdout
        assert "…" in restored.stderr  # progress on the terminal side
    finally:
        drop_database(admin_conn, copy)


def test_corrupt_and_missing_sets_have_their_own_exit_codes(odoo_db, target):
    name, _filestore = odoo_db
    root = str(target.root)
    assert ipai_ops("verify", "nope", "--target", root).returncode == 6
    set_id = json.loads(ipai_ops("--json", "backup", name, "--target", root).stdout)["set_id"]
    toc = target.set_path(set_id) / "dump" / "toc.dat"
    toc.write_bytes(toc.read_bytes()[:-10])
    corrupt = ipai_ops("--json", "verify", set_id, "--target", root)
    assert corrupt.returncode == 5
    assert json.loads(corrupt.stdout)["kind"] == "BackupCorrupt"
