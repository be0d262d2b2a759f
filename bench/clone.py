"""Clone benchmark: ipai-ops copies against Odoo's duplicate and hand-run pg_dump/pg_restore.

On the generated Odoo-like database of the backup benchmark (--db-mb, --fs-mb,
--files), in one run:

* online clone (dump path, production sessions untouched) vs a hand-run
  ``pg_dump -Fd -j 2`` + ``pg_restore -j 2`` and vs ``pg_dump | pg_restore``;
* template clone (allowed when the source is idle) vs Odoo's duplicate
  (``CREATE DATABASE … TEMPLATE`` + ``shutil.copytree`` of the filestore — what
  ``exp_duplicate_database`` does after terminating the source's sessions);
* the filestore copy a copy gets (reflinks, else full copies; never hard links) vs
  ``shutil.copytree``;
* masking throughput (rows/s) on --partners partners with Odoo-like indexes, vs the
  single UPDATE one would write by hand with the indexes in place.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from common import generate, report, run, spec_from_env, timed

from ipai_ops.clone import clone_database
from ipai_ops.connection import client_env, connect, connection
from ipai_ops.filestore import copy_tree
from ipai_ops.guards import drop_database
from ipai_ops.mask import MaskRule, mask_database
from ipai_ops.pgtools import find_client

MASK_RULES = [
    MaskRule("res_partner", "name", "name"),
    MaskRule("res_partner", "email", "email"),
    MaskRule("res_partner", "phone", "phone"),
    MaskRule("res_partner", "street", "null"),
]
EXTRA_INDEXES = [
    "email",
    "phone",
    "street",
    "city",
    "create_date",
    "write_date",
    "active",
    "lower(email)",
    "lower(name)",
    "name, city",
    "email, active",
]
NAIVE_UPDATE = """
UPDATE res_partner SET name = 'Person ' || upper(left(md5('k' || name), 8)),
    email = 'u' || left(md5('k' || email), 16) || '@example.invalid',
    phone = '+1 555 ' || lpad(mod(('x' || left(md5('k' || phone), 7))::bit(28)::int,
                                  10000000)::text, 7, '0'),
    street = NULL
"""
DATABASES = (
    "bench_src",
    "bench_ours",
    "bench_hand",
    "bench_pipe",
    "bench_tpl",
    "bench_odoo",
    "bench_mask_ours",
    "bench_mask_naive",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-mb", type=int, default=1024)
    parser.add_argument("--fs-mb", type=int, default=1024)
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--partners", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    spec = spec_from_env()
    work = Path(tempfile.mkdtemp(prefix="ipai-bench-clone-", dir=args.workdir))
    admin = connect(spec.for_database("postgres"))
    try:
        bench(spec, admin, work, args)
    finally:
        for name in DATABASES:
            drop_database(admin, name)
        admin.close()
        shutil.rmtree(work, ignore_errors=True)


def sql(spec, database: str, statement: str) -> None:
    with connection(spec.for_database(database)) as conn, conn.cursor() as cur:
        cur.execute(statement)


def bench(spec, admin, work: Path, args) -> None:
    filestore = work / "filestore" / "bench_src"
    print(f"generating ≈{args.db_mb} MiB of rows and {args.files} files (≈{args.fs_mb} MiB)…")
    size = generate(
        spec, "bench_src", filestore, db_mb=args.db_mb, fs_mb=args.fs_mb, files=args.files
    )
    major = int(str(admin.server_version)[:-4])
    pg_dump, pg_restore = find_client("pg_dump", major), find_client("pg_restore", major)
    env = client_env(spec)
    t: dict[str, float] = {}
    holder = connect(spec.for_database("bench_src"))  # production is in use during the clone
    holder.cursor().execute("SELECT 1")
    with timed(t, "ours_online"):
        clone_database(spec, "bench_src", "bench_ours", jobs=2)
    holder.cursor().execute("SELECT count(*) FROM res_partner")  # still works
    holder.close()
    with admin.cursor() as cur:
        cur.execute("CREATE DATABASE bench_hand")
        cur.execute("CREATE DATABASE bench_pipe")
    with timed(t, "hand"):
        run(
            [pg_dump, "-Fd", "-j", "2", "-Z", "0", f"--file={work / 'hand'}", "--dbname=bench_src"],
            env,
        )
        run([pg_restore, "-j", "2", "--no-owner", "--dbname=bench_hand", str(work / "hand")], env)
    with timed(t, "pipe"):
        dump = subprocess.Popen(
            [pg_dump, "-Fc", "-Z", "0", "--dbname=bench_src"], env=env, stdout=subprocess.PIPE
        )
        subprocess.run(
            [pg_restore, "--no-owner", "--dbname=bench_pipe"],
            env=env,
            stdin=dump.stdout,
            check=True,
        )
        dump.wait()
    with timed(t, "ours_template"):
        clone_database(
            spec,
            "bench_src",
            "bench_tpl",
            method="template",
            source_filestore=filestore,
            target_filestore=work / "fs_tpl",
        )
    with timed(t, "odoo_duplicate"):
        with admin.cursor() as cur:
            cur.execute('CREATE DATABASE "bench_odoo" ENCODING \'unicode\' TEMPLATE "bench_src"')
        shutil.copytree(filestore, work / "fs_odoo")
    with timed(t, "copy"):
        copy_tree(filestore, work / "fs_own")
    with timed(t, "copytree"):
        shutil.copytree(filestore, work / "fs_copy")
    rows = mask_bench(spec, admin, args.partners, t)
    report(
        f"clone benchmark: {size / 1024**2:.0f} MiB database, {args.files} files; "
        f"masking {rows} partners",
        [
            (
                "online clone (s) vs dump -Fd -j2 + restore -j2",
                t["ours_online"],
                t["hand"],
                "<= 1.2",
            ),
            ("online clone (s) vs pg_dump | pg_restore", t["ours_online"], t["pipe"], "-"),
            (
                "template clone (s) vs Odoo's duplicate",
                t["ours_template"],
                t["odoo_duplicate"],
                "<= 1.2",
            ),
            ("filestore: own copy (s) vs copytree", t["copy"], t["copytree"], "<= 1.0"),
            (
                "masking (rows/s) vs hand UPDATE with indexes",
                rows / t["mask_ours"],
                rows / t["mask_naive"],
                ">= 50000 rows/s",
            ),
        ],
    )


def mask_bench(spec, admin, partners: int, t: dict) -> int:
    """Two identical partner tables with Odoo-like indexes, masked ours vs by hand."""
    for name in ("bench_mask_ours", "bench_mask_naive"):
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name}")
        sql(
            spec,
            name,
            f"""
            CREATE TABLE res_partner AS
            SELECT i AS id, 'Partner ' || i AS name, 'partner' || i || '@customer.example' AS email,
                   '+1 555 ' || lpad(i::text, 7, '0') AS phone, i || ' Main Street' AS street,
                   'City ' || (i % 97) AS city, now() AS create_date, now() AS write_date,
                   true AS active
              FROM generate_series(1, {partners}) AS i;
            ALTER TABLE res_partner ADD PRIMARY KEY (id);
            CREATE INDEX ON res_partner (name);
        """
            + "".join(f"CREATE INDEX ON res_partner ({c});" for c in EXTRA_INDEXES),
        )
        sql(spec, name, "VACUUM ANALYZE res_partner")
    with timed(t, "mask_ours"):
        mask_database(spec, "bench_mask_ours", MASK_RULES)
    with timed(t, "mask_naive"):
        sql(spec, "bench_mask_naive", NAIVE_UPDATE)
    return partners


if __name__ == "__main__":
    main()
