"""A clone killed at the worst moment leaves nothing anybody can use, and the next
operation removes what it left."""

import os
import signal
import subprocess
import sys
import time

import psycopg2
import pytest
from conftest import run_sql
from odoo_like import MODULES, add_operations_tables, fake_addons_path, populate

from ipai_ops.clone import clone_database
from ipai_ops.guards import drop_database
from ipai_ops.identifiers import database_exists
from ipai_ops.scratch import SCRATCH_DATABASE


def _scratch_databases(spec):
    rows = run_sql(spec, "postgres", "SELECT datname FROM pg_database")
    return [row[0] for row in rows if SCRATCH_DATABASE.search(row[0])]


def _pg_restore_sessions(spec):
    """Sessions connected to a scratch copy: pg_restore's, while it fills it."""
    rows = run_sql(
        spec, "postgres",
        "SELECT count(*) FROM pg_stat_activity WHERE datname ~ '-cloning-[0-9a-f]{6}$'",
    )  # fmt: skip
    return rows[0][0]


def _wait_for(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def big_source(spec, scratch_db, tmp_path):
    name = scratch_db()
    populate(spec, name, partners=60000, messages=60000, body_bytes=400)
    add_operations_tables(spec, name)
    filestore = tmp_path / "filestore" / name
    filestore.mkdir(parents=True)
    (filestore / "ab").mkdir()
    (filestore / "ab" / "abcdef").write_bytes(b"attachment")
    return name, filestore


def test_killed_clone_leaves_no_connectable_copy_and_is_swept(
    spec, big_source, tmp_path, admin_conn, login_role
):
    name, filestore = big_source
    addons = fake_addons_path(tmp_path / "addons", [m for m, _v in MODULES], {})
    target = f"{name}_copy"
    dest = filestore.parent / target
    # a session of the source keeps the template path away: the dump path runs pg_restore
    holder = psycopg2.connect(**spec.for_database(name).connect_kwargs())
    cmd = [sys.executable, "-m", "ipai_ops.cli", "clone", name, target,
           "--source-filestore", str(filestore), "--target-filestore", str(dest),
           "--addons-path", str(addons), "--method", "dump"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=os.environ, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert _wait_for(lambda: _pg_restore_sessions(spec) > 0), "pg_restore started"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert _wait_for(lambda: _pg_restore_sessions(spec) == 0, 20), "pg_restore died with it"
        leftovers = _scratch_databases(spec)
        assert leftovers, "the killed clone left its scratch database"
        assert not database_exists(admin_conn, target)
        outsider = login_role("outsider-pw")
        for leftover in leftovers:
            with pytest.raises(psycopg2.OperationalError, match="permission denied"):
                kwargs = spec.for_database(leftover).connect_kwargs()
                psycopg2.connect(**{**kwargs, "user": outsider, "password": "outsider-pw"})
        assert not [p for p in filestore.parent.iterdir() if p.name.startswith(".ipai-ops-dump")
                    and not p.is_dir()]  # fmt: skip

        # the next operation on the server sweeps the leftovers, files included
        again = f"{name}_again"
        clone_database(spec, name, again, source_filestore=filestore,
                       target_filestore=filestore.parent / again)  # fmt: skip
        drop_database(admin_conn, again)
        assert _scratch_databases(spec) == []
        hidden = [p.name for p in filestore.parent.iterdir() if p.name.startswith(".")]
        assert hidden == [], hidden
    finally:
        holder.close()
        if proc.poll() is None:
            proc.kill()
        for leftover in _scratch_databases(spec):
            drop_database(admin_conn, leftover)
