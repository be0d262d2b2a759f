"""Backup benchmark: ipai-ops backup/restore against pg_dump -Fc + tar and pg_restore.

On a generated Odoo-like database (default ≈1 GiB of rows and a ≈1 GiB filestore
of ≈20k files; --db-mb, --fs-mb, --files to change) it measures, in one run:

* full backup time vs ``pg_dump -Fc`` + ``tar`` of the filestore;
* a second backup with the filestore unchanged: new filestore bytes stored, and
  its filestore phase against the first backup's;
* restore time vs a single-job ``pg_restore`` of the ``-Fc`` dump;
* peak memory (RSS) of the backup process, for this database and for a tiny one
  with the same filestore, to show it does not grow with the database.

Run with ``make bench`` (which starts a PostgreSQL cluster), or with PG* set.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import generate, report, run, spec_from_env, timed

from ipai_ops.backup import backup_database
from ipai_ops.connection import client_env, connect
from ipai_ops.guards import drop_database
from ipai_ops.pgtools import find_client
from ipai_ops.restore import restore_backup
from ipai_ops.storage import LocalTarget

# VmHWM (peak RSS of this address space) rather than ru_maxrss, which Linux carries over
# from the parent across fork + exec and would report the benchmark's own size.
MEMORY_PROBE = """
import re, sys
from ipai_ops.cli import main
code = main(sys.argv[1:])
status = open("/proc/self/status").read()
print(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1), file=sys.stderr)
sys.exit(code)
"""


def peak_backup_rss_mib(database: str, filestore: Path, target: Path) -> float:
    """Peak RSS of an ``ipai-ops backup`` process (the Python side; pg_dump is separate)."""
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            MEMORY_PROBE,
            "--quiet",
            "backup",
            database,
            "--target",
            str(target),
            "--filestore",
            str(filestore),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(proc.stderr.strip().splitlines()[-1]) / 1024


def checkpoint(admin) -> None:
    """Flush the previous step's writes so it does not slow down the next timed one."""
    with admin.cursor() as cur:
        cur.execute("CHECKPOINT")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-mb", type=int, default=1024)
    parser.add_argument("--fs-mb", type=int, default=1024)
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    spec = spec_from_env()
    work = Path(tempfile.mkdtemp(prefix="ipai-bench-", dir=args.workdir))
    try:
        bench(spec, work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        admin = connect(spec.for_database("postgres"))
        for name in ("bench_src", "bench_tiny", "bench_restored", "bench_pgrestore"):
            drop_database(admin, name)
        admin.close()


def bench(spec, work: Path, args) -> None:
    filestore = work / "filestore" / "bench_src"
    print(f"generating ≈{args.db_mb} MiB of rows and {args.files} files (≈{args.fs_mb} MiB)…")
    size = generate(
        spec, "bench_src", filestore, db_mb=args.db_mb, fs_mb=args.fs_mb, files=args.files
    )
    print(f"database: {size / 1024**2:.0f} MiB on disk")
    server_major = int(str(connect(spec.for_database("postgres")).server_version)[:-4])
    pg_dump = find_client("pg_dump", server_major)
    pg_restore = find_client("pg_restore", server_major)
    env = client_env(spec)
    t = {}
    base = work / "baseline"
    base.mkdir()
    with timed(t, "base_dump"):
        run([pg_dump, "-Fc", f"--file={base / 'db.dump'}", "--dbname=bench_src"], env)
    with timed(t, "base_tar"):
        run(
            ["tar", "-cf", str(base / "filestore.tar"), "-C", str(filestore.parent), filestore.name]
        )
    target = LocalTarget(work / "target")
    with timed(t, "first"):
        first = backup_database(spec, "bench_src", target, filestore=filestore)
    with timed(t, "second"):
        second = backup_database(spec, "bench_src", target, filestore=filestore)
    admin = connect(spec.for_database("postgres"))
    with admin.cursor() as cur:
        cur.execute("CREATE DATABASE bench_pgrestore")
    checkpoint(admin)
    with timed(t, "base_restore"):
        run(
            [
                pg_restore,
                "--jobs=1",
                "--no-owner",
                "--dbname=bench_pgrestore",
                str(base / "db.dump"),
            ],
            env,
        )
    checkpoint(admin)
    with timed(t, "restore_db"):
        restore_backup(spec, target, second.set_id, "bench_restored")
    drop_database(admin, "bench_restored")
    checkpoint(admin)
    with timed(t, "restore_full"):
        restore_backup(
            spec, target, second.set_id, "bench_restored", filestore=work / "restored-fs"
        )
    memory_full = peak_backup_rss_mib("bench_src", filestore, work / "target-mem")
    # the same filestore beside a tiny database: only the database's size differs
    generate(spec, "bench_tiny", work / "filestore" / "unused", db_mb=1, fs_mb=1, files=10)
    memory_tiny = peak_backup_rss_mib("bench_tiny", filestore, work / "target-mem-tiny")
    admin.close()

    fs1, fs2 = first.manifest["filestore"], second.manifest["filestore"]
    baseline_backup = t["base_dump"] + t["base_tar"]
    report(
        f"backup benchmark: {size / 1024**2:.0f} MiB database, {args.files} files "
        f"({fs1['bytes'] / 1024**2:.0f} MiB filestore)",
        [
            ("full backup (s) vs pg_dump -Fc + tar", t["first"], baseline_backup, "<= 1.0"),
            ("second backup (s) vs first backup", t["second"], t["first"], "-"),
            (
                "second backup: new filestore MiB",
                fs2["new_bytes"] / 1024**2,
                fs1["new_bytes"] / 1024**2,
                "0 new bytes",
            ),
            ("filestore phase (s): second vs first", fs2["seconds"], fs1["seconds"], "<= 0.2"),
            (
                "restore, database (s) vs pg_restore -j1",
                t["restore_db"],
                t["base_restore"],
                "<= 1.0",
            ),
            (
                "restore, db + filestore (s) vs pg_restore -j1",
                t["restore_full"],
                t["base_restore"],
                "-",
            ),
            (
                "backup peak RSS (MiB): this db vs a tiny one",
                memory_full,
                memory_tiny,
                "flat, < 200",
            ),
        ],
    )
    print(
        f"(dump: {first.manifest['dump']['bytes'] / 1024**2:.0f} MiB as "
        f"{first.manifest['dump']['compression']} with {first.manifest['dump']['jobs']} jobs; "
        f"pg_dump -Fc: {(base / 'db.dump').stat().st_size / 1024**2:.0f} MiB; "
        f"self max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
