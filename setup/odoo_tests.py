"""Install every ipai_ops_* addon into a fresh database under a real Odoo 19 and run their tests.

Prints "<passed> <failed>" on stdout. Exits 0 only when Odoo finished cleanly, at
least one test ran, none failed, and the log holds no ERROR or CRITICAL line
(a module that fails to load is an error even when no test notices).

Then, on the same database, the standalone tests (``@standalone("ipai_ops_uninstall")``:
those that uninstall modules, which an ordinary test may not) run through Odoo's
``test_module_operations.py``; each counts as one test, failed if it logged an error.
Connection settings come from the PG* variables; the password stays in the
environment (libpq reads PGPASSWORD), never in Odoo's argument list.
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg2
from psycopg2 import sql

ROOT = Path(__file__).resolve().parent.parent
REPORT = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database")
STANDALONE_TAG = "ipai_ops_uninstall"
STANDALONE_RAN = re.compile(r"Executing standalone script: (\w+)")
STANDALONE_FAILED = re.compile(r"Standalone script (\w+) failed")
LOUD = re.compile(r" (ERROR|CRITICAL) | FAIL: | ERROR: ")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def recreate_database(name: str) -> None:
    conn = psycopg2.connect(dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    conn.close()


def addons_path(odoo_src: Path) -> str:
    return ",".join(
        [str(odoo_src / "addons"), str(odoo_src / "odoo" / "addons"), str(ROOT / "addons")]
    )


def odoo_command(odoo_src: Path, database: str, addons: list[str], data_dir: str) -> list[str]:
    return [
        sys.executable,
        str(odoo_src / "odoo-bin"),
        f"--addons-path={addons_path(odoo_src)}",
        f"--data-dir={data_dir}",
        f"--database={database}",
        f"--db_host={os.environ['PGHOST']}",
        f"--db_port={os.environ['PGPORT']}",
        f"--db_user={os.environ['PGUSER']}",
        f"--http-port={free_port()}",
        "--http-interface=127.0.0.1",
        "--max-cron-threads=0",
        "--log-level=info",
        f"--init={','.join(addons)}",
        f"--test-tags={','.join('/' + name for name in addons)}",
        "--stop-after-init",
    ]


def standalone_command(odoo_src: Path, database: str, data_dir: str) -> list[str]:
    return [
        sys.executable,
        str(odoo_src / "odoo" / "tests" / "test_module_operations.py"),
        f"--database={database}",
        f"--data-dir={data_dir}",
        f"--addons-path={addons_path(odoo_src)}",
        "standalone",
        STANDALONE_TAG,
    ]


def run(odoo_src: Path, log_path: Path) -> int:
    addons = sorted(p.name for p in (ROOT / "addons").glob("ipai_ops_*") if p.is_dir())
    database = f"ipai_ops_test_{os.getpid()}"
    recreate_database(database)
    loud_lines: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="ipai-ops-odoo-data-") as data_dir,
        open(log_path, "w", encoding="utf-8") as log,
    ):
        command = odoo_command(odoo_src, database, addons, data_dir)
        returncode, lines = follow(command, log, loud_lines)
        found = [tuple(map(int, m.groups())) for m in map(REPORT.search, lines) if m]
        report = found[-1] if found else None
        if report and returncode == 0:
            command = standalone_command(odoo_src, database, data_dir)
            returncode, lines = follow(command, log, loud_lines)
            report = add_standalone(report, lines)
    recreate_database(database)
    recreate_database(f"{database[:40]}_production")  # the tests' production, made from it
    return summarize(returncode, report, loud_lines, log_path)


def follow(command: list[str], log, loud_lines: list[str]) -> tuple[int, list[str]]:
    """Run an Odoo command, copying its output to ``log``; return its exit code and the
    lines worth parsing (test reports, standalone scripts)."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    kept = []
    for line in proc.stdout:
        log.write(line)
        if LOUD.search(line):
            loud_lines.append(line.rstrip())
            print(line.rstrip(), file=sys.stderr)
        if REPORT.search(line) or "tandalone script" in line:
            kept.append(line)
    return proc.wait(), kept


def add_standalone(report: tuple[int, int, int], lines: list[str]) -> tuple[int, int, int]:
    """The main report with each standalone script counted: ran, and failed or not."""
    ran = {m.group(1) for m in map(STANDALONE_RAN.search, lines) if m}
    failed = {m.group(1) for m in map(STANDALONE_FAILED.search, lines) if m}
    if not ran:  # a standalone test exists: none running is a failure, not a pass
        failed = {"(no standalone script ran)"}
    return report[0] + len(failed), report[1], report[2] + len(ran | failed)


def summarize(returncode: int, report, loud_lines: list[str], log_path: Path) -> int:
    if report is None:
        print("0 1")
        print(f"Odoo printed no test report (exit {returncode}); see {log_path}", file=sys.stderr)
        return 1
    failed, errors, total = report
    print(total - failed - errors, failed + errors + (1 if not total else 0))
    problems = []
    if returncode:
        problems.append(f"Odoo exited with {returncode}")
    if not total:
        problems.append("zero tests ran")
    if failed or errors:
        problems.append(f"{failed} failed, {errors} error(s) of {total} tests")
    if loud_lines and not (failed or errors):
        problems.append(f"{len(loud_lines)} ERROR/CRITICAL log line(s)")
    if problems:
        print(f"Odoo tests: {'; '.join(problems)} (log: {log_path})", file=sys.stderr)
        return 1
    print(f"Odoo tests: {total} ran, all passed", file=sys.stderr)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--odoo-src", type=Path, required=True)
    parser.add_argument("--log", type=Path, default=ROOT / "var" / "log" / "odoo-tests.log")
    args = parser.parse_args()
    args.log.parent.mkdir(parents=True, exist_ok=True)
    return run(args.odoo_src, args.log)


if __name__ == "__main__":
    sys.exit(main())
