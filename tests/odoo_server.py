"""A real Odoo 19 server for the tests that need one running as an administrator runs it:
``setup/serve.sh``, as ``make run`` starts it (multi-process, two cron workers executing
runs, Caddy in front), on ports of its own — driven over XML-RPC like any client.

Its database gets the addons and the tests' own ``tests/odoo_addons`` (test support,
never shipped). Odoo is found as ``make test`` finds it (``setup/common.sh``).
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
import xmlrpc.client
from pathlib import Path

import psycopg2
import requests
from psycopg2 import sql

ROOT = Path(__file__).resolve().parent.parent
STOP_GRACE = 15  # seconds supervise.sh gives Odoo after one SIGTERM
RPC_TIMEOUT = 60  # seconds for one call: a test measures its own, tighter bounds


def odoo_source() -> Path | None:
    """The configured Odoo 19 tree, as the test command sees it; None when there is none."""
    found = subprocess.run(
        ["bash", "-c", f"source {ROOT}/setup/common.sh && odoo_src"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    text = found.stdout.strip()
    return Path(text) if text else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Transport(xmlrpc.client.Transport):
    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def make_connection(self, host):
        connection = super().make_connection(host)
        connection.timeout = self.timeout
        return connection


class Client:
    """One user's XML-RPC session: ``client(model, method, *args, **kwargs)``."""

    def __init__(self, url: str, database: str, login: str, password: str,
                 timeout: float = RPC_TIMEOUT):  # fmt: skip
        self.url, self.timeout = url, timeout
        self.database, self.password = database, password
        common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common", transport=Transport(timeout))
        self.uid = common.authenticate(database, login, password, {})
        if not self.uid:
            raise PermissionError(f"{login} could not log in")

    def __call__(self, model: str, method: str, *args, **kwargs):
        # a proxy (one connection) per call: threads may share a client
        models = xmlrpc.client.ServerProxy(
            f"{self.url}/xmlrpc/2/object", transport=Transport(self.timeout), allow_none=True
        )
        return models.execute_kw(
            self.database, self.uid, self.password, model, method, list(args), kwargs
        )


class OdooServer:
    def __init__(self, src: Path, database: str, work: Path):
        self.src, self.database, self.work = src, database, work
        self.port, self.odoo_port, self.gevent_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = work / "odoo.log"
        self.process: subprocess.Popen | None = None

    def _argv(self, *options: str) -> list[str]:
        addons = [self.src / "addons", self.src / "odoo" / "addons", ROOT / "addons",
                  ROOT / "tests" / "odoo_addons"]  # fmt: skip
        return [
            sys.executable, str(self.src / "odoo-bin"),
            f"--addons-path={','.join(map(str, addons))}",
            f"--data-dir={self.work / 'data'}",
            f"--database={self.database}", f"--db-filter=^{self.database}$",
            f"--db_host={os.environ.get('PGHOST', '')}",
            f"--db_port={os.environ.get('PGPORT', '5432')}",
            f"--db_user={os.environ.get('PGUSER', '')}",
            "--http-interface=127.0.0.1", *options,
        ]  # fmt: skip

    def install(self, modules: str) -> None:
        """A fresh database with ``modules`` installed (the password stays in PGPASSWORD)."""
        drop_database(self.database)
        with self.log.open("a") as log:
            subprocess.run(
                self._argv(f"--init={modules}", "--stop-after-init", "--log-level=warn",
                           f"--http-port={self.odoo_port}"),
                stdout=log, stderr=subprocess.STDOUT, check=True, timeout=900,
            )  # fmt: skip

    def start(self, *options: str) -> None:
        ports = {"IPAI_OPS_HTTP_PORT": self.port, "IPAI_OPS_ODOO_PORT": self.odoo_port,
                 "IPAI_OPS_GEVENT_PORT": self.gevent_port}  # fmt: skip
        environ = {**os.environ, **{name: str(port) for name, port in ports.items()},
                   "IPAI_OPS_FRONT_DIR": str(self.work / "front"),
                   "IPAI_OPS_STOP_GRACE": str(STOP_GRACE)}  # fmt: skip
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                ["bash", str(ROOT / "setup" / "serve.sh"), *self._argv(*options)],
                stdout=log, stderr=subprocess.STDOUT, env=environ,
            )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Odoo exited:\n{self.tail()}")
            try:
                # ready when the workers (through the front) and the evented server answer
                if all(
                    requests.get(f"{url}/web/health", timeout=2).ok
                    for url in (self.url, f"http://127.0.0.1:{self.gevent_port}")
                ):
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"Odoo did not answer within 120 s:\n{self.tail()}")

    def stop(self) -> float:
        """One SIGTERM; the seconds until the server was gone."""
        started = time.monotonic()
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=STOP_GRACE + 30)
        return time.monotonic() - started

    def client(self, login: str, password: str, **kwargs) -> Client:
        return Client(self.url, self.database, login, password, **kwargs)

    def tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def websocket_handshake(url: str, timeout: float = 10) -> str:
    """The status line the web client's bus gets when it opens ``url``/websocket."""
    host, port = url.removeprefix("http://").split(":")
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /websocket?version=1 HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Key: {key}\r\nOrigin: {url}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request.encode())
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n", 1)[0].decode(errors="replace")


def drop_database(name: str) -> None:
    conn = psycopg2.connect(dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    conn.close()
