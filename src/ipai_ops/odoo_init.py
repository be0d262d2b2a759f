"""The ``init`` operation: a brand-new Odoo database, built by the environment's own code.

For development environments started from scratch rather than from a copy: an
empty database is created under a scratch name, ``odoo-bin -i <modules>`` of the
environment's Odoo initializes it (found beside the ``odoo/addons`` entry of its
addons path), and only then does it get its name.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .connection import ServerSpec, client_env, connection
from .errors import DatabaseExists, OpsError
from .guards import drop_database
from .identifiers import database_exists, validate_database_name
from .mask import odoo_password_hash
from .pgtools import STDERR_TAIL, dies_with_us
from .restore import _create_like, _rename, scratch_name
from .scratch import give_to, open_to_all, owner_tag, sweep

INIT_TIMEOUT = 1800  # seconds odoo-bin may take to install the modules


def find_odoo_bin(addons_paths: list[str]) -> Path:
    """The ``odoo-bin`` of the code whose ``odoo/addons`` is in the addons path."""
    for path in addons_paths:
        folder = Path(path).resolve()
        if folder.name == "addons" and folder.parent.name == "odoo":
            candidate = folder.parent.parent / "odoo-bin"
            if candidate.is_file():
                return candidate
    raise OpsError(
        "No odoo-bin beside the addons path (expected an entry ending in odoo/addons of an "
        f"Odoo source tree): {', '.join(addons_paths) or 'empty'}."
    )


def init_database(
    spec: ServerSpec,
    database: str,
    *,
    addons_paths: list[str],
    modules: list[str],
    data_dir: str,
    admin_password: str | None = None,
    python: str = sys.executable,
    as_role: ServerSpec | None = None,
) -> list[str]:
    """Create ``database`` with ``modules`` installed; return the modules now installed.

    :param as_role: the login of the role the database is for: Odoo, running code from the
        addons path, logs in as it (the database belongs to it), not as ``spec``'s role
    """
    validate_database_name(database)
    odoo_bin = find_odoo_bin(addons_paths)
    scratch = scratch_name(database, "init")
    with connection(spec.for_database("postgres"), application_name=owner_tag(scratch)) as conn:
        sweep(conn)
        if database_exists(conn, database):
            raise DatabaseExists(f"Database {database!r} already exists.")
        try:
            _create_like(conn, scratch, {"encoding": "UTF8"})
            if as_role is not None:
                give_to(conn, scratch, as_role.user)  # still closed to everyone else
            _run_odoo(python, odoo_bin, as_role or spec, scratch, addons_paths, modules, data_dir)
            with connection(spec.for_database(scratch)) as db, db.cursor() as cur:
                if admin_password is not None:
                    cur.execute(
                        "UPDATE res_users SET password = %s WHERE id = 2",
                        (odoo_password_hash(admin_password),),
                    )
                cur.execute("SELECT name FROM ir_module_module WHERE state = 'installed'")
                installed = sorted(row[0] for row in cur.fetchall())
            open_to_all(conn, scratch)
            _rename(conn, scratch, database)
        except BaseException:
            drop_database(conn, scratch)
            raise
    _move_filestore(data_dir, scratch, database)
    return installed


def _run_odoo(python, odoo_bin, spec, database, addons_paths, modules, data_dir) -> None:  # noqa: PLR0917
    env = client_env(spec)
    args = [
        python, str(odoo_bin), f"--addons-path={','.join(addons_paths)}",
        f"--data-dir={data_dir}", f"--database={database}", f"--init={','.join(modules)}",
        "--stop-after-init", "--no-http", "--max-cron-threads=0", "--log-level=warn",
    ]  # fmt: skip
    if spec.host:
        args.append(f"--db_host={spec.host}")
    if spec.port:
        args.append(f"--db_port={spec.port}")
    if spec.user:
        args.append(f"--db_user={spec.user}")
    # the password reaches Odoo through PGPASSWORD (libpq), never the argument list
    done = subprocess.run(  # noqa: S603 - argument list
        dies_with_us(args),
        env=env,
        capture_output=True,
        text=True,
        timeout=INIT_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise OpsError(f"odoo-bin could not initialize the database: {done.stderr[-STDERR_TAIL:]}")


def _move_filestore(data_dir: str, scratch: str, database: str) -> None:
    """Odoo wrote attachments under the scratch name; give them the database's."""
    root = Path(data_dir) / "filestore"
    if (root / scratch).is_dir() and not (root / database).exists():
        os.rename(root / scratch, root / database)
