"""The generated ``odoo.conf`` of an instance, and how its database password reaches Odoo.

Odoo 19 takes ``db_password`` from its command line, from ``PGPASSWORD`` (its config
parser maps that variable onto the option) or from ``odoo.conf``. All three leak: the
command line and the environment are shown by ``docker inspect`` to anyone who may list
containers, and ``odoo.conf`` is a world-readable file Odoo's own database manager may
rewrite. So ``db_password`` stays empty: Odoo then hands psycopg2 no password and libpq
reads it from the file named by ``PGPASSFILE`` — a ``.pgpass`` line placed in the
container with mode 0400, owned by the user Odoo runs as (libpq ignores a password file
that others can read).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..identifiers import validate_database_name

CONF_DIR = "/etc/odoo"  # a volume of the container's own: its root file system is read-only
CONF_PATH = f"{CONF_DIR}/odoo.conf"
PGPASS_PATH = f"{CONF_DIR}/pgpass"
DATA_DIR = "/var/lib/odoo"  # a named volume: sessions (and attachments without a filestore dir)
LIMIT_TIME_REAL = 120  # seconds per request, Odoo's default
LIMIT_TIME_CPU = 60  # seconds per request, Odoo's default


@dataclass(frozen=True)
class OdooSettings:
    """What an instance's ``odoo.conf`` says; the password is not part of it."""

    db_host: str
    db_port: int
    db_user: str
    db_name: str
    http_port: int
    addons_path: str
    gevent_port: int | None = None  # the websocket port when workers > 0
    workers: int = 0  # 0: threaded server (development); > 0: prefork workers
    max_cron_threads: int = 1
    limit_time_real: int = LIMIT_TIME_REAL
    limit_time_cpu: int = LIMIT_TIME_CPU
    proxy_mode: bool = True
    http_interface: str = "127.0.0.1"


def render_odoo_conf(settings: OdooSettings) -> str:
    """The text of ``odoo.conf`` for ``settings``."""
    name = validate_database_name(settings.db_name)
    options = {
        "addons_path": settings.addons_path,
        "data_dir": DATA_DIR,
        "db_host": settings.db_host,
        "db_port": settings.db_port,
        "db_user": settings.db_user,
        "db_password": "",  # read by libpq from PGPASSFILE, see the module docstring
        "db_name": name,
        # only this database, whatever Host header arrives; no database manager
        "dbfilter": f"^{re.escape(name)}$",
        "list_db": False,
        "proxy_mode": settings.proxy_mode,
        "http_interface": settings.http_interface,
        "http_port": settings.http_port,
        "workers": settings.workers,
        "max_cron_threads": settings.max_cron_threads,
        "limit_time_real": settings.limit_time_real,
        "limit_time_cpu": settings.limit_time_cpu,
    }
    if settings.gevent_port:
        options["gevent_port"] = settings.gevent_port
    lines = ["[options]"] + [f"{key} = {value}" for key, value in options.items()]
    return "\n".join(lines) + "\n"


def _pgpass_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


MAINTENANCE_DATABASE = "postgres"  # Odoo opens it at every start, to see if its db exists


def render_pgpass(settings: OdooSettings, password: str) -> str:
    """``.pgpass`` lines giving ``password`` for the instance's server and role, in its
    own database and in the maintenance database Odoo looks its database up in — no
    other (the role it logs in as can reach nothing else anyway)."""
    lines = []
    for database in (settings.db_name, MAINTENANCE_DATABASE):
        fields = [settings.db_host, str(settings.db_port), database, settings.db_user, password]
        lines.append(":".join(_pgpass_field(field) for field in fields) + "\n")
    return "".join(lines)
