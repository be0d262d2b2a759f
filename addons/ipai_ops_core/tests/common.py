import os
import shutil
from contextlib import closing
from pathlib import Path

from psycopg2 import sql

from odoo import SUPERUSER_ID, api, sql_db
from odoo.modules.registry import Registry
from odoo.tests import TransactionCase, new_test_user
from odoo.tools import config

from ipai_ops.clone import clone_database
from ipai_ops.connection import ServerSpec, connection
from ipai_ops.guards import drop_database
from ipai_ops.identifiers import database_exists

OPS_USER = "ipai_ops_core.group_ops_user"
OPS_ADMIN = "ipai_ops_core.group_ops_admin"
CUSTOMER_EMAIL = "jane.customer@customer.example"
CUSTOMER_PHONE = "+32 470 12 34 56"


def server_values(**overrides) -> dict:
    """A database server record pointing at the PostgreSQL that runs these tests."""
    values = {
        "name": "Test cluster",
        "host": config["db_host"] or None,
        "port": int(config["db_port"] or 5432),
        "login": config["db_user"],
        "password": config["db_password"] or os.environ.get("PGPASSWORD") or False,
        "sslmode": "disable",
        "filestore_root": str(Path(config.filestore("x")).parent),
    }
    values.update(overrides)
    return values


def maintenance_spec() -> ServerSpec:
    """The test cluster's maintenance database, as the engine connects to it."""
    values = server_values()
    return ServerSpec(
        host=values["host"], port=values["port"], user=values["login"],
        password=values["password"] or None, sslmode="disable", dbname="postgres",
    )  # fmt: skip


def production_database(test_dbname: str) -> tuple[str, dict]:
    """The production the tests operate on: a real Odoo 19 database with what a real one
    has (an active mail server, a queued mail, a customer, an attachment, active crons),
    made once per test run as a copy of the test database. Never the test database itself:
    the executor refuses to act on the control plane's own database.

    :return: its name, and the ids of the customer data in it
    """
    name = f"{test_dbname[:40]}_production"
    with connection(maintenance_spec()) as conn:
        if database_exists(conn, name):
            return name, _sample_ids(name)
    shutil.rmtree(config.filestore(name), ignore_errors=True)  # of an earlier, killed run
    sample = _commit_sample(test_dbname)
    try:
        clone_database(
            maintenance_spec(), test_dbname, name,
            source_filestore=config.filestore(test_dbname), target_filestore=config.filestore(name),
        )  # fmt: skip
    finally:
        _remove_sample(test_dbname, sample)
    with closing(sql_db.db_connect(name).cursor()) as cr:
        cr.execute(
            "UPDATE ir_config_parameter SET value = gen_random_uuid()::text"
            " WHERE key = 'database.uuid'"
        )
        cr.commit()  # pylint: disable=invalid-commit
    sql_db.close_db(name)
    return name, sample


def _commit_sample(dbname: str) -> dict:
    """pg_dump sees committed data only: commit what production must hold, then copy it."""
    with closing(sql_db.db_connect(dbname).cursor()) as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        server = env["ir.mail_server"].create(
            {"name": "Production SMTP", "smtp_host": "smtp.prod.example", "smtp_port": 587}
        )
        partner = env["res.partner"].create(
            {"name": "Jane Customer", "email": CUSTOMER_EMAIL, "phone": CUSTOMER_PHONE}
        )
        mail = env["mail.mail"].create(
            {"email_to": CUSTOMER_EMAIL, "subject": "Your invoice", "body_html": "<p>Hi</p>"}
        )
        attachment = env["ir.attachment"].create({"name": "contract.txt", "raw": b"signed"})
        cr.commit()  # pylint: disable=invalid-commit
        return {"server": server.id, "partner": partner.id, "mail": mail.id,
                "attachment": attachment.id}  # fmt: skip


def _remove_sample(dbname: str, sample: dict) -> None:
    with closing(sql_db.db_connect(dbname).cursor()) as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        env["mail.mail"].browse(sample["mail"]).unlink()
        env["ir.attachment"].browse(sample["attachment"]).unlink()
        env["res.partner"].browse(sample["partner"]).unlink()
        env["ir.mail_server"].browse(sample["server"]).unlink()
        cr.commit()  # pylint: disable=invalid-commit


def _sample_ids(name: str) -> dict:
    with closing(sql_db.db_connect(name).cursor()) as cr:
        cr.execute(
            "SELECT (SELECT max(id) FROM ir_mail_server WHERE smtp_host = 'smtp.prod.example'),"
            " (SELECT max(id) FROM res_partner WHERE email = %s),"
            " (SELECT max(id) FROM mail_mail WHERE email_to = %s),"
            " (SELECT max(id) FROM ir_attachment WHERE name = 'contract.txt')",
            [CUSTOMER_EMAIL, CUSTOMER_EMAIL],
        )
        server, partner, mail, attachment = cr.fetchone()
    sql_db.close_db(name)
    return {"server": server, "partner": partner, "mail": mail, "attachment": attachment}


def process_runs(env) -> None:
    """Run the executor once, as its cron would, over what the test queued."""
    env.flush_all()
    env["ipai.ops.run"]._cron_process_runs()
    env.invalidate_all()


def create_database_now(database: str) -> None:
    """An empty database, made outside the test's transaction (gone with
    :func:`drop_database_now`); one left by an interrupted run is replaced."""
    drop_database_now(database)
    with connection(maintenance_spec()) as conn, conn.cursor() as cr:
        cr.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def drop_database_now(database: str) -> None:
    """Drop a database a test created outside its transaction (a restore, a copy…)."""
    Registry.delete(database)
    sql_db.close_db(database)
    with connection(maintenance_spec()) as conn:
        drop_database(conn, database, allow_production=True)


class OpsCase(TransactionCase):
    """Two projects, each with production, staging and development environments,
    and a user per role. Project A's production database is a real Odoo 19 database
    on the real test cluster (see :func:`production_database`)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.production_db, cls.committed = production_database(cls.env.cr.dbname)
        cls.server = cls.env["ipai.ops.db.server"].create(server_values())
        cls.project_a = cls.env["ipai.ops.project"].create({"name": "Project A", "code": "a"})
        cls.project_b = cls.env["ipai.ops.project"].create({"name": "Project B", "code": "b"})
        cls.envs_a = cls._make_environments(cls.project_a, production_db=cls.production_db)
        cls.envs_b = cls._make_environments(cls.project_b, production_db="b_prod")
        cls.ops_admin = new_test_user(cls.env, "ops_admin", groups=OPS_ADMIN)
        cls.outsider = new_test_user(cls.env, "ops_outsider", groups=OPS_USER)
        cls.internal = new_test_user(cls.env, "plain_internal", groups="base.group_user")
        cls.members_a = {
            role: cls._member(cls.project_a, f"a_{role}", role)
            for role in ("viewer", "developer", "tester", "admin")
        }
        cls.admin_b = cls._member(cls.project_b, "b_admin", "admin")

    def process_runs(self) -> None:
        process_runs(self.env)

    @classmethod
    def _make_environments(cls, project, production_db):
        code = project.code
        environments = {}
        for stage, database in (
            ("production", production_db),
            ("staging", f"{code}_staging"),
            ("development", f"{code}_dev"),
        ):
            environments[stage] = cls.env["ipai.ops.environment"].create(
                {
                    "name": f"{project.name} {stage}",
                    "project_id": project.id,
                    "stage": stage,
                    "server_id": cls.server.id,
                    "database_name": database,
                }
            )
        return environments

    @classmethod
    def _member(cls, project, login, role):
        user = new_test_user(cls.env, login, groups=OPS_USER)
        cls.env["ipai.ops.project.member"].create(
            {"project_id": project.id, "user_id": user.id, "role": role}
        )
        return user
