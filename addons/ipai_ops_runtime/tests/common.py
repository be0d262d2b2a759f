"""Runtime tests run a real Odoo in real containers on the Docker engine `make test`
starts (``IPAI_OPS_DOCKER_HOST``), from the stand-in ``odoo:19`` image loaded into it."""

import base64
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import requests

from odoo.tools import config

from odoo.addons.ipai_ops_core.tests.common import OpsCase, drop_database_now, maintenance_spec

from ipai_ops.connection import connection
from ipai_ops.instance_role import create_database
from ipai_ops.runtime import engine, instance

PROJECT_ROOT = Path(__file__).resolve().parents[3]
PORTS = (18201, 18299)  # away from the engine tests' range: their leftovers never collide
PROBE = "rt_probe"


def docker_host_or_skip(case) -> str:
    """The test engine's endpoint; a loud skip only where the test command said Docker
    cannot run here, a failure where it should have."""
    if why := os.environ.get("IPAI_OPS_RUNTIME_SKIP"):
        case.skipTest(f"!!!!! RUNTIME TESTS SKIPPED: {why} !!!!!")
    host = os.environ.get("IPAI_OPS_DOCKER_HOST")
    if not host:
        raise AssertionError(
            "No Docker engine for the runtime tests: run them through `make test`, which "
            "starts one (or set IPAI_OPS_DOCKER_HOST)."
        )
    return host


def write_probe(root: Path, version: str, data: str | None = None) -> None:
    """The environment's code: one module, ``rt_probe``, at ``version``."""
    module = root / PROBE
    shutil.rmtree(module, ignore_errors=True)
    module.mkdir(parents=True)
    manifest = f"{{'name': 'Runtime probe', 'version': '{version}', 'license': 'LGPL-3'"
    if data is not None:
        (module / "broken.xml").write_text(data)
        manifest += ", 'data': ['broken.xml']"
    (module / "__manifest__.py").write_text(manifest + "}\n")
    (module / "__init__.py").write_text("")


def remove_instances(client, project: str) -> None:
    for container in client.containers.list(
        all=True, filters=engine.managed_filters({engine.PROJECT: project})
    ):
        container.remove(force=True)
    for volume in client.volumes.list(filters={"label": f"{engine.PROJECT}={project}"}):
        volume.remove(force=True)


class RuntimeCase(OpsCase):
    """Project A's development environment placed on the test engine, with its own code
    (``rt_probe``), a real Odoo database made by a one-off container, and a storage
    target for its backups."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.docker_host = docker_host_or_skip(cls)
        cls.client = engine.connect(cls.docker_host)
        cls.addClassCleanup(cls.client.close)
        cls.host = cls.env["ipai.ops.runtime.host"].create(
            {"name": "Test engine", "endpoint": cls.docker_host,
             "port_low": PORTS[0], "port_high": PORTS[1]}
        )  # fmt: skip
        cls.code_dir = Path(tempfile.mkdtemp(prefix="ipai-ops-rt-code-"))
        cls.addClassCleanup(shutil.rmtree, cls.code_dir, ignore_errors=True)
        write_probe(cls.code_dir, "19.0.1.0.0")
        target_dir = tempfile.mkdtemp(prefix="ipai-ops-rt-target-")
        cls.addClassCleanup(shutil.rmtree, target_dir, ignore_errors=True)
        cls.target = cls.env["ipai.ops.backup.target"].create({"name": "RT", "path": target_dir})
        cls.dev = cls.envs_a["development"]
        cls.dev_db = f"{cls.env.cr.dbname[:40]}_rt_dev"
        cls.dev.write(
            {"database_name": cls.dev_db, "addons_path": str(cls.code_dir),
             "runtime_host_id": cls.host.id, "filestore_path": config.filestore(cls.dev_db)}
        )  # fmt: skip
        cls.addClassCleanup(shutil.rmtree, config.filestore(cls.dev_db), ignore_errors=True)
        cls.addClassCleanup(remove_instances, cls.client, cls.project_a.code)
        cls.addClassCleanup(drop_database_now, cls.dev_db)
        drop_database_now(cls.dev_db)
        spec = cls.dev._instance_spec()  # the environment's own role: it cannot create one
        create_database(maintenance_spec(), cls.dev_db, spec.server.user)
        instance.run_once(cls.client, spec, ["-i", f"base,{PROBE}"])

    def setUp(self):
        super().setUp()
        if not type(self)._registry_patched:  # an HttpCase has entered it already
            self.registry_enter_test_mode()  # runs open cursors of their own
        self.addCleanup(remove_instances, self.client, self.project_a.code)

    def installed_version(self) -> str | None:
        """The version of the probe module the development database says is installed."""
        with connection(maintenance_spec().for_database(self.dev_db)) as conn, conn.cursor() as cr:
            cr.execute("SELECT latest_version FROM ir_module_module WHERE name = %s", [PROBE])
            row = cr.fetchone()
        return row[0] if row else None


class InstanceUser:
    """A user of a deployed instance, over JSON-RPC as the web client calls it (by
    default the administrator of a database made by ``-i base``)."""

    def __init__(self, url: str, database: str, login: str = "admin", password: str = "admin"):
        self.url, self.session = url, requests.Session()
        answer = self.session.post(
            f"{url}/web/session/authenticate",
            json={"jsonrpc": "2.0", "params": {
                "db": database, "login": login, "password": password}},
            timeout=30,
        ).json()  # fmt: skip
        if not (answer.get("result") or {}).get("uid"):
            raise AssertionError(f"{login} cannot log in to {url}: {answer.get('error')}")

    def call(self, model: str, method: str, *args):
        response = self.session.post(
            f"{self.url}/web/dataset/call_kw",
            json={"jsonrpc": "2.0", "params": {
                "model": model, "method": method, "args": list(args), "kwargs": {}}},
            timeout=30,
        )  # fmt: skip
        body = response.json()
        if "error" in body:
            raise AssertionError(f"{model}.{method}: {body['error']}")
        return body.get("result")  # a method that returns nothing answers no result

    def upload(self, content: bytes) -> tuple[int, str]:
        """An attachment uploaded through the instance: its id and its file's name."""
        datas = base64.b64encode(content).decode()
        [attachment] = self.call("ir.attachment", "create", [{"name": "up.txt", "datas": datas}])
        [record] = self.call("ir.attachment", "read", [attachment], ["store_fname"])
        return attachment, record["store_fname"]

    def download(self, attachment: int) -> bytes | None:
        records = self.call("ir.attachment", "read", [attachment], ["datas"])
        return base64.b64decode(records[0]["datas"]) if records and records[0]["datas"] else None


def start_second_engine(case) -> str:
    """Another runtime host: a second Docker engine of its own (own socket, own data), with
    the stand-in images loaded from the cache. Stopped with the test class."""
    engine_dir = tempfile.mkdtemp(prefix="ipai-ops-rt-host2-", dir="/tmp")
    script = str(PROJECT_ROOT / "setup" / "docker_engine.sh")
    case.addClassCleanup(shutil.rmtree, engine_dir, ignore_errors=True)
    case.addClassCleanup(subprocess.run, ["bash", script, "stop", engine_dir], check=False)
    subprocess.run(["bash", script, "start", engine_dir], check=True, capture_output=True)
    endpoint = f"unix://{engine_dir}/docker.sock"
    subprocess.run(
        ["bash", str(PROJECT_ROOT / "setup" / "docker_images.sh")],
        env={**os.environ, "DOCKER_HOST": endpoint},
        check=True,
        capture_output=True,
    )
    return endpoint
