"""Progress as a caller sees it: fractions that only grow and end at 1.0, few calls per
second, the old one-argument callbacks still served, and the command line's bar."""

import json
import os
import pty
import subprocess
import sys

from odoo_like import add_operations_tables, write_filestore

from ipai_ops.backup import backup_database
from ipai_ops.clone import clone_database, clone_from_backup
from ipai_ops.guards import drop_database
from ipai_ops.mask import mask_database
from ipai_ops.odoo_zip import export_zip, import_zip
from ipai_ops.restore import restore_backup


class Recorder:
    """A progress callback of the full contract that keeps every call."""

    def __init__(self):
        self.calls: list[tuple[str, float | None]] = []

    def __call__(self, message, fraction=None):
        self.calls.append((message, fraction))

    @property
    def fractions(self) -> list[float]:
        return [fraction for _message, fraction in self.calls if fraction is not None]

    @property
    def messages(self) -> list[str]:
        return [message for message, fraction in self.calls if fraction is None]


def assert_well_told(recorder: Recorder) -> None:
    fractions = recorder.fractions
    assert fractions, f"no fraction was told: {recorder.calls}"
    assert fractions == sorted(fractions), f"a fraction went back: {fractions}"
    assert fractions[-1] == 1.0, f"a successful operation ends at 1.0, not {fractions[-1]}"
    assert any(0 < f < 1 for f in fractions), f"nothing between 0 and 1: {fractions}"
    announced = set()
    for message, fraction in recorder.calls:
        if fraction is None:
            announced.add(message)
        else:
            assert message in announced, f"{message!r} came with a fraction before it was said"


def test_backup_and_restore_tell_growing_fractions_up_to_one(
    spec, odoo_db, target, tmp_path, admin_conn
):
    name, filestore = odoo_db
    backup = Recorder()
    result = backup_database(spec, name, target, filestore=filestore, progress=backup)
    assert_well_told(backup)
    assert backup.messages[-1] == f"Published {result.set_id}"

    restore = Recorder()
    copy = f"{name}_progress"
    try:
        restore_backup(
            spec, target, result.set_id, copy, filestore=tmp_path / copy, progress=restore
        )
    finally:
        drop_database(admin_conn, copy)
    assert_well_told(restore)
    assert any("Writing the filestore (40 files)" in m for m in restore.messages)


def test_per_file_ticks_are_throttled_and_old_callbacks_get_one_call_per_phase(
    spec, odoo_db, target, tmp_path
):
    name, _filestore = odoo_db
    many = tmp_path / "many-files"
    write_filestore(many, None, None, files=2000, size=64)
    recorder = Recorder()
    backup_database(spec, name, target, filestore=many, progress=recorder)
    assert_well_told(recorder)
    assert len(recorder.calls) < 100, f"2,000 files gave {len(recorder.calls)} calls"

    messages = []  # the older contract: the message alone
    second = backup_database(spec, name, target, filestore=many, progress=messages.append)
    assert messages[-1] == f"Published {second.set_id}"
    assert len(messages) == len(set(messages)) < 10, f"not one call per phase: {messages}"


def test_a_copy_tells_its_preparation_and_a_copy_from_a_backup_its_restore(
    spec, odoo_db, target, tmp_path, admin_conn
):
    name, filestore = odoo_db
    add_operations_tables(spec, name)
    live, from_backup = Recorder(), Recorder()
    copies = [f"{name}_live", f"{name}_backup"]

    def prepare(database, progress):  # a preparation that reports its own steps
        return mask_database(spec, database, progress=progress)

    try:
        clone_database(
            spec, name, copies[0], source_filestore=filestore,
            target_filestore=tmp_path / copies[0], prepare=prepare, progress=live,
        )  # fmt: skip
        result = backup_database(spec, name, target, filestore=filestore)
        clone_from_backup(
            spec, target, result.set_id, copies[1], target_filestore=tmp_path / copies[1],
            prepare=prepare, progress=from_backup,
        )  # fmt: skip
    finally:
        for copy in copies:
            drop_database(admin_conn, copy)
    for recorder in (live, from_backup):
        assert_well_told(recorder)  # the inner operation's 0-1 never restarts the whole
        assert any(m.startswith("Masking ") for m in recorder.messages)
        assert recorder.messages[-1].endswith(" is ready")
    assert "Copying the filestore" in live.messages
    assert any(m.startswith("Restoring the dump") for m in from_backup.messages)


def test_a_zip_import_tells_its_load_its_files_and_its_backup(spec, odoo_db, target, tmp_path):
    name, filestore = odoo_db
    result = backup_database(spec, name, target, filestore=filestore)
    zip_path = tmp_path / "odoo.zip"
    with open(zip_path, "wb") as out:
        export_zip(target, result.set_id, out)
    recorder = Recorder()
    imported = import_zip(spec, zip_path, target, database=f"{name}_zip", progress=recorder)
    assert_well_told(recorder)  # the backup inside maps into the import's last phase
    assert recorder.messages[0].startswith("Loading dump.sql into ")
    assert "Storing the filestore" in recorder.messages
    assert recorder.messages[-1] == f"Published {imported.set_id}"


def ipai_ops(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ipai_ops.cli", *args], capture_output=True, text=True, check=False
    )


def on_terminal(*args: str) -> tuple[int, str, str]:
    """Run the command line with stderr on a pseudo-terminal.

    :return: exit code, stdout, and what the terminal received
    """
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ipai_ops.cli", *args], stdout=subprocess.PIPE, stderr=slave
    )
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: every writer of the terminal has closed it
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    stdout = proc.stdout.read().decode()
    proc.stdout.close()
    return proc.wait(), stdout, shown.decode()


def test_the_command_line_draws_a_bar_on_a_terminal_and_lines_in_a_pipe(odoo_db, target):
    name, filestore = odoo_db
    command = ("backup", name, "--target", str(target.root), "--filestore", str(filestore))

    code, stdout, terminal = on_terminal(*command)
    assert code == 0, stdout + terminal
    assert "[####################] 100%  Published " in terminal
    assert "\r[" in terminal, "the bar is redrawn in place"
    assert terminal.endswith("\n"), "the finished bar ends its line"
    assert "…" not in terminal
    assert stdout.startswith("Backup "), "the summary goes to stdout"

    piped = ipai_ops(*command)
    assert piped.returncode == 0, piped.stderr
    lines = piped.stderr.splitlines()
    assert "\r" not in piped.stderr and "[#" not in piped.stderr and "%" not in piped.stderr
    assert lines and all(line.startswith("… ") for line in lines), lines
    assert len(lines) == len(set(lines)) < 10, f"one line per phase, not per file: {lines}"
    assert lines[-1].startswith("… Published ")

    as_json = ipai_ops("--json", *command)
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["ok"]
    assert as_json.stderr == "", "--json prints nothing on stderr"
    quiet = ipai_ops("--quiet", *command)
    assert quiet.returncode == 0 and quiet.stderr == "", "--quiet prints nothing on stderr"
