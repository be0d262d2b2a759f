"""Every role x stage x operation, attacked over JSON-RPC as real logged-in users.

The expected table below is written out by hand from the README's role table, not
computed from the code's own role functions, so that a change of policy in the code
shows up here as a failure.
"""

import itertools
import shutil
import tempfile

import psycopg2

from odoo.exceptions import UserError
from odoo.tests import new_test_user, tagged
from odoo.tools import config, mute_logger

from odoo.addons.ipai_ops_core.tests.common import OpsCase, create_database_now, drop_database_now
from odoo.addons.ipai_ops_core.tests.rpc import Refused, RpcCase, by_stage

STAGES = ("production", "staging", "development")
ROLES = ("ops_admin", "admin", "tester", "developer", "viewer", "outsider", "other_admin")
EVERYWHERE = {(role, stage) for role in ("ops_admin", "admin") for stage in STAGES}


STAGE_ROLES = by_stage(production="admin", staging="tester", development="developer")
EXPECTED = {
    "check": STAGE_ROLES,
    "backup": STAGE_ROLES,
    "download": STAGE_ROLES,
    "restore_replace": STAGE_ROLES,
    # a restore into a new environment is a copy made from a backup (masked if production)
    "restore_new_staging": by_stage(production="tester", staging="tester", development="tester"),
    "restore_new_development": by_stage(
        production="tester", staging="developer", development="developer"
    ),
    "copy_to_staging": by_stage(production="tester", staging="tester", development="tester"),
    # production data needs a tester even for a development copy
    "copy_to_development": by_stage(
        production="tester", staging="developer", development="developer"
    ),
    "discard": EVERYWHERE,
    "drill": EVERYWHERE,
    "prune": EVERYWHERE,
    "stage_change": {("ops_admin", stage) for stage in STAGES},
}


@tagged("post_install", "-at_install")
class TestRoleMatrixOverRpc(RpcCase, OpsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        target_dir = tempfile.mkdtemp(prefix="ipai-ops-rpc-target-")
        cls.addClassCleanup(shutil.rmtree, target_dir, ignore_errors=True)
        target = cls.env["ipai.ops.backup.target"].create({"name": "RPC", "path": target_dir})
        cls.users = {
            **cls.members_a,
            "ops_admin": cls.ops_admin,
            "outsider": cls.outsider,
            "other_admin": cls.admin_b,
        }
        cls.backups = {}
        for stage, environment in cls.envs_a.items():
            if stage != "production":  # a copy starts only from a database that exists
                create_database_now(environment.database_name)
                cls.addClassCleanup(drop_database_now, environment.database_name)
            environment.write(
                {"backup_target_id": target.id, "addons_path": ",".join(config["addons_path"])}
            )
            environment.sudo().previous_database = f"{environment.database_name}-old-20260101"
            cls.backups[stage] = cls.env["ipai.ops.backup"].create(
                {
                    "environment_id": environment.id,
                    "target_id": target.id,
                    "set_id": f"set-{stage}",
                    "state": "done",
                }
            )
        cls.names = (f"rpc-{n}" for n in itertools.count())

    def _runs(self):
        return self.env["ipai.ops.run"].sudo().search_count([])

    def _attempt(self, operation: str, user, stage: str) -> bool:
        environment = self.envs_a[stage]
        backup = self.backups[stage]
        env_call = lambda method: self.allowed(  # noqa: E731
            user, "ipai.ops.environment", method, [environment.id]
        )
        if operation in ("check", "backup", "discard", "drill", "prune"):
            method = {
                "check": "action_run_check",
                "backup": "action_backup_now",
                "discard": "action_discard_previous",
                "drill": "action_drill_now",
                "prune": "action_prune_now",
            }[operation]
            return env_call(method)
        if operation == "download":
            return self.allowed(user, "ipai.ops.backup", "action_download", [backup.id])
        if operation.startswith("restore_"):
            mode, _, new_stage = operation.removeprefix("restore_").partition("_")
            values = {"backup_id": backup.id, "mode": mode}
            if mode == "new":
                values |= {
                    "new_name": "Restored",
                    "new_stage": new_stage,
                    "new_database": next(self.names),
                }
            return self._wizard(user, "ipai.ops.restore.wizard", values)
        if operation.startswith("copy_to_"):
            values = {
                "source_environment_id": environment.id,
                "origin": "live",
                "stage": operation.removeprefix("copy_to_"),
                "database_name": next(self.names),
            }
            return self._wizard(user, "ipai.ops.staging.wizard", values)
        if operation == "stage_change":
            return self.allowed(
                user, "ipai.ops.environment", "write", [environment.id], {"stage": stage}
            )
        raise AssertionError(operation)

    def _wizard(self, user, model, values) -> bool:
        try:
            wizard_ids = self.call(user, model, "create", [values])
            self.call(user, model, "action_confirm", wizard_ids)
        except Refused:
            return False
        return True

    def test_every_cell_of_the_matrix(self):
        """Each role may do exactly what its row of the table says, on each stage."""
        mismatches = []
        for role in ROLES:
            user = self.users[role]
            for operation, allowed_cells in EXPECTED.items():
                for stage in STAGES:
                    before = self._runs()
                    done = self._attempt(operation, user, stage)
                    expected = (role, stage) in allowed_cells
                    if done != expected:
                        mismatches.append(
                            f"{role} {operation} on {stage}: {'allowed' if done else 'refused'}"
                        )
                    if not done and self._runs() != before:
                        mismatches.append(
                            f"{role} {operation} on {stage}: refused, yet a run was created"
                        )
        self.assertEqual(mismatches, [], "\n".join(mismatches))

    def test_membership_changes(self):
        """Only project A's admins (and ops admins) add, change or remove its members."""
        Member = "ipai.ops.project.member"
        newcomer = self.internal
        newcomer.sudo().group_ids += self.env.ref("ipai_ops_core.group_ops_user")
        for role in ROLES:
            user = self.users[role]
            with self.subTest(role=role):
                values = {"project_id": self.project_a.id, "user_id": newcomer.id, "role": "viewer"}
                allowed = self.allowed(user, Member, "create", [values])
                self.assertEqual(allowed, role in ("admin", "ops_admin"))
                member = self.env[Member].search(
                    [("project_id", "=", self.project_a.id), ("user_id", "=", newcomer.id)]
                )
                if member:
                    member.sudo().unlink()

    def test_approvals(self):
        """Another admin of the project approves; the requester, other roles and other
        projects' admins cannot."""
        production = self.envs_a["production"]
        for role in ROLES:
            run = production.with_user(self.ops_admin)._request_approved_run(
                "restore", {"backup_id": self.backups["production"].id, "mode": "replace"}
            )
            approval = self.env["ipai.ops.approval"].search([("run_id", "=", run.id)])
            with self.subTest(role=role):
                allowed = self.allowed(
                    self.users[role], "ipai.ops.approval", "action_approve", [approval.id]
                )
                self.assertEqual(allowed, role == "admin", "only a second project admin")


@tagged("post_install", "-at_install")
class TestFindingsOverRpc(RpcCase, OpsCase):
    """Each way in that was found once, tried again over RPC: each must stay closed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.target = cls.env["ipai.ops.backup.target"].create(
            {"name": "Findings", "path": tempfile.mkdtemp(prefix="ipai-ops-findings-")}
        )
        cls.addClassCleanup(shutil.rmtree, cls.target.path, ignore_errors=True)
        for environment in (*cls.envs_a.values(), *cls.envs_b.values()):  # copies need code
            environment.addons_path = ",".join(config["addons_path"])
        cls.backup_b = cls.env["ipai.ops.backup"].create(
            {
                "environment_id": cls.envs_b["production"].id,
                "target_id": cls.target.id,
                "set_id": "set-b",
                "state": "done",
            }
        )
        cls.backup_a = cls.env["ipai.ops.backup"].create(
            {
                "environment_id": cls.envs_a["production"].id,
                "target_id": cls.target.id,
                "set_id": "set-a",
                "state": "done",
            }
        )

    def test_nobody_makes_themselves_admin_of_a_project(self):
        values = {"project_id": self.project_a.id, "role": "admin"}
        for user in (self.outsider, self.admin_b):
            with self.subTest(user=user.login):
                self.assertRefused(
                    user, "ipai.ops.project.member", "create", [{**values, "user_id": user.id}]
                )
        # a member who is not admin may not bring in an admin either
        self.assertRefused(
            self.members_a["tester"],
            "ipai.ops.project.member",
            "create",
            [{**values, "user_id": self.outsider.id}],
        )
        tester_row = self.project_a.member_ids.filtered(
            lambda m: m.user_id == self.members_a["tester"]
        )
        self.assertRefused(
            self.members_a["tester"],
            "ipai.ops.project.member",
            "write",
            [tester_row.id],
            {"role": "admin"},
        )
        self.assertRefused(
            self.admin_b,
            "ipai.ops.project.member",
            "write",
            [self.project_b.member_ids.id],
            {"project_id": self.project_a.id},
        )
        self.assertEqual(self.project_a._role_of(self.members_a["tester"]), "tester")

    def test_a_project_admin_manages_their_own_members(self):
        admin = self.members_a["admin"]
        member_id = self.call(
            admin,
            "ipai.ops.project.member",
            "create",
            [{"project_id": self.project_a.id, "user_id": self.outsider.id, "role": "developer"}],
        )
        self.call(admin, "ipai.ops.project.member", "write", member_id, {"role": "tester"})
        self.assertEqual(self.project_a._role_of(self.outsider), "tester")
        self.call(admin, "ipai.ops.project.member", "unlink", member_id)
        self.assertIsNone(self.project_a._role_of(self.outsider))
        own = self.project_a.member_ids.filtered(lambda m: m.user_id == admin)
        refusal = self.assertRefused(admin, "ipai.ops.project.member", "unlink", own.ids)
        self.assertIn("no admin left", refusal.message)

    def test_system_fields_are_written_by_the_system_only(self):
        """Paths, names, states, sources and targets the executor acts on, whatever the role."""
        production = self.envs_a["production"]
        forged = {
            "previous_database": "b_prod",
            "previous_filestore": "/etc",
            "project_id": self.project_b.id,
            "stage": "staging",
            "state": "ready",
            "last_check_summary": "all fine",
            "neutralized": True,
            "is_build": True,
            "data_class": "masked",
            "source_environment_id": self.envs_b["production"].id,
            "source_backup_id": self.backup_b.id,
            "backup_target_id": self.target.id,
            "backup_enabled": False,
            "monitoring_enabled": False,
            "database_name": "b_prod",
            "filestore_path": "/etc",
        }
        for field, value in forged.items():
            with self.subTest(field=field):
                self.assertRefused(
                    self.members_a["admin"],
                    "ipai.ops.environment",
                    "write",
                    [production.id],
                    {field: value},
                )
        for field in ("previous_database", "state", "neutralized", "data_class", "project_id"):
            with self.subTest(field=field, role="ops_admin"):
                self.assertRefused(
                    self.ops_admin,
                    "ipai.ops.environment",
                    "write",
                    [production.id],
                    {field: forged[field]},
                )
        self.call(
            self.members_a["admin"],
            "ipai.ops.environment",
            "write",
            [production.id],
            {"name": "Production (main)", "branch": "main"},
        )
        self.assertEqual(production.name, "Production (main)")
        self.assertEqual(production.stage, "production")
        self.assertFalse(production.previous_database)

    def test_discard_acts_only_on_what_the_system_recorded(self):
        staging = self.envs_a["staging"]
        refusal = self.assertRefused(
            self.members_a["admin"],
            "ipai.ops.environment",
            "action_discard_previous",
            [staging.id],
        )
        self.assertIn("no replaced database", refusal.message)

    def test_paths_outside_the_filestore_root_are_refused(self):
        for path in ("/etc", "relative/dir", "/tmp/../etc", self.server.sudo().filestore_root):
            with self.subTest(path=path):
                self.assertRefused(
                    self.ops_admin,
                    "ipai.ops.environment",
                    "write",
                    [self.envs_a["development"].id],
                    {"filestore_path": path},
                )

    def test_the_control_plane_never_becomes_an_environment_through_a_wizard(self):
        control_plane = self.env.cr.dbname
        for database in (control_plane, self.production_db, "postgres"):
            before = self.env["ipai.ops.environment"].search_count([])
            with self.subTest(database=database):
                wizard = self.call(
                    self.members_a["tester"],
                    "ipai.ops.restore.wizard",
                    "create",
                    [
                        {
                            "backup_id": self.backups_of_dev().id,
                            "mode": "new",
                            "new_name": "Steal",
                            "new_stage": "staging",
                            "new_database": database,
                        }
                    ],
                )
                self.assertRefused(
                    self.members_a["tester"], "ipai.ops.restore.wizard", "action_confirm", wizard
                )
                self.assertEqual(
                    self.env["ipai.ops.environment"].search_count([]),
                    before,
                    "no environment record is left behind",
                )

    def backups_of_dev(self):
        return self.env["ipai.ops.backup"].create(
            {
                "environment_id": self.envs_a["development"].id,
                "target_id": self.target.id,
                "set_id": "set-dev",
                "state": "done",
            }
        )

    def test_the_executor_refuses_the_control_plane_whoever_registered_it(self):
        """Not even an ops admin registers the control plane's database; and were it
        registered behind the ORM's back, the executor would still refuse to touch it."""
        environment = self.envs_a["development"]
        refusal = self.assertRefused(
            self.ops_admin,
            "ipai.ops.environment",
            "write",
            [environment.id],
            {"database_name": self.env.cr.dbname},
        )
        self.assertIn("control plane", refusal.message)
        environment.sudo()._write({"database_name": self.env.cr.dbname})
        run = environment._queue_system_run("check")
        self.process_runs()
        self.assertEqual(run.state, "failed")
        self.assertIn("control plane", run.error)

    def test_wizards_refuse_other_projects_records(self):
        developer = self.members_a["developer"]
        self.assertRefused(
            developer,
            "ipai.ops.staging.wizard",
            "create",
            [
                {
                    "source_environment_id": self.envs_a["development"].id,
                    "origin": "backup",
                    "backup_id": self.backup_b.id,
                    "stage": "development",
                }
            ],
        )
        self.assertRefused(
            developer,
            "ipai.ops.restore.wizard",
            "create",
            [{"backup_id": self.backup_b.id, "mode": "new"}],
        )
        # a backup of another environment of the same project is refused as the source's
        wizard = self.call(
            developer,
            "ipai.ops.staging.wizard",
            "create",
            [
                {
                    "source_environment_id": self.envs_a["development"].id,
                    "origin": "backup",
                    "backup_id": self.backup_a.id,
                    "stage": "development",
                    "database_name": "rpc-mixed",
                }
            ],
        )
        refusal = self.assertRefused(developer, "ipai.ops.staging.wizard", "action_confirm", wizard)
        self.assertIn("backup of the environment being copied", refusal.message)

    def test_caught_mails_are_the_project_s_to_read_and_the_system_s_to_write(self):
        mail = self.env["ipai.ops.mail"].create(
            {"environment_id": self.envs_a["staging"].id, "key": "m-1.eml",
             "subject": "Your order", "mail_to": "jane@customer.example"}
        )  # fmt: skip
        users = {**self.members_a, "ops_admin": self.ops_admin, "outsider": self.outsider,
                 "other_admin": self.admin_b}  # fmt: skip
        for role, user in users.items():
            with self.subTest(role=role):
                seen = self.call(user, "ipai.ops.mail", "search_read", [("id", "=", mail.id)],
                                 ["subject"])  # fmt: skip
                self.assertEqual(bool(seen), role not in ("outsider", "other_admin"))
                self.assertRefused(user, "ipai.ops.mail", "write", [mail.id], {"subject": "x"})
                self.assertRefused(user, "ipai.ops.mail", "unlink", [mail.id])
                self.assertRefused(
                    user, "ipai.ops.mail", "create",
                    [{"environment_id": self.envs_a["staging"].id, "key": "forged.eml"}],
                )  # fmt: skip
                self.assertRefused(
                    user, "ipai.ops.mail", "_cron_collect", []
                )  # a private method: not callable over RPC

    def test_production_data_never_reaches_a_developer_unmasked(self):
        developer, tester = self.members_a["developer"], self.members_a["tester"]
        values = {
            "backup_id": self.backup_a.id,
            "mode": "new",
            "new_name": "Prod copy",
            "new_stage": "development",
            "new_database": "rpc-prod-copy",
        }
        wizard = self.call(developer, "ipai.ops.restore.wizard", "create", [values])
        self.assertRefused(developer, "ipai.ops.restore.wizard", "action_confirm", wizard)
        wizard = self.call(tester, "ipai.ops.restore.wizard", "create", [values])
        action = self.call(tester, "ipai.ops.restore.wizard", "action_confirm", wizard)
        run = self.env["ipai.ops.run"].browse(action["res_id"])
        copy = run.environment_id
        self.assertEqual(run.kind, "clone", "it goes through neutralization and masking")
        self.assertEqual(copy.data_class, "production", "production data until masked")
        self.assertTrue(copy._needs_masking())
        self.assertRefused(developer, "ipai.ops.environment", "action_run_check", [copy.id])
        self.assertRefused(developer, "ipai.ops.environment", "action_backup_now", [copy.id])

    def test_downloads_follow_the_data_class(self):
        self.assertRefused(
            self.members_a["tester"], "ipai.ops.backup", "action_download", [self.backup_a.id]
        )
        self.call(self.members_a["admin"], "ipai.ops.backup", "action_download", [self.backup_a.id])
        url = f"/ipai_ops/backup/{self.backup_a.id}/download"
        self.login_as(self.members_a["tester"])
        self.assertEqual(self.url_open(url).status_code, 403, "the route checks the role too")
        self.login_as(self.members_a["admin"])
        # allowed, and told plainly that this (made-up) set is not on the target
        self.assertEqual(self.url_open(url).status_code, 404)

    def test_small_leaks_are_closed(self):
        admin = self.members_a["admin"]
        self.assertRefused(
            admin, "ipai.ops.db.server", "read", [self.server.id], ["environment_ids"]
        )
        self.assertRefused(admin, "ipai.ops.db.server", "read", [self.server.id], ["password"])
        self.assertRefused(admin, "ipai.ops.backup.target", "read", [self.target.id], ["path"])
        rule = self.env["ipai.ops.mask.rule"].search([], limit=1)
        self.assertRefused(admin, "ipai.ops.mask.rule", "read", rule.ids, ["condition"])
        self.assertRefused(admin, "ipai.ops.mask.rule", "search_read", [], ["table_name"])
        self.assertRefused(
            admin,
            "ipai.ops.project",
            "write",
            [self.project_a.id],
            {"mail_catcher": "smtp.attacker.example:25"},
        )

    def test_the_audit_trail_is_append_only_in_postgresql(self):
        run = self.envs_a["development"]._queue_system_run("check")
        self.process_runs()
        self.assertIn(run.state, ("done", "failed"))
        event = run.event_ids[:1]
        queued = self.envs_a["development"].with_user(self.members_a["developer"])
        queued = queued._queue_run("check")
        self.assertEqual(queued.requester_name, self.members_a["developer"].name)
        forgeries = {
            "a finished run's summary": lambda: run.sudo()._write({"summary": "rewritten"}),
            "a finished run's state": lambda: run.sudo()._write({"state": "queued"}),
            "who asked for a queued run": lambda: queued.sudo()._write(
                {"requester_id": self.ops_admin.id}
            ),
            "an event": lambda: event.sudo()._write({"message": "nothing happened"}),
            "deleting an event": lambda: self.env.cr.execute(
                "DELETE FROM ipai_ops_run_event WHERE id = %s", [event.id]
            ),
            "deleting a run": lambda: self.env.cr.execute(
                "DELETE FROM ipai_ops_run WHERE id = %s", [queued.id]
            ),
        }
        for what, forge in forgeries.items():
            with (
                self.subTest(what=what),
                mute_logger("odoo.sql_db"),
                self.assertRaisesRegex(psycopg2.errors.RestrictViolation, "ipai-ops"),
                self.env.cr.savepoint(),
            ):
                forge()
                self.env.flush_all()
        # who asked is kept: the user is archived, never deleted (refused before any lock)
        with self.assertRaisesRegex(UserError, "archive these users"), self.env.cr.savepoint():
            self.members_a["developer"].sudo().unlink()
            self.env.flush_all()

    def test_context_defaults_are_checked_like_values(self):
        """Odoo fills ``default_<field>`` from the context after create() starts: the
        same checks apply to them."""
        member = {"user_id": self.outsider.id, "role": "admin"}
        for user in (self.outsider, self.admin_b):
            with self.subTest(user=user.login):
                self.assertRefused(
                    user,
                    "ipai.ops.project.member",
                    "create",
                    [{**member, "user_id": user.id}],
                    context={"default_project_id": self.project_a.id},
                )
        self.assertIsNone(self.project_a._role_of(self.outsider))
        defaults = {
            "default_project_id": self.project_a.id,
            "default_name": "Mine",
            "default_database_name": self.env.cr.dbname,
            "default_server_id": self.server.id,
            "default_active": False,
        }
        before = self.env["ipai.ops.environment"].with_context(active_test=False).search_count([])
        for user in (self.members_a["admin"], self.admin_b):
            with self.subTest(user=user.login):
                self.assertRefused(user, "ipai.ops.environment", "create", [{}], context=defaults)
        after = self.env["ipai.ops.environment"].with_context(active_test=False).search_count([])
        self.assertEqual(after, before, "no environment was registered")
        self.assertRefused(
            self.members_a["developer"],
            "ipai.ops.restore.wizard",
            "create",
            [{"mode": "new"}],
            context={"default_backup_id": self.backup_b.id},
        )
        self.assertRefused(
            self.members_a["developer"],
            "ipai.ops.staging.wizard",
            "create",
            [{"stage": "development"}],
            context={"default_source_environment_id": self.envs_b["development"].id},
        )

    def test_an_archived_environment_is_not_copied(self):
        development = self.envs_a["development"]
        development.active = False
        wizard = self.call(
            self.members_a["developer"],
            "ipai.ops.staging.wizard",
            "create",
            [
                {
                    "source_environment_id": development.id,
                    "origin": "live",
                    "stage": "development",
                    "database_name": "rpc-archived",
                }
            ],
        )
        refusal = self.assertRefused(
            self.members_a["developer"], "ipai.ops.staging.wizard", "action_confirm", wizard
        )
        self.assertIn("archived", refusal.message)

    def test_a_project_always_keeps_an_admin(self):
        alone = self.project_b.member_ids
        self.assertEqual(alone.role, "admin")
        self.assertRefused(self.admin_b, "ipai.ops.project.member", "unlink", alone.ids)
        self.assertRefused(
            self.admin_b, "ipai.ops.project.member", "write", alone.ids, {"role": "viewer"}
        )
        self.assertTrue(self.project_b.member_ids)

    def test_wizards_and_reports_are_their_creators_alone(self):
        """Another user, even of the same project, neither reads nor changes them."""
        tester, developer = self.members_a["tester"], self.members_a["developer"]
        wizard = self.call(
            tester,
            "ipai.ops.restore.wizard",
            "create",
            [{"backup_id": self.backup_a.id, "mode": "new", "new_database": "rpc-private"}],
        )
        for user in (developer, self.outsider, self.admin_b):
            with self.subTest(user=user.login):
                found = self.call(
                    user,
                    "ipai.ops.restore.wizard",
                    "search_read",
                    [("id", "in", wizard)],
                    ["new_database"],
                )
                self.assertEqual(found, [])
                self.assertRefused(
                    user, "ipai.ops.restore.wizard", "write", wizard, {"new_database": "x"}
                )

    def test_host_settings_and_keys_are_for_ops_administrators(self):
        """Secret references, filestore roots, masking keys and run bookkeeping: neither
        readable nor writable by project roles over RPC."""
        admin = self.members_a["admin"]
        self.project_a.sudo()._mask_key()
        for model, record, fields_ in (
            ("ipai.ops.db.server", self.server, ["password_ref", "filestore_root"]),
            ("ipai.ops.project", self.project_a, ["mask_key", "dev_admin_password"]),
            ("ipai.ops.backup.target", self.target, ["storage_options", "path"]),
        ):
            for field in fields_:
                with self.subTest(model=model, field=field):
                    self.assertRefused(admin, model, "read", record.ids, [field])
                    self.assertRefused(admin, model, "write", record.ids, {field: "/tmp"})
        run = self.envs_a["development"]._queue_system_run("check")
        for values in (
            {"attempt": 9},
            {"retry_at": "2030-01-01 00:00:00"},
            {"state": "done"},
            {"in_operations_log": False},
        ):
            with self.subTest(values=values):
                self.assertRefused(self.ops_admin, "ipai.ops.run", "write", run.ids, values)
        self.assertEqual((run.state, run.attempt), ("queued", 1))

    def test_membership_over_rpc_grants_access_and_refuses_portal_users(self):
        admin = self.members_a["admin"]
        newcomer = new_test_user(self.env, "rpc_newcomer", groups="base.group_user")
        portal = new_test_user(self.env, "rpc_portal", groups="base.group_portal")
        refusal = self.assertRefused(
            admin,
            "ipai.ops.project.member",
            "create",
            [{"project_id": self.project_a.id, "user_id": portal.id, "role": "viewer"}],
        )
        self.assertIn("only internal users", refusal.message)
        self.call(
            admin,
            "ipai.ops.project.member",
            "create",
            [{"project_id": self.project_a.id, "user_id": newcomer.id, "role": "viewer"}],
        )
        projects = self.call(newcomer, "ipai.ops.project", "search_read", [], ["name"])
        self.assertEqual([p["name"] for p in projects], [self.project_a.name])
