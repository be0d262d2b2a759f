"""Shared pieces of the benchmarks: timing, the generated Odoo-like data set, baselines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the Odoo-like data generator lives with the tests

from odoo_like import create_database, populate, write_filestore  # noqa: E402

from ipai_ops.connection import ServerSpec, connect  # noqa: E402
from ipai_ops.guards import drop_database  # noqa: E402


@contextmanager
def timed(results: dict, key: str):
    started = time.perf_counter()
    yield
    results[key] = time.perf_counter() - started


def spec_from_env() -> ServerSpec:
    if not os.environ.get("PGHOST"):
        sys.exit(
            "benchmarks need a PostgreSQL server in PG* variables (run them with `make bench`)"
        )
    return ServerSpec(
        host=os.environ["PGHOST"],
        port=int(os.environ.get("PGPORT", "5432")),
        user=os.environ.get("PGUSER"),
        password=os.environ.get("PGPASSWORD"),
    )


def generate(spec: ServerSpec, name: str, filestore: Path, *, db_mb: int, fs_mb: int, files: int):
    """An Odoo-like database of about ``db_mb`` MiB, a filestore of ``fs_mb`` MiB in ``files``."""
    admin = connect(spec.for_database("postgres"))
    drop_database(admin, name)
    admin.close()
    create_database(spec, name)
    # about 0.45 KiB per partner row with its indexes, 1.2 KiB per message
    partners = max(1000, db_mb * 1024 * 3 // 10 * 10 // 45)
    messages = max(1000, db_mb * 1024 * 7 // 10 * 10 // 12)
    populate(spec, name, partners=partners, messages=messages, body_bytes=1000)
    write_filestore(
        filestore, spec, name, files=files, size=fs_mb * 1024 * 1024 // files, seed=name
    )
    with connect(spec.for_database(name)).cursor() as cur:
        cur.execute("VACUUM ANALYZE")
        cur.execute("SELECT pg_database_size(current_database())")
        return cur.fetchone()[0]


def run(args: list[str], env: dict | None = None) -> None:
    subprocess.run(args, check=True, env=env, stdout=subprocess.DEVNULL)


def report(title: str, rows: list[tuple[str, float, float, str]]) -> None:
    """Print each figure beside its baseline and the ratio, and a JSON line for machines."""
    print(f"\n{title}")
    print(f"{'measure':<44}{'ipai-ops':>12}{'baseline':>12}{'ratio':>8}  target")
    for label, ours, base, target in rows:
        ratio = ours / base if base else float("nan")
        print(f"{label:<44}{ours:>12.2f}{base:>12.2f}{ratio:>8.2f}  {target}")
    print(json.dumps({"benchmark": title, "rows": rows}))
