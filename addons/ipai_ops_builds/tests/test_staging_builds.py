import socket

import psycopg2.errors
from psycopg2 import sql

from odoo.tests import tagged

from odoo.addons.ipai_ops_core.tests.common import drop_database_now, maintenance_spec
from odoo.addons.ipai_ops_runtime.tests.common import InstanceUser

from ipai_ops.connection import connection
from ipai_ops.identifiers import database_exists
from ipai_ops.runtime import catcher

from .test_production_builds import RunningBuildsCase, serves


def rows(database: str, query: str) -> list[tuple]:
    with connection(maintenance_spec().for_database(database)) as conn, conn.cursor() as cr:
        cr.execute(query)
        return cr.fetchall()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def remove_catcher(client) -> None:
    if (left := catcher.find_catcher(client)) is not None:
        left.remove(force=True)


def neutralized_flag(database: str) -> str | None:
    with connection(maintenance_spec().for_database(database)) as conn, conn.cursor() as cr:
        cr.execute(
            sql.SQL("SELECT value FROM ir_config_parameter WHERE key = %s"),
            ["database.is_neutralized"],
        )
        row = cr.fetchone()
    return row[0] if row else None


@tagged("post_install", "-at_install")
class TestStagingBuild(RunningBuildsCase):
    """A push to the staging branch: a fresh neutralized, masked copy of production with
    the branch's changed modules updated, served by the staging environment; production
    untouched; only the newest builds' databases kept."""

    def setUp(self):
        super().setUp()
        self.staging = self.envs_a["staging"]
        self.staging.sudo().write({"runtime_host_id": self.host.id})
        self.host.mail_catcher_port = free_port()
        self.project_a.sudo().write({"mail_catcher": False, "dev_admin_password": "staging-pw"})
        self.addCleanup(remove_catcher, self.client)
        self.production.sudo().branch = False  # production's own builds are another test's
        self.project_a.sudo().staging_keep = 1

    def build_of(self, commit: str):
        self.env["ipai.ops.project"]._cron_poll_repositories()
        build = self.project_a.build_ids.filtered(
            lambda b: b.commit == commit and b.environment_id == self.staging
        )
        self.assertEqual(build.run_id.kind, "build", "the build was not queued to run")
        self.process_runs()
        if build.database_name:
            self.addCleanup(drop_database_now, build.database_name)
        self.assertEqual(build.run_id.state, "done", build.run_id.error)
        return build

    def a_mail_sent_by_staging_is_caught(self, database: str) -> None:
        """The copy's only outgoing server is the host's catcher; a mail the instance
        sends lands in the staging environment's Mails, and nowhere else."""
        port = self.host.mail_catcher_port
        servers = rows(database, "SELECT smtp_host, smtp_port FROM ir_mail_server WHERE active")
        self.assertEqual(servers, [("127.0.0.1", port)])
        [(login,)] = rows(database, "SELECT login FROM res_users WHERE id = 2")
        user = InstanceUser(self.staging.instance_url, database, login, "staging-pw")
        [mail] = user.call("mail.mail", "create", [{
            "email_from": "shop@acme.example", "email_to": "jane@customer.example",
            "subject": "Your order", "body_html": "<p>It ships today.</p>"}])  # fmt: skip
        user.call("mail.mail", "send", [mail])
        [(state,)] = rows(database, f"SELECT state FROM mail_mail WHERE id = {int(mail)}")
        self.assertEqual(state, "sent", "the instance could not hand its mail to the catcher")
        self.env["ipai.ops.mail"]._cron_collect()
        [mail] = self.staging.mail_ids
        self.assertEqual((mail.mail_to, mail.subject), ("jane@customer.example", "Your order"))
        self.assertFalse(self.production.mail_ids, "production was given a copy's mail")

    def the_branch_cannot_reach_production(self, database: str) -> None:
        """The staging code logs in as the environment's own role: it owns the copy, and
        production's data is closed to it (a branch's code is whoever pushed it)."""
        login = self.staging._database_login()
        self.assertTrue(login.user.startswith("ipai_ops_env_"))
        [(owner,)] = rows("postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database"
                                      f" WHERE datname = '{database}'")  # fmt: skip
        self.assertEqual(owner, login.user)
        with (
            connection(login.for_database(self.prod_db)) as conn,
            conn.cursor() as cr,
            self.assertRaises(psycopg2.errors.InsufficientPrivilege),
        ):
            cr.execute("SELECT login, password FROM res_users")

    def test_a_push_to_staging_serves_a_masked_copy_of_production_with_the_new_code(self):
        released = self.push_shop("19.0.1.0.0")
        self.production_database_with_shop(released, also="mail")
        first = self.build_of(self.push_shop("19.0.1.1.0", branch="staging"))
        self.assertEqual((first.state, first.modules_updated), ("success", "shop"))
        self.assertEqual(self.staging.database_name, first.database_name)
        self.assertEqual(self.shop_version(first.database_name), "19.0.1.1.0")
        self.assertEqual(self.shop_version(self.prod_db), "19.0.1.0.0", "production was changed")
        self.assertEqual(neutralized_flag(first.database_name), "True")
        self.assertEqual(self.staging.data_class, "masked")
        self.assertTrue(self.staging.neutralized)
        self.assertTrue(serves(self.staging.instance_url), "staging does not serve the build")
        self.assertNotIn(self.prod_db, self.staging.filestore_path or "")
        self.a_mail_sent_by_staging_is_caught(first.database_name)
        self.the_branch_cannot_reach_production(first.database_name)

        first_database = first.database_name
        second = self.build_of(self.push_shop("19.0.1.2.0", branch="staging"))
        self.assertEqual(self.shop_version(second.database_name), "19.0.1.2.0")
        self.assertTrue(serves(self.staging.instance_url))
        with connection(maintenance_spec()) as conn:
            self.assertFalse(database_exists(conn, first_database),
                             "the build beyond the one kept was not dropped")  # fmt: skip
            self.assertTrue(database_exists(conn, self.prod_db))
        self.assertFalse(first.database_name, "the dropped build still names its database")
