"""Install every ipai_ops_* addon into a fresh database under a real Odoo 19 and run their tests.

Prints "<passed> <failed>" on stdout. Exits 0 only when Odoo finished cleanly, at
least one test ran, none failed, and the log holds no ERROR or CRITICAL line
(a module that fails to load is an error even when no test notices).
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


def odoo_command(odoo_src: Path, database: str, addons: list[str], data_dir: str) -> list[str]:
    addons_path = ",".join(
        [str(odoo_src / "addons"), str(odoo_src / "odoo" / "addons"), str(ROOT / "addons")]
    )
    return [
        sys.executable,
        str(odoo_src / "odoo-bin"),
        f"--addons-path={addons_path}",
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


def run(odoo_src: Path, log_path: Path) -> int:
    addons = sorted(p.name for p in (ROOT / "addons").glob("ipai_ops_*") if p.is_dir())
    database = f"ipai_ops_test_{os.getpid()}"
    recreate_database(database)
    loud_lines = []
    report = None
    with tempfile.TemporaryDirectory(prefix="ipai-ops-odoo-data-") as data_dir:
        command = odoo_command(odoo_src, database, addons, data_dir)
        with open(log_path, "w", encoding="utf-8") as log:
            proc = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            for line in proc.stdout:
                log.write(line)
                if LOUD.search(line):
                    loud_lines.append(line.rstrip())
                    print(line.rstrip(), file=sys.stderr)
                if match := REPORT.search(line):
                    report = tuple(int(group) for group in match.groups())
            returncode = proc.wait()
    recreate_database(database)
    recreate_database(f"{database[:40]}_production")  # the tests' production, made from it
    return summarize(returncode, report, loud_lines, log_path)


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
