import shutil
import smtplib
import socket
import tempfile
from contextlib import closing
from email.message import EmailMessage
from pathlib import Path

import psycopg2

from odoo import SUPERUSER_ID, api, sql_db
from odoo.exceptions import AccessError, UserError
from odoo.modules.registry import Registry
from odoo.tests import tagged
from odoo.tools import config

from odoo.addons.ipai_ops_backup.tests.common import BackupCase
from odoo.addons.ipai_ops_core.tests.common import (
    CUSTOMER_EMAIL,
    CUSTOMER_PHONE,
    drop_database_now,
)

from ipai_ops import mail_catcher


@tagged("post_install", "-at_install")
class TestSafeCopies(BackupCase):
    """Copies of a real production Odoo database (mail installed, an active mail server, a
    queued mail, active crons, partners with e-mails and phones, attachments)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.dbname = cls.production_db
        cls.production.addons_path = ",".join(config["addons_path"])
        cls.project_a.sudo().dev_admin_password = "staging-Admin-pw"

    def _copy(self, user, stage="staging", **values):
        values.setdefault("origin", "live")
        wizard = (
            self.env["ipai.ops.staging.wizard"]
            .with_user(user)
            .create({"source_environment_id": self.production.id, "stage": stage, **values})
        )
        run = self.env["ipai.ops.run"].browse(wizard.action_confirm()["res_id"])
        self.addCleanup(drop_database_now, run.environment_id.database_name)
        return run

    def _query(self, database, query, params=None):
        with closing(sql_db.db_connect(database).cursor()) as cr:
            cr.execute(query, params)
            return cr.fetchall()

    def _fingerprint(self, database):
        return self._query(
            database,
            "SELECT (SELECT count(*) FROM res_partner),"
            " (SELECT md5(string_agg(email || coalesce(phone, ''), ',' ORDER BY id))"
            "    FROM res_partner WHERE email IS NOT NULL),"
            " (SELECT string_agg(state, ',' ORDER BY id) FROM mail_mail),"
            " (SELECT count(*) FROM ir_cron WHERE active)",
        )

    def test_staging_copy_is_safe_and_production_untouched(self):
        before = self._fingerprint(self.dbname)
        holder = psycopg2.connect(**sql_db.connection_info_for(self.dbname)[1])
        holder.cursor().execute("SELECT count(*) FROM res_partner")  # a session mid-transaction
        try:
            run = self._copy(self.members_a["tester"])
            self.process_runs()
            with holder.cursor() as cur:
                cur.execute(
                    "SELECT email FROM res_partner WHERE id = %s", [self.committed["partner"]]
                )
                self.assertEqual(cur.fetchone()[0], CUSTOMER_EMAIL, "production's session works")
        finally:
            holder.close()
        copy = run.environment_id
        self.assertEqual(run.state, "done", run.error)
        self.assertEqual(self._fingerprint(self.dbname), before, "production is unchanged")
        self.assertEqual(copy.project_id.last_copy_environment_id, copy, "the project's card")
        self.assertEqual(copy.project_id.last_copy_at, run.finished_at)
        self.assertTrue(copy.neutralized)
        self.assertIn("✔ no queued outgoing mail", copy.neutralization_report)
        self.assertNotIn("✘", copy.neutralization_report + copy.masking_report)

        db = copy.database_name
        q = lambda query, params=None: self._query(db, query, params)  # noqa: E731
        self.assertEqual(q("SELECT count(*) FROM mail_mail WHERE state = 'outgoing'"), [(0,)])
        self.assertEqual(q("SELECT count(*) FROM ir_mail_server WHERE active"
                           " AND smtp_host <> 'invalid'"), [(0,)])  # fmt: skip
        self.assertEqual(
            q("SELECT d.module || '.' || d.name FROM ir_cron c JOIN ir_model_data d"
              " ON d.res_id = c.id AND d.model = 'ir.cron' WHERE c.active"),
            [("base.autovacuum_job",)],
        )  # fmt: skip
        self.assertEqual(q("SELECT count(*) FROM res_partner WHERE email = %s OR phone = %s",
                           [CUSTOMER_EMAIL, CUSTOMER_PHONE]), [(0,)])  # fmt: skip
        self.assertEqual(
            q("SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'"),
            [("True",)],
        )
        self.assertNotEqual(
            q("SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'"),
            self._query(self.dbname, "SELECT value FROM ir_config_parameter"
                                     " WHERE key = 'database.uuid'"),
        )  # fmt: skip
        registry = Registry(db)
        with registry.cursor() as cr:
            users = api.Environment(cr, SUPERUSER_ID, {})["res.users"]
            auth = users.authenticate(
                {"type": "password", "login": "admin", "password": "staging-Admin-pw"},
                {"interactive": False},
            )
            self.assertEqual(auth["uid"], 2, "the admin logs in with the copies' password")

    def test_a_mail_sent_by_a_copy_is_in_its_mails_and_delivered_to_nobody(self):
        """The copy's only outgoing server is the catcher, logging in with the copy's
        database name and the password made for it. Odoo sends nothing in test mode, so the
        mail is sent the way its ir.mail_server does (that server's host, port, login and
        password), with smtplib; without the password the catcher refuses it."""
        spool = Path(tempfile.mkdtemp(prefix="ipai-ops-spool-"))
        self.addCleanup(shutil.rmtree, spool, ignore_errors=True)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        catcher = mail_catcher.start(spool, port=port)
        self.addCleanup(catcher.stop)
        self.project_a.sudo().mail_catcher = f"127.0.0.1:{port}"
        self.env["ir.config_parameter"].sudo().set_param("ipai_ops.mail_spool", str(spool))
        run = self._copy(self.members_a["tester"])
        self.process_runs()
        self.assertEqual(run.state, "done", run.error)
        copy = run.environment_id
        [(host, smtp_port, login, password)] = self._query(
            copy.database_name,
            "SELECT smtp_host, smtp_port, smtp_user, smtp_pass FROM ir_mail_server WHERE active",
        )
        self.assertEqual((host, smtp_port, login), ("127.0.0.1", port, copy.database_name))
        with (
            smtplib.SMTP(host, smtp_port, timeout=10) as smtp,
            self.assertRaises(smtplib.SMTPAuthenticationError),
        ):
            smtp.login(login, "")
        message = EmailMessage()
        message["From"], message["To"] = "shop@acme.example", CUSTOMER_EMAIL
        message["Subject"] = "Your order"
        message.set_content("Thank you for your order.")
        with smtplib.SMTP(host, smtp_port, timeout=10) as smtp:
            smtp.login(login, password)
            smtp.send_message(message)
        self.env["ipai.ops.mail"]._cron_collect()
        mail = copy.with_user(self.members_a["tester"]).mail_ids
        self.assertEqual((mail.subject, mail.mail_to), ("Your order", CUSTOMER_EMAIL))
        self.assertIn("Thank you", mail.body)
        self.env["ipai.ops.mail"]._cron_collect()
        self.assertEqual(len(copy.mail_ids), 1, "collected once")
        self.assertFalse(
            self.env["ipai.ops.mail"].with_user(self.admin_b).search([]), "another project's"
        )

    def test_the_wizard_refuses_a_copy_that_would_fail_and_creates_nothing(self):
        """No addons path, a path that is not a directory, a source that cannot be
        reached: each refused before anything exists, naming what to fix where."""
        environments = self.env["ipai.ops.environment"].with_context(active_test=False)
        before = environments.search_count([])
        cases = [
            ({"addons_path": False}, "has no addons path"),
            ({"addons_path": "/nonexistent/addons"}, "not a directory here: /nonexistent/addons"),
            ({"database_name": "ipai_ops_no_such_database"}, "cannot be reached"),
        ]
        kept = {"addons_path": self.production.addons_path, "database_name": self.dbname}
        for values, message in cases:
            with self.subTest(message=message):
                self.production.sudo().write(values)
                with self.assertRaisesRegex(UserError, message) as refused:
                    self._copy(self.members_a["tester"])
                self.assertIn(self.production.name, str(refused.exception))
                self.production.sudo().write(kept)
        self.assertEqual(environments.search_count([]), before, "no environment left behind")
        self.assertFalse(
            self.env["ipai.ops.run"].search([("kind", "=", "clone")]), "and no run queued"
        )

    def test_installed_module_without_source_fails_and_leaves_nothing(self):
        ours = str(Path(__file__).resolve().parents[2])  # the addons directory of ipai-ops
        self.production.addons_path = ",".join(p for p in config["addons_path"] if p != ours)
        run = self._copy(self.members_a["tester"])
        self.process_runs()
        self.assertEqual(run.state, "failed")
        self.assertIn("no source in the addons path", run.error)
        self.assertIn("ipai_ops_core", run.error)
        copy = run.environment_id
        self.assertFalse(copy.neutralized)
        self.assertEqual((copy.state, copy.active), ("build_failed", False), "not 'unreachable'")
        self.assertEqual(
            self._query("postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE %s",
                        [f"{copy.database_name}%"]),
            [(0,)],
        )  # fmt: skip

    def test_only_the_newest_builds_are_kept(self):
        self.project_a.staging_keep = 2
        first = self._copy(self.members_a["tester"], database_name=f"{self.dbname[:30]}-s1")
        self.process_runs()
        second = self._copy(self.members_a["tester"], database_name=f"{self.dbname[:30]}-s2")
        self.process_runs()
        self.assertEqual((first.state, second.state), ("done", "done"), second.error)
        self.assertTrue(first.environment_id.active, "two builds are kept")

        self.project_a.staging_keep = 1  # the daily lifecycle drops the older one
        self.env["ipai.ops.environment"]._cron_retire_old_builds()
        self.process_runs()
        self.assertFalse(first.environment_id.active, "the older build is archived")
        self.assertEqual(first.environment_id.state, "retired")
        self.assertTrue(second.environment_id.active)
        self.assertEqual(
            self._query("postgres", "SELECT count(*) FROM pg_database WHERE datname = %s",
                        [first.environment_id.database_name]),
            [(0,)],
        )  # fmt: skip

    def test_development_database_from_scratch(self):
        filestore_root = Path(self.env["ir.attachment"]._filestore()).parent
        self.production.filestore_path = str(filestore_root / self.dbname)
        run = self._copy(
            self.members_a["developer"],  # no data is copied: a developer may
            stage="development",
            origin="scratch",
            database_name=f"{self.dbname[:30]}-fresh",
        )
        self.process_runs()
        self.assertEqual(run.state, "done", run.error)
        db = run.environment_id.database_name
        self.assertEqual(
            self._query(db, "SELECT state FROM ir_module_module WHERE name = 'base'"),
            [("installed",)],
        )
        registry = Registry(db)
        with registry.cursor() as cr:
            auth = api.Environment(cr, SUPERUSER_ID, {})["res.users"].authenticate(
                {"type": "password", "login": "admin", "password": "staging-Admin-pw"},
                {"interactive": False},
            )
            self.assertEqual(auth["uid"], 2)

    def test_roles_for_copies(self):
        with self.assertRaises(AccessError):
            self._copy(self.members_a["developer"], stage="staging")
        with self.assertRaises(AccessError):  # a copy of production takes a tester
            self._copy(self.members_a["developer"], stage="development")
        with self.assertRaises(AccessError):
            self._copy(self.admin_b)
