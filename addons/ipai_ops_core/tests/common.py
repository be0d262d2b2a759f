import os
from contextlib import closing

from psycopg2 import sql

from odoo import sql_db
from odoo.modules.registry import Registry
from odoo.tests import TransactionCase, new_test_user
from odoo.tools import config

OPS_USER = "ipai_ops_core.group_ops_user"
OPS_ADMIN = "ipai_ops_core.group_ops_admin"


def server_values(**overrides) -> dict:
    """A database server record pointing at the PostgreSQL that runs these tests."""
    values = {
        "name": "Test cluster",
        "host": config["db_host"] or None,
        "port": int(config["db_port"] or 5432),
        "login": config["db_user"],
        "password": config["db_password"] or os.environ.get("PGPASSWORD") or False,
        "sslmode": "disable",
    }
    values.update(overrides)
    return values


def drop_database_now(database: str) -> None:
    """Drop a database a test created outside its transaction (a restore, a copy…)."""
    Registry.delete(database)
    sql_db.close_db(database)
    with closing(sql_db.db_connect("postgres").cursor()) as cr:
        cr._cnx.autocommit = True
        cr.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )


class OpsCase(TransactionCase):
    """Two projects, each with production, staging and development environments,
    and a user per role. Project A's production database is this test database
    itself: a real Odoo 19 database on the real test cluster."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = cls.env["ipai.ops.db.server"].create(server_values())
        cls.project_a = cls.env["ipai.ops.project"].create({"name": "Project A", "code": "a"})
        cls.project_b = cls.env["ipai.ops.project"].create({"name": "Project B", "code": "b"})
        cls.envs_a = cls._make_environments(cls.project_a, production_db=cls.env.cr.dbname)
        cls.envs_b = cls._make_environments(cls.project_b, production_db="b_prod")
        cls.ops_admin = new_test_user(cls.env, "ops_admin", groups=OPS_ADMIN)
        cls.outsider = new_test_user(cls.env, "ops_outsider", groups=OPS_USER)
        cls.internal = new_test_user(cls.env, "plain_internal", groups="base.group_user")
        cls.members_a = {
            role: cls._member(cls.project_a, f"a_{role}", role)
            for role in ("viewer", "developer", "tester", "admin")
        }
        cls.admin_b = cls._member(cls.project_b, "b_admin", "admin")

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
