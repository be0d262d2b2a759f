"""docker-compose.yml, brought up with Compose v1 (`docker-compose`) under a real engine.

The engine and the stand-in images (odoo:19, postgres:16) come from the ``docker_host``
fixture (tests/conftest.py), as for the runtime tests. The stack gets a project name and
127.0.0.1 ports of its own, is used as a user would — log in over JSON-RPC, register its
PostgreSQL and a real Odoo database there, check it and back it up through the control
plane's own models, the runs executed by Odoo's cron threads — and is taken down with its
volumes whatever happens.
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import docker
import psycopg2
import pytest
import requests
from odoo_server import websocket_handshake

ROOT = Path(__file__).resolve().parent.parent
CONTROL_DB = "ipai_ops"  # docker-compose.yml's default
SHOP_DB = "shop"
BACKUPS = "/var/lib/ipai-ops/backups"  # the backups volume, in the control plane's container
FILESTORES = "/var/lib/odoo/filestore"  # Odoo's data directory there
FIRST_START_TIMEOUT = 900  # build, PostgreSQL's initdb and installing every addon
RUNS_TIMEOUT = 300
FINISHED = {"done", "failed", "cancelled"}


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _extra_ca_certs() -> str:
    """The local CA certificates this host trusts (Debian's place for them): a build
    behind a TLS-inspecting proxy needs them to reach the Python package index."""
    if os.environ.get("IPAI_OPS_EXTRA_CA_CERTS"):
        return os.environ["IPAI_OPS_EXTRA_CA_CERTS"]
    pems = sorted(glob.glob("/usr/local/share/ca-certificates/**/*.crt", recursive=True))
    return "".join(Path(pem).read_text() for pem in pems)


class Stack:
    """One `docker-compose -p NAME` project of the repository's docker-compose.yml."""

    def __init__(self, docker_host: str, compose: str, secrets_dir: Path):
        self.name = f"ipaiops{secrets.token_hex(4)}"
        self.odoo_port, self.pg_port, self.workers_port, self.gevent_port = _free_ports(4)
        self.pg_password = secrets.token_urlsafe(16)
        self.admin_password = secrets.token_urlsafe(16)
        # the secrets reach the containers as Docker secrets: files, named to Compose
        files = {}
        for name, value in (("postgres", self.pg_password), ("admin", self.admin_password)):
            files[name] = secrets_dir / f"{name}_password"
            files[name].write_text(f"{value}\n")
            files[name].chmod(0o644)  # the containers' users read it
        self.env = {
            **os.environ,
            "DOCKER_HOST": docker_host,
            "ODOO_PORT": str(self.odoo_port),
            "ODOO_HTTP_PORT": str(self.workers_port),
            "ODOO_GEVENT_PORT": str(self.gevent_port),
            "POSTGRES_PORT": str(self.pg_port),
            "POSTGRES_PASSWORD_FILE": str(files["postgres"]),
            "ADMIN_PASSWORD_FILE": str(files["admin"]),
            "IPAI_OPS_EXTRA_CA_CERTS": _extra_ca_certs(),
        }
        self.compose = [compose, "-p", self.name, "-f", str(ROOT / "docker-compose.yml")]
        self.url = f"http://127.0.0.1:{self.odoo_port}"

    def run(self, *args: str, timeout: float = 600, check: bool = True):
        done = subprocess.run(
            [*self.compose, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            pytest.fail(
                f"docker-compose {' '.join(args)} failed ({done.returncode}):\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}\n{self.logs()}",
                pytrace=False,
            )
        return done

    def exec_odoo(self, *command: str, timeout: float = 300):
        """A command in the running control plane's container, as its user (odoo)."""
        return self.run("exec", "-T", "odoo", *command, timeout=timeout)

    def logs(self) -> str:
        done = subprocess.run(
            [*self.compose, "logs", "--no-color", "--tail", "80"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return f"--- docker-compose logs (last lines) ---\n{done.stdout[-6000:]}"

    def _bus_opens(self) -> bool:
        try:
            return websocket_handshake(self.url).startswith("HTTP/1.1 101")
        except OSError:
            return False

    def wait_healthy(self, timeout: float):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                answer = requests.get(f"{self.url}/web/health", timeout=5)
                if answer.ok and answer.json().get("status") == "pass" and self._bus_opens():
                    return
            except requests.RequestException:
                pass
            time.sleep(2)
        pytest.fail(f"Odoo did not answer /web/health in {timeout} s\n{self.logs()}")


class Rpc:
    """The web client's JSON-RPC: a session cookie, then /web/dataset/call_kw."""

    def __init__(self, url: str):
        self.url, self.session = url, requests.Session()

    def call(self, path: str, params: dict):
        answer = self.session.post(
            f"{self.url}{path}",
            json={"jsonrpc": "2.0", "method": "call", "params": params, "id": 1},
            timeout=120,
        )
        answer.raise_for_status()
        body = answer.json()
        if "error" in body:
            data = body["error"].get("data", {})
            raise RpcError(data.get("message") or json.dumps(body["error"])[:2000])
        return body["result"]

    def login(self, login: str, password: str) -> int:
        info = self.call(
            "/web/session/authenticate", {"db": CONTROL_DB, "login": login, "password": password}
        )
        return info["uid"]

    def __call__(self, model: str, method: str, *args, **kwargs):
        return self.call(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
        )


class RpcError(Exception):
    pass


def _listeners(port: int) -> set[str]:
    """The local addresses of the TCP sockets listening on ``port`` (host networking:
    the containers' sockets are the host's)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table, encoding="ascii") as rows:
            next(rows)
            for row in rows:
                local, state = row.split()[1], row.split()[3]
                address, hex_port = local.rsplit(":", 1)
                if state == "0A" and int(hex_port, 16) == port:  # LISTEN
                    found.add(address)
    return found


LOOPBACK = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1


@pytest.fixture(scope="module")
def stack(docker_host, tmp_path_factory):
    compose = shutil.which("docker-compose")
    if not compose:  # setup/docker_engine.sh installs it with the engine
        pytest.fail("docker-compose (Compose v1) is not installed", pytrace=False)
    stack = Stack(docker_host, compose, tmp_path_factory.mktemp("secrets"))
    try:
        started = time.monotonic()
        stack.run("up", "-d", "--build", timeout=FIRST_START_TIMEOUT)
        stack.wait_healthy(FIRST_START_TIMEOUT - (time.monotonic() - started))
        yield stack
    finally:
        stack.run("down", "-v", "--remove-orphans", timeout=300, check=False)


def test_services_use_the_host_network_an_init_and_loopback_only(stack, docker_host):
    """Every service runs with host networking and an init; Compose made no network; the
    ports chosen are listened on at 127.0.0.1 only; a stuck Odoo is killed 20 s after
    the stop's SIGTERM."""
    client = docker.DockerClient(base_url=docker_host)
    project = {"label": f"com.docker.compose.project={stack.name}"}
    try:
        containers = client.containers.list(filters=project)
        services = {c.labels["com.docker.compose.service"] for c in containers}
        assert services == {"db", "odoo", "front"}
        for container in containers:
            assert container.attrs["HostConfig"]["NetworkMode"] == "host", container.name
            assert container.attrs["HostConfig"]["Init"] is True, container.name
        # Docker kills what one SIGTERM did not stop, after this grace: no hang outlives it
        [odoo] = [c for c in containers if c.labels["com.docker.compose.service"] == "odoo"]
        assert odoo.attrs["Config"].get("StopTimeout") == 20
        networks = client.networks.list(filters=project)
        assert not networks, f"Compose made networks: {[n.name for n in networks]}"
    finally:
        client.close()
    for port in (stack.odoo_port, stack.pg_port, stack.workers_port, stack.gevent_port):
        listening = _listeners(port)
        assert listening, f"nothing listens on port {port}"
        assert listening <= LOOPBACK, f"port {port} is open beyond loopback: {listening}"


def test_no_container_holds_a_password_in_its_environment(stack, docker_host):
    """The passwords are Docker secrets: in no container's environment (which
    /proc/PID/environ shows to whatever runs in it), nor in any process's."""
    client = docker.DockerClient(base_url=docker_host)
    project = {"label": f"com.docker.compose.project={stack.name}"}
    try:
        for container in client.containers.list(filters=project):
            environment = "\n".join(container.attrs["Config"]["Env"])
            for secret in (stack.pg_password, stack.admin_password):
                assert secret not in environment, f"{container.name} has it in its environment"
            if container.labels["com.docker.compose.service"] == "odoo":
                found = container.exec_run(
                    ["sh", "-c", "cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'"]
                ).output.decode(errors="replace")
                assert stack.pg_password not in found, "a process of Odoo's has it"
    finally:
        client.close()


def test_passwords_are_the_ones_given(stack):
    """PostgreSQL asks for its password over TCP (no initdb "trust" on the host's
    loopback) and refuses the demo default; Odoo's admin has the password given."""
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(
            host="127.0.0.1", port=stack.pg_port, user="odoo", password="odoo", dbname="postgres"
        )
    with pytest.raises(RpcError, match="Access Denied"):
        Rpc(stack.url).login("admin", "admin")
    assert Rpc(stack.url).login("admin", stack.admin_password)


def _register_production(stack, rpc) -> int:
    """The compose PostgreSQL as a database server (its pg_stat_statements ready), a
    storage target on the backups volume, and a project whose production environment is
    a real Odoo database there, with its filestore in Odoo's data directory."""
    stack.exec_odoo("odoo", "-d", SHOP_DB, "-i", "base", "--stop-after-init", "--no-http")
    # the password stays in the secret's file: a reference, not a value
    server = rpc(
        "ipai.ops.db.server",
        "create",
        {
            "name": "Compose PostgreSQL",
            "host": "127.0.0.1",
            "port": stack.pg_port,
            "login": "odoo",
            "password_ref": "file:/run/secrets/postgres_password",
            "sslmode": "disable",
            "filestore_root": FILESTORES,
        },
    )
    rpc("ipai.ops.db.server", "action_test_connection", [server])
    [probe] = rpc(
        "ipai.ops.db.server",
        "read",
        [server],
        ["probe_ok", "probe_report", "pgss_preloaded", "pgss_installed"],
    )
    assert probe["probe_ok"], probe["probe_report"]
    assert probe["pgss_preloaded"], probe["probe_report"]
    assert probe["pgss_installed"], probe["probe_report"]
    target = rpc("ipai.ops.backup.target", "create", {"name": "Compose backups", "path": BACKUPS})
    project = rpc("ipai.ops.project", "create", {"name": "Shop", "code": "shop"})
    return rpc(
        "ipai.ops.environment",
        "create",
        {
            "name": "Production",
            "project_id": project,
            "stage": "production",
            "server_id": server,
            "database_name": SHOP_DB,
            "filestore_path": f"{FILESTORES}/{SHOP_DB}",
            "backup_target_id": target,
        },
    )


def _finished_runs(stack, rpc, environment: int, kinds: list[str]) -> dict[str, dict]:
    domain = [("environment_id", "=", environment), ("kind", "in", kinds)]
    deadline = time.monotonic() + RUNS_TIMEOUT
    while True:
        runs = rpc("ipai.ops.run", "search_read", domain, ["kind", "state", "summary", "error"])
        if len(runs) == len(kinds) and all(run["state"] in FINISHED for run in runs):
            return {run["kind"]: run for run in runs}
        if time.monotonic() > deadline:
            pytest.fail(f"runs not finished in {RUNS_TIMEOUT} s: {runs}\n{stack.logs()}")
        time.sleep(1)


@pytest.fixture(scope="module")
def production(stack):
    """(an admin's JSON-RPC session, the production environment registered through it)"""
    rpc = Rpc(stack.url)
    rpc.login("admin", stack.admin_password)
    return rpc, _register_production(stack, rpc)


def test_check_and_backup_through_the_control_plane(stack, production):
    """Over JSON-RPC as admin: register the compose PostgreSQL and a production
    environment on it, press Check and Backup; Odoo's cron workers run both to done, and
    the backup set on the backups volume verifies byte for byte with its filestore."""
    rpc, environment = production
    rpc("ipai.ops.environment", "action_run_check", [environment])
    rpc("ipai.ops.environment", "action_backup_now", [environment])
    # the buttons only queue runs: the executor's crons run them
    runs = _finished_runs(stack, rpc, environment, ["check", "backup"])
    assert runs["check"]["state"] == "done", runs["check"]
    assert runs["backup"]["state"] == "done", runs["backup"]
    [checked] = rpc("ipai.ops.environment", "read", [environment], ["state", "odoo_version"])
    assert checked["state"] == "ready"
    assert checked["odoo_version"].startswith("19.0"), checked

    [backup] = rpc(
        "ipai.ops.backup",
        "search_read",
        [("environment_id", "=", environment)],
        ["state", "set_id"],
    )
    assert backup["state"] == "done", backup
    set_dir = f"{BACKUPS}/sets/{backup['set_id']}"
    stack.exec_odoo("test", "-s", f"{set_dir}/manifest.json")
    stack.exec_odoo("test", "-d", f"{set_dir}/dump")
    # the engine's CLI is in the image too
    verify = ["ipai-ops", "--json", "verify", backup["set_id"], "--target", BACKUPS, "--deep"]
    verified = json.loads(stack.exec_odoo(*verify).stdout)
    assert verified["ok"], verified
    assert verified["blobs_checked"] > 0, "the filestore was not backed up"


def test_a_run_queued_after_postgresql_restarts_completes_within_a_minute(stack, production):
    """`docker-compose restart db` under the running control plane; a check queued 20 s
    later is done within a minute, Odoo untouched: its master respawned the cron workers."""
    rpc, environment = production
    stack.run("restart", "db")
    deadline = time.monotonic() + 120
    while not _answers(stack):
        assert time.monotonic() < deadline, f"PostgreSQL did not come back\n{stack.logs()}"
        time.sleep(1)
    time.sleep(20)
    started = time.monotonic()
    rpc("ipai.ops.environment", "action_run_check", [environment])
    [run] = rpc("ipai.ops.run", "search_read",
                [("environment_id", "=", environment), ("kind", "=", "check")],
                ["id"], order="id desc", limit=1)  # fmt: skip
    while True:
        [found] = rpc("ipai.ops.run", "read", [run["id"]], ["state", "error"])
        if found["state"] in FINISHED:
            break
        assert time.monotonic() - started < 60, f"still {found['state']}\n{stack.logs()}"
        time.sleep(1)
    assert found["state"] == "done", found
    assert time.monotonic() - started < 60


def _answers(stack) -> bool:
    try:
        psycopg2.connect(host="127.0.0.1", port=stack.pg_port, user="odoo",
                         password=stack.pg_password, dbname="postgres").close()  # fmt: skip
    except psycopg2.OperationalError:
        return False
    return True


def test_the_web_client_s_bus_opens_through_the_front(stack):
    """The front sends /websocket to Odoo's evented server: the bus opens on ODOO_PORT."""
    assert websocket_handshake(stack.url).startswith("HTTP/1.1 101"), stack.logs()


def test_stop_is_quick_and_a_start_keeps_the_database(stack):
    """Stopping takes seconds (the init passes SIGTERM on, no kill timeout); started
    again, Odoo serves the same database without creating it anew."""
    started = time.monotonic()
    stack.run("stop", "odoo")
    assert time.monotonic() - started < 10, "stopping Odoo waited for the kill timeout"
    stack.run("start", "odoo")
    stack.wait_healthy(300)
    assert Rpc(stack.url).login("admin", stack.admin_password)
    log = stack.run("logs", "--no-color", "odoo").stdout
    assert log.count("creating the control-plane database") == 1, log[-3000:]
