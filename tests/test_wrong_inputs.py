"""What the command line says to the inputs users get wrong: one sentence, its own exit
code, no traceback, nothing changed. The README's table of wrong inputs lists these rows."""

import json
import subprocess
import sys

import pytest

from ipai_ops.connection import connect
from ipai_ops.guards import drop_database
from ipai_ops.identifiers import database_exists

NOT_ODOO = "is not an Odoo database (it has no ir_module_module and ir_config_parameter tables)"
ODOO_ADDONS = "."  # no module has a script here: the refusal comes first anyway


def ipai_ops(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ipai_ops.cli", *args], capture_output=True, text=True, check=False
    )


@pytest.fixture
def plain_db(scratch_db, admin_conn, spec):
    """A database with a table of its own and none of Odoo's."""
    name = scratch_db()
    conn = connect(spec.for_database(name))
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept')")
    conn.close()
    return name


def _said(done: subprocess.CompletedProcess, code: int, sentence: str) -> None:
    assert done.returncode == code, done.stdout + done.stderr
    assert sentence in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()[-1]) < 300, "not one sentence"


@pytest.mark.parametrize(
    "command",
    [
        ("clone", "{db}", "{db}_copy", "--addons-path", ODOO_ADDONS),
        ("neutralize", "{db}", "--addons-path", ODOO_ADDONS),
        ("mask", "{db}"),
    ],
    ids=["clone", "neutralize", "mask"],
)
def test_not_an_odoo_database_is_refused_before_anything_changes(
    command, plain_db, spec, admin_conn
):
    args = [part.format(db=plain_db) for part in command]
    done = ipai_ops(*args)
    _said(done, 13, f"{plain_db} {NOT_ODOO}")
    assert not database_exists(admin_conn, f"{plain_db}_copy"), "a copy was left"
    conn = connect(spec.for_database(plain_db))
    with conn.cursor() as cur:
        cur.execute("SELECT body FROM notes")
        assert cur.fetchall() == [("kept",)]
    conn.close()


def test_a_missing_database_and_a_file_for_a_target_say_so(plain_db, tmp_path):
    _said(ipai_ops("check", f"{plain_db}_gone"), 3, "the database does not exist on this server")
    afile = tmp_path / "afile"
    afile.write_text("")
    _said(ipai_ops("backup", plain_db, "--target", str(afile)), 1, "is a file, not a directory")
    _said(ipai_ops("verify", "nope", "--target", str(tmp_path)), 6, "No backup 'nope' on")


def test_a_restore_onto_an_existing_database_is_refused_and_leaves_it(plain_db, tmp_path, spec,
                                                                      admin_conn):  # fmt: skip
    """A set of a database that is not Odoo's restores (it is a PostgreSQL backup); onto a
    database that exists, without --replace, it is refused."""
    target = str(tmp_path / "backups")
    backed = ipai_ops("--json", "backup", plain_db, "--target", target)
    assert backed.returncode == 0, backed.stderr
    set_id = json.loads(backed.stdout)["set_id"]
    _said(ipai_ops("restore", set_id, plain_db, "--target", target), 8, "already exists")
    copy = f"{plain_db}_r"
    try:
        restored = ipai_ops("restore", set_id, copy, "--target", target)
        assert restored.returncode == 0, restored.stderr
    finally:
        drop_database(admin_conn, copy)


@pytest.fixture
def small_fs(tmp_path):
    """A 2 MiB file system of its own (tmpfs, as root), unmounted after the test."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True, check=False)  # fmt: skip
    if mounted.returncode:
        pytest.fail(f"a small file system is needed, mount failed: {mounted.stderr}", False)
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_then_a_read_only_target_fail_the_backup_and_publish_nothing(
    scratch_db, spec, small_fs
):
    name = scratch_db()
    conn = connect(spec.for_database(name))
    with conn.cursor() as cur:  # some 20 MiB that do not compress to 2
        cur.execute("CREATE TABLE t AS SELECT g, md5(g::text) || md5((g * 7)::text) AS v"
                    " FROM generate_series(1, 200000) g")  # fmt: skip
    conn.close()
    target = small_fs / "backups"
    _said(ipai_ops("backup", name, "--target", str(target)), 1, "the disk is full")
    assert not list((target / "sets").iterdir()), "a set was published"
    assert not list((target / "tmp").glob("*.partial")), "a partial set was left"
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    for command in ("backup", "prune"):
        args = [name] if command == "backup" else ["--daily", "1"]
        done = ipai_ops(command, *args, "--target", str(target))
        _said(done, 1, "The storage target is on a read-only file system")
