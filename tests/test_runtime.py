"""Odoo instances under a real Docker engine (setup/docker_engine.sh) and real PostgreSQL.

`make test` starts the engine and exports IPAI_OPS_DOCKER_HOST; run alone, these tests
start an engine of their own in a temporary directory. Either way the stand-in images
come from setup/docker_images.sh (built once, then loaded from the per-user cache).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import io
import os
import shutil
import smtplib
import socket
import subprocess
import tarfile
import tempfile
import textwrap
import threading
import time
from email.message import EmailMessage
from pathlib import Path

import docker.errors
import pytest
import requests
from psycopg2 import sql

from ipai_ops import mail_catcher
from ipai_ops.connection import ServerSpec, connect
from ipai_ops.errors import (
    EngineUnreachable,
    ImageBuildFailed,
    InstanceFailed,
    InstanceNotFound,
    InvalidName,
    PortInUse,
    RuntimeHostError,
)
from ipai_ops.runtime import catcher, config, engine, front, image, instance, upgrade_code
from ipai_ops.runtime.container_files import give_directory, put_files

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "rt"
PROBE_MANIFEST = "{'name': 'Runtime probe', 'version': '19.0.1.0.0', 'license': 'LGPL-3'}\n"

# docker_host, the engine with the stand-in images, is tests/conftest.py's


@pytest.fixture(scope="session")
def client(docker_host):
    yield (client := engine.connect(docker_host))
    for container in client.containers.list(
        all=True, filters=engine.managed_filters({engine.PROJECT: PROJECT})
    ):
        container.remove(force=True)
    for volume in client.volumes.list(filters={"label": f"{engine.PROJECT}={PROJECT}"}):
        volume.remove(force=True)
    if (router := front.find_router(client)) is not None:  # it still listens on our ports
        router.remove(force=True)
    client.close()


@pytest.fixture(scope="session")
def addons_dir(tmp_path_factory) -> Path:
    """An environment's code: one tiny module."""
    root = tmp_path_factory.mktemp("addons")
    (root / "runtime_probe").mkdir()
    (root / "runtime_probe" / "__manifest__.py").write_text(PROBE_MANIFEST)
    (root / "runtime_probe" / "__init__.py").write_text("")
    return root


@pytest.fixture(scope="session")
def odoo_database(spec):
    """A database name for the deployed instance, dropped at the end."""
    name = _create_database(spec, f"ipai_rt_{os.getpid()}")
    yield name
    _drop_database(spec, name)


def _create_database(spec, name: str) -> str:
    """An empty database for an instance to initialize: its password file names that
    database alone, so Odoo cannot make one itself from the maintenance database."""
    conn = connect(spec.for_database("postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conn.close()
    return name


def _drop_database(spec, name: str) -> None:
    conn = connect(spec.for_database("postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    conn.close()


def _spec(spec, addons_dir, db_name, environment="dev", **kwargs) -> instance.InstanceSpec:
    return instance.InstanceSpec(
        project=PROJECT,
        environment=environment,
        base_image="odoo:19",
        addons_dirs=(addons_dir,),
        server=spec,
        db_name=db_name,
        **kwargs,
    )


@pytest.fixture(scope="session")
def deployed(client, spec, addons_dir, odoo_database, tmp_path_factory):
    """A development instance of a real Odoo database (base installed by a one-off run),
    its attachments in a directory of the host, as the environment's filestore path says."""
    filestore = tmp_path_factory.mktemp("filestore") / odoo_database
    dev = _spec(spec, addons_dir, odoo_database, filestore_dir=str(filestore))
    init_log = instance.run_once(client, dev, ["-i", "base"])
    assert "Modules loaded" in init_log, f"`odoo -i base` did not load modules:\n{init_log[-2000:]}"
    status = instance.deploy(client, dev)
    return dev, status


def test_conf_has_no_password_and_only_its_database():
    """odoo.conf: dbfilter anchored on the name, no database manager, no password."""
    settings = config.OdooSettings(
        db_host="127.0.0.1",
        db_port=5432,
        db_user="odoo",
        db_name="shop.prod",
        http_port=18069,
        addons_path="/mnt/extra-addons/0",
    )
    text = config.render_odoo_conf(settings)
    assert "dbfilter = ^shop\\.prod$" in text
    assert "list_db = False" in text
    assert "db_password = \n" in text
    assert "http_interface = 127.0.0.1" in text
    lines = [f"127.0.0.1:5432:{db}:odoo:p\\:w\\\\d" for db in (settings.db_name, "postgres")]
    assert config.render_pgpass(settings, "p:w\\d").splitlines() == lines, "no other database"


def test_names_that_docker_refuses_are_refused_first():
    """A project or environment name Docker cannot use is refused with the rule."""
    assert instance.container_name("shop", "prod.eu") == "ipai-ops-shop-prod.eu"
    with pytest.raises(InvalidName, match="cannot name a container"):
        instance.container_name("shop", "prod eu/1")


def test_unreachable_engine_is_named():
    """A socket where no engine listens is reported as such, not as a traceback."""
    with pytest.raises(EngineUnreachable, match="No Docker engine answers at unix:///nonexistent"):
        engine.connect("unix:///nonexistent/docker.sock", timeout=2)


def test_unchanged_tree_is_not_rebuilt(client, addons_dir, tmp_path):
    """Same addons, same tag, no build; a changed file gives a new tag."""
    first = image.environment_image(client, "odoo:19", [addons_dir])
    builds = []
    real_build = client.api.build
    client.api.build = lambda *a, **kw: builds.append(1) or real_build(*a, **kw)
    try:
        again = image.environment_image(client, "odoo:19", [addons_dir])
        changed = tmp_path / "addons"
        shutil.copytree(addons_dir, changed)
        (changed / "runtime_probe" / "__init__.py").write_text("# changed\n")
        other = image.environment_image(client, "odoo:19", [changed])
    finally:
        client.api.build = real_build
    assert again == first, "an unchanged addons tree got another tag"
    assert len(builds) == 1, f"expected one build (the changed tree), saw {len(builds)}"
    assert other != first
    client.images.remove(other)


def test_failed_build_quotes_its_log(client, tmp_path):
    """A requirements.txt pip cannot read fails the build with pip's own message."""
    (tmp_path / "requirements.txt").write_text("this is not a requirement ===\n")
    with pytest.raises(ImageBuildFailed, match=r"(?s)Building ipai-ops-env:\w+ failed:.*Invalid"):
        image.environment_image(client, "odoo:19", [tmp_path])


def test_deployed_instance_answers_health(deployed):
    """/web/health passes over HTTP on the instance's port, with a latency."""
    _, status = deployed
    assert status.state == "running"
    check = instance.health(status.http_port)
    assert check.ok, f"/web/health did not pass: {check.detail}"
    assert check.latency_ms is not None
    assert check.latency_ms < 5000


def test_logs_show_odoo_starting(client, deployed):
    """The instance's log has Odoo's startup lines, on its loopback backend port."""
    dev, status = deployed
    text = instance.logs(client, dev.project, dev.environment, tail=500)
    assert "Odoo version 19.0" in text, text[-2000:]
    # Odoo names the 127.0.0.1 interface "localhost" in this line
    started = f"HTTP service (werkzeug) running on localhost:{status.backend_port}"
    assert started in text, text[-2000:]


def test_password_is_in_no_command_environment_or_conf(client, spec, deployed):
    """docker inspect shows no password; the password file is 0400 and Odoo's user owns it."""
    dev, _ = deployed
    container = instance.find(client, dev.project, dev.environment)
    attrs = container.attrs
    shown = [
        *attrs.get("Args", []),
        *(attrs["Config"].get("Cmd") or []),
        *(attrs["Config"].get("Entrypoint") or []),
        *(attrs["Config"].get("Env") or []),
        attrs.get("Path", ""),
    ]
    assert spec.password
    assert not [item for item in shown if spec.password in item], shown
    stream, _ = container.get_archive(config.CONF_PATH)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        conf = tar.extractfile(tar.getmembers()[0]).read().decode()
    assert spec.password not in conf
    mode = container.exec_run(["stat", "-c", "%a %U", config.PGPASS_PATH]).output.decode()
    assert mode.split() == ["400", "odoo"], mode


def test_stop_then_start(client, deployed):
    """A stopped instance does not answer; started again, it is healthy on the same port."""
    dev, status = deployed
    stopped = instance.stop(client, dev)
    assert stopped.state == "exited"
    assert not instance.health(status.http_port, timeout=2).ok
    started = instance.start(client, dev)
    assert started.state == "running"
    assert started.http_port == status.http_port
    assert instance.health(status.http_port).ok


def test_port_in_use_is_refused_before_anything_changes(client, spec, addons_dir, deployed):
    """Deploying on a port another process holds fails and leaves the instance serving."""
    dev, status = deployed
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortInUse, match=f"Port {port}"):
            instance.deploy(client, _spec(spec, addons_dir, dev.db_name, http_port=port))
    assert instance.health(status.http_port).ok


def test_unlabelled_container_is_never_touched(client, spec, addons_dir):
    """A container named like an instance but without ipai-ops labels is left running."""
    name = instance.container_name(PROJECT, "handmade")
    stranger = client.containers.run(
        "local/bookworm", ["sleep", "300"], name=name, detach=True, network_mode="host", init=True
    )
    try:
        assert instance.find(client, PROJECT, "handmade") is None
        assert instance.status(client, PROJECT, "handmade").state == "missing"
        with pytest.raises(InstanceNotFound):
            instance.stop(client, _spec(spec, addons_dir, "x", environment="handmade"))
        instance.remove(client, PROJECT, "handmade")
        stranger.reload()
        assert stranger.status == "running", "ipai-ops touched a container it did not create"
    finally:
        stranger.remove(force=True)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(name)


def test_wrong_password_fails_the_deploy_with_odoos_reason(client, spec, addons_dir, odoo_database):
    """Odoo cannot log in to PostgreSQL: the deploy fails quoting PostgreSQL's refusal."""
    wrong = _spec(
        ServerSpec(host=spec.host, port=spec.port, user=spec.user, password="not-it"),
        addons_dir,
        odoo_database,
        environment="wrongpw",
    )
    try:
        with pytest.raises(InstanceFailed, match="password authentication failed"):
            instance.deploy(client, wrong)
    finally:
        instance.remove(client, PROJECT, "wrongpw", volume=True)
    assert instance.status(client, PROJECT, "wrongpw").state == "missing"


def test_restart_and_redeploy_keep_port_and_filestore(client, spec, addons_dir, deployed):
    """A restart and a redeploy serve again on the same port, with the same data volume."""
    dev, status = deployed
    container = instance.find(client, dev.project, dev.environment)
    container.exec_run(["sh", "-c", "echo kept > /var/lib/odoo/marker"])
    restarted = instance.restart(client, dev.project, dev.environment)
    assert restarted.http_port == status.http_port
    redeployed = instance.deploy(client, dev)
    assert redeployed.http_port == status.http_port
    assert redeployed.container_id != status.container_id, "a deploy replaces the container"
    marker = instance.find(client, dev.project, dev.environment).exec_run(
        ["cat", "/var/lib/odoo/marker"]
    )
    assert marker.output.decode().strip() == "kept", "the data volume did not survive"
    assert instance.health(redeployed.http_port).ok


def _call(session, port: int, model: str, method: str, *args):
    response = session.post(
        f"http://127.0.0.1:{port}/web/dataset/call_kw",
        json={"jsonrpc": "2.0", "params": {
            "model": model, "method": method, "args": list(args), "kwargs": {}}},
        timeout=30,
    )  # fmt: skip
    body = response.json()
    assert "error" not in body, body
    return body["result"]


def test_attachments_land_in_the_filestore_backups_read(client, deployed):
    """A file uploaded through the instance is written in the environment's filestore
    directory on the host (the one backups and copies read), and a redeploy serves it."""
    dev, status = deployed
    session = requests.Session()
    login = session.post(
        f"http://127.0.0.1:{status.http_port}/web/session/authenticate",
        json={"jsonrpc": "2.0", "params": {
            "db": dev.db_name, "login": "admin", "password": "admin"}},
        timeout=30,
    )  # fmt: skip
    assert login.json().get("result", {}).get("uid"), login.text[:500]
    content = f"uploaded through the instance {time.time()}".encode()
    datas = base64.b64encode(content).decode()
    [attachment] = _call(session, status.http_port, "ir.attachment", "create",
                         [{"name": "probe.txt", "datas": datas}])  # fmt: skip
    [record] = _call(session, status.http_port, "ir.attachment", "read", [attachment],
                     ["store_fname"])  # fmt: skip
    on_host = Path(dev.filestore_dir) / record["store_fname"]
    assert on_host.read_bytes() == content
    redeployed = instance.deploy(client, dev)
    [again] = _call(session, redeployed.http_port, "ir.attachment", "read", [attachment],
                    ["datas"])  # fmt: skip
    assert base64.b64decode(again["datas"]) == content


def test_missing_base_image_is_named(client, addons_dir):
    """A base image the host does not have is reported by name."""
    with pytest.raises(ImageBuildFailed, match="base image odoo:nope is not on this runtime host"):
        image.environment_image(client, "odoo:nope", [addons_dir])


def test_two_engines_are_two_hosts(client, deployed, tmp_path_factory):
    """A second engine (its own directory) is another host: instances are found per host."""
    dev, _ = deployed
    engine_dir = tmp_path_factory.mktemp("engine2")
    script = str(ROOT / "setup/docker_engine.sh")
    subprocess.run(["bash", script, "start", str(engine_dir)], check=True, capture_output=True)
    try:
        other = engine.connect(f"unix://{engine_dir}/docker.sock")
        assert other.info()["DockerRootDir"] != client.info()["DockerRootDir"]
        assert instance.find(other, dev.project, dev.environment) is None
        empty = io.BytesIO()
        tarfile.open(fileobj=empty, mode="w").close()
        other.api.import_image_from_data(empty.getvalue(), repository="local/empty")
        other.containers.create(
            "local/empty",
            ["none"],
            labels={
                engine.MANAGED: "1",
                engine.PROJECT: dev.project,
                engine.ENVIRONMENT: "elsewhere",
                engine.ROLE: "server",
                engine.HTTP_PORT: "1",
            },
        )
        assert instance.find(other, dev.project, "elsewhere") is not None
        assert instance.find(client, dev.project, "elsewhere") is None
        assert instance.find(client, dev.project, dev.environment) is not None
        other.close()
    finally:
        subprocess.run(["bash", script, "stop", str(engine_dir)], check=False)
        shutil.rmtree(engine_dir, ignore_errors=True)


def test_addons_requirements_are_installed_in_the_image(client, addons_dir, tmp_path):
    """An addons directory's requirements.txt is installed by pip at build time."""
    tree = tmp_path / "with_requirements"
    shutil.copytree(addons_dir, tree)
    # Debian's python3-polib is in the base image: pip resolves it without the network
    (tree / "requirements.txt").write_text("polib\n")
    tag = image.environment_image(client, "odoo:19", [tree])
    try:
        shown = client.containers.run(
            tag, ["pip3", "show", "polib"], entrypoint=[], network_mode="host", remove=True
        ).decode()
        assert "Name: polib" in shown
        history = "\n".join(step["CreatedBy"] for step in client.api.history(tag))
        assert "pip3 install" in history and "/mnt/extra-addons/0/requirements.txt" in history
    finally:
        client.images.remove(tag)


class Poller(threading.Thread):
    """A client polling an instance's URL the whole time, counting what failed."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port, self.stopping = port, threading.Event()
        self.ok, self.failures = 0, []

    def run(self):
        session = requests.Session()  # keep-alive, like a browser, and fresh connections
        while not self.stopping.is_set():
            for get in (session.get, requests.get):
                try:
                    answer = get(f"http://127.0.0.1:{self.port}/web/health", timeout=10)
                    answer.raise_for_status()
                    self.ok += 1
                except requests.RequestException as exc:
                    self.failures.append(repr(exc))
            time.sleep(0.05)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.join()


def test_rolling_restart_fails_no_request(client, deployed):
    """A client polling the URL through a rolling restart sees no failed request."""
    dev, _ = deployed
    before = instance.status(client, dev.project, dev.environment)
    with Poller(before.http_port) as poller:
        time.sleep(1)
        after = instance.rolling_restart(client, dev)
        time.sleep(1)
    assert not poller.failures, poller.failures[:5]
    assert poller.ok > 20, f"the client was not polling ({poller.ok} answers)"
    assert after.http_port == before.http_port, "the URL changed"
    assert after.container_id != before.container_id, "no new container"
    assert after.backend_port != before.backend_port
    assert len(instance._servers(client, dev.project, dev.environment)) == 1, "old one left"


def _module_tree(tmp_path: Path, name: str, version: str, data: str | None = None) -> Path:
    root = tmp_path / name
    module = root / "runtime_probe"
    module.mkdir(parents=True)
    manifest = f"{{'name': 'Runtime probe', 'version': '{version}', 'license': 'LGPL-3'"
    if data is not None:
        (module / "broken.xml").write_text(data)
        manifest += ", 'data': ['broken.xml']"
    (module / "__manifest__.py").write_text(manifest + "}\n")
    (module / "__init__.py").write_text("")
    return root


def _installed_version(spec, db_name: str) -> str | None:
    conn = connect(spec.for_database(db_name))
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT latest_version FROM ir_module_module WHERE name = 'runtime_probe'"
                " AND state = 'installed'"
            )
            row = cur.fetchone()
    finally:
        conn.close()
    return row[0] if row else None


def test_update_switches_only_once_the_update_succeeded(client, spec, deployed, tmp_path):
    """A failing -u leaves the old instance serving; a good one switches to the new code."""
    dev, _ = deployed
    good = dataclasses.replace(dev, addons_dirs=(_module_tree(tmp_path, "v1", "19.0.1.0.0"),))
    instance.run_once(client, good, ["-i", "runtime_probe"])
    serving = instance.deploy(client, good)
    broken = dataclasses.replace(
        dev, addons_dirs=(_module_tree(tmp_path, "v2", "19.0.2.0.0", "<odoo><record"),)
    )
    with Poller(serving.http_port) as poller, pytest.raises(InstanceFailed) as failed:
        instance.update_modules(client, broken, ["runtime_probe"])
    assert "broken.xml" in failed.value.log, failed.value.log[-2000:]
    assert not poller.failures, poller.failures[:5]
    still = instance.status(client, dev.project, dev.environment)
    assert still.container_id == serving.container_id, "a failed update replaced the instance"
    assert instance.health(still.http_port).ok
    assert _installed_version(spec, dev.db_name) == "19.0.1.0.0"
    fixed = dataclasses.replace(dev, addons_dirs=(_module_tree(tmp_path, "v3", "19.0.3.0.0"),))
    updated, log = instance.update_modules(client, fixed, ["runtime_probe"])
    assert "Modules loaded" in log
    assert updated.container_id != serving.container_id
    assert updated.http_port == serving.http_port
    assert _installed_version(spec, dev.db_name) == "19.0.3.0.0"
    assert instance.health(updated.http_port).ok


def test_router_made_again_routes_the_serving_instances(client, deployed):
    """A router removed by hand is made again with the routes of the running instances."""
    dev, _ = deployed
    serving = instance.status(client, dev.project, dev.environment)
    front.find_router(client).remove(force=True)
    assert not instance.health(serving.http_port, timeout=2).ok
    front.ensure_router(client, dev.base_image)
    assert front.routes(client)[serving.http_port] == serving.backend_port
    assert instance.health(serving.http_port).ok


def test_stopped_instance_gives_up_its_route(client, deployed):
    """Stopping closes the public port; the router no longer routes it."""
    dev, _ = deployed
    serving = instance.status(client, dev.project, dev.environment)
    instance.stop(client, dev)
    try:
        assert serving.http_port not in front.routes(client)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{serving.http_port}/web/health", timeout=2)
    finally:
        instance.start(client, dev)
    assert instance.health(serving.http_port).ok


TESTED_MODULE_TESTS = """
from odoo.tests import TransactionCase


class TestProbe(TransactionCase):
    def test_partner_demo_data_is_there(self):
        self.assertTrue(self.env.ref("base.res_partner_1", raise_if_not_found=False))

    def test_fails(self):
        self.assertEqual(1 + 1, 3, "arithmetic broke")
"""


def test_module_tests_run_with_demo_data_and_report_each_failure(client, spec, tmp_path):
    """A fresh database with demo data, the module installed and its tests run: one
    passes (demo data is there), one fails, and the report names it with its traceback.

    Running tests opens Odoo's HTTP port: it must be a free one, not the first of the
    range, which something else holds here."""
    root = _module_tree(tmp_path, "tested", "19.0.1.0.0")
    (root / "runtime_probe" / "tests").mkdir()
    (root / "runtime_probe" / "tests" / "__init__.py").write_text("from . import test_probe\n")
    (root / "runtime_probe" / "tests" / "test_probe.py").write_text(TESTED_MODULE_TESTS)
    database = _create_database(spec, f"ipai_rt_tests_{os.getpid()}")
    build = _spec(spec, root, database, environment="tested")
    holder = socket.socket()
    try:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with contextlib.suppress(OSError):  # already held: by an instance of another test
            holder.bind(("0.0.0.0", build.port_range[0]))
            holder.listen()
        report, log = instance.run_tests(client, build, ["runtime_probe"])
    finally:
        holder.close()
        _drop_database(spec, database)
    assert (report.ran, report.failed, report.errors) == (2, 1, 0), log[-3000:]
    assert not report.passed
    [failure] = report.failures
    assert (failure.module, failure.test, failure.kind) == (
        "runtime_probe", "TestProbe.test_fails", "fail")  # fmt: skip
    assert "AssertionError: 2 != 3 : arithmetic broke" in failure.traceback


def test_a_module_that_cannot_install_is_no_test_result(client, spec, tmp_path):
    """An install that fails is an error with the log's end, not a test report."""
    root = _module_tree(tmp_path, "uninstallable", "19.0.1.0.0", data="<odoo><record")
    database = _create_database(spec, f"ipai_rt_noinstall_{os.getpid()}")
    build = _spec(spec, root, database, environment="noinstall")
    try:
        with pytest.raises(InstanceFailed, match="Installing runtime_probe failed") as failed:
            instance.run_tests(client, build, ["runtime_probe"], demo=False)
    finally:
        _drop_database(spec, database)
    assert "broken.xml" in failed.value.log


def test_the_hosts_mail_catcher_keeps_each_copys_mail_in_the_spool(client, tmp_path):
    """The catcher container listens on the host, files mail under the login in the
    spool the control plane reads, and is made again when its port changes."""
    spool, port = tmp_path / "spool", _free_tcp_port()
    made = catcher.ensure_catcher(client, "odoo:19", spool, port)
    try:
        assert catcher.ensure_catcher(client, "odoo:19", spool, port).id == made.id
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = (
            "a@acme.example",
            "jane@x.example",
            "Hi",
        )
        message.set_content("Dear Jane")
        with (
            smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp,
            pytest.raises(smtplib.SMTPAuthenticationError),  # a host's catcher is strict
        ):
            smtp.login("acme-staging-3", "")
        password = mail_catcher.grant_login(spool, "acme-staging-3")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.login("acme-staging-3", password)
            assert smtp.send_message(message) == {}
        [kept] = mail_catcher.caught(spool, "acme-staging-3")
        assert (kept.mail_to, kept.subject, kept.body.strip()) == (
            "jane@x.example",
            "Hi",
            "Dear Jane",
        )
        moved = catcher.ensure_catcher(client, "odoo:19", spool, _free_tcp_port())
        assert moved.id != made.id
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(made.id)
    finally:
        if (left := catcher.find_catcher(client)) is not None:
            left.remove(force=True)


def _free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("directory", ["/", "/var", "/var/lib", "relative/dir", "/srv/a/../.."])
def test_no_system_directory_is_ever_given_to_the_instances_user(directory):
    """A filestore or spool setting gone wrong never makes a root container chown the
    host's system directories: refused before the engine is asked anything."""
    with pytest.raises(RuntimeHostError, match="not a directory ipai-ops gives away"):
        give_directory(None, None, directory, "/mnt/x", labels={})


def test_odoo_upgrade_scripts_say_what_they_would_rewrite_and_rewrite_nothing(client, tmp_path):
    """Odoo 19's own upgrade_code scripts, run on the code baked in the environment's
    image: an old ``_sql_constraints`` would become ``models.Constraint``; code already
    up to date gives no diff; the code itself is left as it was."""
    root = _module_tree(tmp_path, "old", "19.0.1.0.0")
    model = (
        "from odoo import fields, models\n\n\nclass Shop(models.Model):\n    _name = 'x.shop'\n"
        "    code = fields.Char()\n"
        "    _sql_constraints = [('code_uniq', 'unique(code)', 'One shop per code')]\n"
    )
    (root / "runtime_probe" / "shop.py").write_text(model)
    tag = image.environment_image(client, "odoo:19", [root])
    [diff] = upgrade_code.upgrade_diffs(client, tag, {engine.PROJECT: PROJECT})
    assert diff.startswith("--- a/runtime_probe/shop.py\n+++ b/runtime_probe/shop.py")
    assert "+    _code_uniq = models.Constraint(" in diff
    assert "-    _sql_constraints" in diff
    assert (root / "runtime_probe" / "shop.py").read_text() == model

    fresh = _module_tree(tmp_path / "fresh", "fresh", "19.0.1.0.0")
    assert upgrade_code.upgrade_diffs(client, image.environment_image(client, "odoo:19", [fresh]),
                                      {engine.PROJECT: PROJECT}) == []  # fmt: skip


# --- a container of a branch's code, tried from inside as its code would -------------

FORK_UNTIL_REFUSED = """
import os, signal, time
children = []
try:
    for _ in range(4000):
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children.append(pid)
except OSError as exc:
    print("refused", exc.errno)
finally:
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    for pid in children:
        os.waitpid(pid, 0)
print("forked", len(children))
"""


def _serving(client, dev):
    return instance.find(client, dev.project, dev.environment)


def _exec(container, *command):
    result = container.exec_run(list(command), demux=False)
    return result.exit_code, result.output.decode(errors="replace")


def test_an_instance_has_no_capability_and_a_read_only_root(client, deployed):
    dev, _status = deployed
    container = _serving(client, dev)
    host = container.attrs["HostConfig"]
    assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd")
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert host["ReadonlyRootfs"] is True
    assert host["PidsLimit"] == instance.DEFAULT_PIDS
    raw = "import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)"
    code, out = _exec(container, "python3", "-c", raw)
    assert code != 0 and "Operation not permitted" in out, f"a raw socket was opened: {out}"
    code, out = _exec(container, "touch", "/usr/lib/python3/dist-packages/planted.py")
    assert code != 0 and "Read-only file system" in out
    code, out = _exec(container, "sh", "-c", "echo ok > /tmp/scratch && cat /tmp/scratch")
    assert (code, out.strip()) == (0, "ok"), "Odoo's temporary directory is writable"


def test_a_fork_bomb_stops_at_the_containers_limit(client, deployed):
    dev, status = deployed
    container = _serving(client, dev)
    code, out = _exec(container, "python3", "-c", FORK_UNTIL_REFUSED)
    assert code == 0, out
    assert "refused" in out, f"4000 processes were forked: {out}"
    assert int(out.split("forked")[-1]) < instance.DEFAULT_PIDS
    check = instance.health(status.http_port)
    assert check.ok, f"the instance did not survive its own fork bomb: {check.detail}"


# A requirement's build backend: what a setup.py does, run by pip at install time. It
# tries to plant files where only root may write, and records who it ran as.
BACKEND = textwrap.dedent(
    """
    import base64, hashlib, io, os, zipfile

    def _try(path):
        try:
            with open(path, "w") as handle:
                handle.write("planted")
            return "wrote " + path
        except OSError as exc:
            return "refused " + path

    def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
        tried = [_try("/etc/ipai-planted"), _try("/usr/bin/chown")]
        files = {
            "evilpkg.py": "RAN_AS = %d\\nTRIED = %r\\n" % (os.getuid(), tried),
            "evilpkg-1.0.dist-info/METADATA": (
                "Metadata-Version: 2.1\\nName: evilpkg\\nVersion: 1.0\\n"
            ),
            "evilpkg-1.0.dist-info/WHEEL": (
                "Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\n"
                "Tag: py3-none-any\\n"
            ),
        }
        name = "evilpkg-1.0-py3-none-any.whl"
        record = []
        with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as wheel:
            for path, text in files.items():
                data = text.encode()
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
                record.append("%s,sha256=%s,%d" % (path, digest.decode(), len(data)))
                wheel.writestr(path, data)
            record.append("evilpkg-1.0.dist-info/RECORD,,")
            wheel.writestr("evilpkg-1.0.dist-info/RECORD", "\\n".join(record) + "\\n")
        return name

    def get_requires_for_build_wheel(config_settings=None):
        return []
    """
)


def test_a_requirements_build_script_runs_without_root(client, addons_dir, tmp_path):
    """A requirement's build code (setup.py's moment) runs as Odoo's user: it can write
    neither /etc nor the image's chown, which later runs as root."""
    tree = tmp_path / "evil_requirements"
    shutil.copytree(addons_dir, tree)
    package = tree / "evilpkg"
    package.mkdir()
    (package / "backend.py").write_text(BACKEND)
    (package / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        '[project]\nname = "evilpkg"\nversion = "1.0"\n'
    )
    (tree / "requirements.txt").write_text(f"{image.ADDONS_ROOT}/0/evilpkg\n")
    tag = image.environment_image(client, "odoo:19", [tree])
    try:
        said = client.containers.run(
            tag, ["python3", "-c", "import evilpkg; print(evilpkg.RAN_AS, evilpkg.TRIED)"],
            entrypoint=[], network_mode="none", remove=True,
        ).decode()  # fmt: skip
        assert not said.startswith("0 "), f"the requirement was built as root: {said}"
        assert "wrote" not in said, said
        planted = client.containers.run(
            tag, ["sh", "-c", "test -e /etc/ipai-planted && echo planted; "
                              "grep -q planted /usr/bin/chown && echo chown; true"],
            entrypoint=[], network_mode="none", remove=True,
        ).decode()  # fmt: skip
        assert planted.strip() == "", f"the build left files where root writes: {planted}"
    finally:
        client.images.remove(tag, force=True)


def test_image_tags_are_whole_digests(client, addons_dir):
    tag = image.environment_image(client, "odoo:19", [addons_dir])
    assert len(tag.split(":")[1]) == 64, "a 64-bit prefix lets another tree take the tag"


def test_unused_environment_images_are_pruned_and_used_ones_kept(client, addons_dir, tmp_path):
    """Every push makes an image: those no container uses go, those in use stay."""
    used_tree, unused_tree = tmp_path / "used", tmp_path / "unused"
    for tree, text in ((used_tree, "# used\n"), (unused_tree, "# unused\n")):
        shutil.copytree(addons_dir, tree)
        (tree / "runtime_probe" / "__init__.py").write_text(text)
    used = image.environment_image(client, "odoo:19", [used_tree])
    unused = image.environment_image(client, "odoo:19", [unused_tree])
    holder = client.containers.create(
        used,
        ["true"],
        entrypoint=[],
        network_mode="none",
        labels={engine.MANAGED: "1", engine.PROJECT: PROJECT},
    )
    try:
        assert image.prune_unused(client, older_than="24h")[0] == 0, "young images are kept"
        time.sleep(2)  # the engine compares creation times to the second
        removed, _reclaimed = image.prune_unused(client, older_than="1s")
        assert removed >= 1
        tags = {tag for found in client.images.list() for tag in found.tags}
        assert used in tags and unused not in tags
        assert "odoo:19" in tags, "a base image is never an environment's"
    finally:
        holder.remove(force=True)
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(used, force=True)


@pytest.fixture(scope="module")
def remapped_client(docker_host):
    """A second engine with user-namespace remapping (``--userns-remap=default``, the
    recommended host setting), the stand-in images loaded into it."""
    # the remapped root must traverse the engine's directories: not pytest's (0700)
    engine_dir = Path(tempfile.mkdtemp(prefix="ipai-ops-remap-"))
    engine_dir.chmod(0o711)
    env = {**os.environ, "IPAI_OPS_DOCKERD_ARGS": "--userns-remap=default"}
    script = ROOT / "setup" / "docker_engine.sh"
    started = subprocess.run(["bash", str(script), "start", str(engine_dir)], env=env,
                             capture_output=True, text=True, check=False)  # fmt: skip
    assert started.returncode == 0, f"the remapped engine did not start: {started.stderr}"
    host = f"unix://{engine_dir}/docker.sock"
    try:
        subprocess.run(["bash", str(ROOT / "setup" / "docker_images.sh")],
                       env={**os.environ, "DOCKER_HOST": host}, check=True,
                       capture_output=True)  # fmt: skip
        client = engine.connect(host)
        yield client
        client.close()
    finally:
        subprocess.run(["bash", str(script), "stop", str(engine_dir)], check=False,
                       capture_output=True)  # fmt: skip
        shutil.rmtree(engine_dir, ignore_errors=True)


def test_under_user_namespaces_an_instance_s_root_is_nobody_on_the_host(remapped_client):
    """With --userns-remap an instance's processes are an unprivileged user of the host,
    and every setting ipai-ops gives instances (no capability, read-only root, its
    configuration volume, a process limit) holds there too. (Host networking, which these
    machines require, is not available under remapping: real hosts give instances a
    bridge network.)"""
    spec = instance.InstanceSpec(
        project=PROJECT, environment="remapped", base_image="odoo:19", addons_dirs=(),
        server=ServerSpec(host="127.0.0.1"), db_name="remapped",
    )  # fmt: skip
    container = remapped_client.containers.create(
        "odoo:19", entrypoint=["sh", "-c", "id -u; cat /etc/odoo/pgpass; sleep 3"],
        network_mode="none", init=True, labels={engine.MANAGED: "1", **spec.labels},
        **instance._limits(spec),
    )  # fmt: skip
    try:
        put_files(container, "odoo", {config.PGPASS_PATH: ("the-password\n", 0o400, True)},
                  into=config.CONF_DIR)  # fmt: skip
        container.start()
        time.sleep(1)
        host_uids = {int(row[1]) for row in container.top(ps_args="-o pid,uid")["Processes"]}
        container.wait(timeout=30)
        said = container.logs().decode().split()
    finally:
        container.remove(force=True, v=True)
    assert said == ["101", "the-password"], said
    assert host_uids and min(host_uids) >= 100000, f"host uids {host_uids}: not remapped"


# --- a Docker network of the host's (real deployments; these machines keep host networking)


def test_host_networking_is_the_default_and_a_named_network_publishes_on_loopback_only():
    assert (
        engine.network_settings("") == engine.network_settings("host") == {"network_mode": "host"}
    )
    assert engine.listens_on("host") == "127.0.0.1"
    own = engine.network_settings("ops-net", (18100, 18101))
    assert own == {
        "network": "ops-net",
        "ports": {"18100/tcp": ("127.0.0.1", 18100), "18101/tcp": ("127.0.0.1", 18101)},
    }
    assert engine.listens_on("ops-net") == "0.0.0.0"
    assert catcher.smtp_address(2525) == ("127.0.0.1", 2525)
    assert catcher.smtp_address(2525, "ops-net") == (catcher.CATCHER_NAME, 2525)


def test_a_network_the_engine_lacks_or_that_reaches_nothing_is_refused(client):
    assert engine.check_network(client, "") == "host"
    with pytest.raises(RuntimeHostError, match="does not exist on this runtime host"):
        engine.check_network(client, "ipai-ops-no-such-network")
    with pytest.raises(RuntimeHostError, match="cannot carry instances"):
        engine.check_network(client, "none")


def test_a_deploy_onto_a_missing_network_changes_nothing(client, spec, deployed):
    dev, _ = deployed
    before = instance.status(client, PROJECT, dev.environment)  # earlier tests redeployed
    moved = dataclasses.replace(
        dev, network="ipai-ops-no-such-network", server=dataclasses.replace(spec, host="db.example")
    )
    with pytest.raises(RuntimeHostError, match="does not exist on this runtime host"):
        instance.deploy(client, moved)
    after = instance.status(client, PROJECT, dev.environment)
    assert (after.container_id, after.http_port, after.state) == (
        before.container_id,
        before.http_port,
        "running",
    )
    assert requests.get(f"http://127.0.0.1:{after.http_port}/web/health", timeout=5).ok


def test_on_a_network_of_its_own_an_instance_may_not_name_postgres_by_loopback(client, deployed):
    dev, _ = deployed
    before = instance.status(client, PROJECT, dev.environment)
    for host in ("127.0.0.1", "localhost", "::1"):
        moved = dataclasses.replace(
            dev, network="ops-net", server=dataclasses.replace(dev.server, host=host)
        )
        with pytest.raises(RuntimeHostError, match="that is their own loopback"):
            instance.deploy(client, moved)
    assert instance.status(client, PROJECT, dev.environment).container_id == before.container_id


def test_the_mail_catcher_is_not_made_on_a_missing_network(client, tmp_path):
    with pytest.raises(RuntimeHostError, match="does not exist on this runtime host"):
        catcher.ensure_catcher(
            client, "odoo:19", tmp_path / "spool", _free_tcp_port(), network="ipai-ops-nowhere"
        )
    assert catcher.find_catcher(client) is None
