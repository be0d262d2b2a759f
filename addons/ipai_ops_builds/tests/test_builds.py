import hashlib
import hmac
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from unittest.mock import patch

from odoo.tests import HttpCase, tagged

from odoo.addons.ipai_ops_core.tests.common import OpsCase
from odoo.addons.ipai_ops_core.tests.rpc import RpcCase

from ..models.ops_build_trees import remove_unused_trees

SECRET_VAR = "IPAI_OPS_TEST_WEBHOOK_SECRET"


def git(cwd, *args):
    return subprocess.run(
        ["git", "-c", "user.name=Ada", "-c", "user.email=ada@example.com", *args],
        cwd=cwd, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


def add_module(work: Path, name: str, version: str, message: str) -> str:
    module = work / name
    module.mkdir(exist_ok=True)
    (module / "__manifest__.py").write_text(repr({"name": name, "version": version}))
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", message)
    git(work, "push", "-q", "origin", "HEAD:main")
    return git(work, "rev-parse", "HEAD")


class BuildsCase(OpsCase):
    """Project A follows a real repository of its own for each test: development on
    main, staging on staging."""

    def setUp(self):
        super().setUp()
        root = Path(tempfile.mkdtemp(prefix="ipai-ops-builds-"))
        self.addCleanup(shutil.rmtree, root, ignore_errors=True)
        self.work, self.remote = root / "work", root / "erp.git"
        self.work.mkdir()
        git(self.work, "init", "-q", "-b", "main")
        git(root, "init", "-q", "--bare", str(self.remote))
        git(self.work, "remote", "add", "origin", str(self.remote))
        self.project_a.sudo().write(
            {"repository_url": str(self.remote), "webhook_secret_ref": f"env:{SECRET_VAR}"}
        )
        self.envs_a["development"].branch = "main"
        self.envs_a["staging"].branch = "staging"


@tagged("post_install", "-at_install")
class TestPolling(BuildsCase):
    def test_the_poller_notices_each_new_commit_once_and_reads_what_it_changed(self):
        development = self.envs_a["development"]
        first = add_module(self.work, "shop", "19.0.1.0.0", "Shop: first version")
        self.env["ipai.ops.project"]._cron_poll_repositories()
        build = development.project_id.build_ids
        self.assertEqual((build.commit, build.noticed_by, build.state), (first, "poll", "queued"))
        self.assertEqual((build.author, build.message), ("Ada", "Shop: first version"))
        self.assertEqual(build.modules_added, "shop")
        self.assertFalse(self.envs_a["staging"].project_id.build_ids - build, "no staging branch")

        self.env["ipai.ops.project"]._cron_poll_repositories()
        self.assertEqual(len(development.project_id.build_ids), 1, "the same head: no new build")
        second = add_module(self.work, "shop", "19.0.1.1.0", "Shop: bump")
        self.env["ipai.ops.project"]._cron_poll_repositories()
        latest = self.env["ipai.ops.build"].search(
            [("project_id", "=", self.project_a.id)], limit=1
        )
        self.assertEqual((latest.commit, latest.previous_commit), (second, first))
        self.assertEqual((latest.modules_bumped, latest.modules_changed), ("shop", "shop"))
        self.assertFalse(latest.modules_added)

    def test_a_commit_the_mirror_cannot_read_fails_its_build_and_the_queue_goes_on(self):
        """A force-push racing a webhook: the announced commit never reaches the mirror.
        Its build fails, saying why; the next push is built."""
        development = self.envs_a["development"]
        add_module(self.work, "shop", "19.0.1.0.0", "Shop")
        gone = self.env["ipai.ops.build"]._notice(
            development, "f" * 40, "webhook", author="Mallory", message="Announced"
        )
        with self.assertLogs("odoo.addons.ipai_ops_builds.models.ops_project", "WARNING"):
            self.env["ipai.ops.project"]._cron_poll_repositories()
        self.assertEqual(gone.state, "failed")
        self.assertIn("cannot be read", gone.error)
        good = self.env["ipai.ops.build"].search(
            [("environment_id", "=", development.id), ("id", "!=", gone.id)]
        )
        self.assertEqual((good.state, good.described, good.modules_added),
                         ("queued", True, "shop"))  # fmt: skip

    def test_the_commit_s_own_author_and_message_win_over_the_webhook_s(self):
        development = self.envs_a["development"]
        commit = add_module(self.work, "shop", "19.0.1.0.0", "Shop: the real message")
        build = self.env["ipai.ops.build"]._notice(
            development, commit, "webhook", author="Mallory", message="Forged"
        )
        self.project_a._describe_builds()
        self.assertEqual((build.author, build.message), ("Ada", "Shop: the real message"))

    def test_an_unreachable_repository_stops_no_other(self):
        self.project_b.sudo().repository_url = "/nonexistent/repository.git"
        self.envs_b["development"].branch = "main"
        add_module(self.work, "shop", "19.0.1.0.0", "Shop")
        with self.assertLogs("odoo.addons.ipai_ops_builds.models.ops_project", "WARNING"):
            self.env["ipai.ops.project"]._cron_poll_repositories()
        self.assertTrue(self.project_a.build_ids, "project A's push was noticed all the same")


@tagged("post_install", "-at_install")
class TestWebhook(RpcCase, BuildsCase):
    def setUp(self):
        super().setUp()
        self.enterContext(patch.dict(os.environ, {SECRET_VAR: "hook-secret"}))

    def _post(self, code, body: bytes, headers: dict):
        response = self.url_open(f"/ipai_ops/webhook/{code}", data=body, headers=headers)
        return response.status_code, response.json()

    def _github(self, body: bytes, secret="hook-secret", delivery="d-1", event="push"):
        signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return {"X-Hub-Signature-256": signature, "X-GitHub-Event": event,
                "X-GitHub-Delivery": delivery, "Content-Type": "application/json"}  # fmt: skip

    def _push(self, branch="main", after="c" * 40):
        return json.dumps(
            {
                "ref": f"refs/heads/{branch}",
                "after": after,
                "head_commit": {"message": "Fix\n\ndetails", "author": {"name": "Bo"}},
                "repository": {"clone_url": "https://example.com/erp.git"},
            }
        ).encode()

    def _builds(self):
        return self.env["ipai.ops.build"].sudo().search([])

    def test_a_signed_push_builds_the_environments_on_its_branch_once(self):
        body = self._push()
        self.assertEqual(
            self._post("a", body, self._github(body)), (202, {"status": "queued", "builds": 1})
        )
        build = self._builds()
        self.assertEqual(
            (build.environment_id, build.commit), (self.envs_a["development"], "c" * 40)
        )
        self.assertEqual((build.author, build.message, build.noticed_by), ("Bo", "Fix", "webhook"))
        self.assertEqual(self._post("a", body, self._github(body))[0], 409, "a replay is refused")
        again = self._post("a", body, self._github(body, delivery="d-2"))
        self.assertEqual(again, (202, {"status": "queued", "builds": 1}))
        self.assertEqual(self._builds(), build, "the commit is built once")

    def test_unsigned_wrongly_signed_and_unknown_are_refused_alike(self):
        body = self._push()
        for code, headers in (
            ("a", {"X-GitHub-Event": "push", "X-GitHub-Delivery": "x"}),
            ("a", self._github(body, secret="guess")),
            ("a", {"X-Gitlab-Token": "guess", "X-Gitlab-Event": "Push Hook"}),
            ("no-such-project", self._github(body)),
            ("b", self._github(body)),  # project B has no webhook secret
        ):
            with self.subTest(code=code, headers=sorted(headers)):
                self.assertEqual(self._post(code, body, headers), (403, {"status": "refused"}))
        self.assertFalse(self._builds())

    def test_a_ping_and_a_deleted_branch_build_nothing(self):
        body = self._push()
        self.assertEqual(self._post("a", body, self._github(body, event="ping"))[0], 202)
        deleted = self._push(after="0" * 40)
        self.assertEqual(self._post("a", deleted, self._github(deleted, delivery="d-3"))[0], 202)
        self.assertFalse(self._builds())

    def test_gitlab_pushes_carry_the_secret(self):
        body = json.dumps({"ref": "refs/heads/staging", "after": "d" * 40,
                           "commits": [{"id": "d" * 40, "message": "Staging fix",
                                        "author": {"name": "Cy"}}]}).encode()  # fmt: skip
        headers = {"X-Gitlab-Token": "hook-secret", "X-Gitlab-Event": "Push Hook",
                   "X-Gitlab-Event-UUID": "u-1"}  # fmt: skip
        self.assertEqual(self._post("a", body, headers)[0], 202)
        self.assertEqual(self._builds().environment_id, self.envs_a["staging"])

    def test_builds_are_the_project_s_to_read_and_the_system_s_to_write(self):
        build = self.env["ipai.ops.build"]._notice(self.envs_a["development"], "e" * 40, "poll")
        users = {**self.members_a, "ops_admin": self.ops_admin, "outsider": self.outsider,
                 "other_admin": self.admin_b}  # fmt: skip
        for role, user in users.items():
            with self.subTest(role=role):
                seen = self.call(user, "ipai.ops.build", "search_read", [("id", "=", build.id)],
                                 ["commit"])  # fmt: skip
                self.assertEqual(bool(seen), role not in ("outsider", "other_admin"))
                self.assertRefused(
                    user, "ipai.ops.build", "write", [build.id], {"state": "success"}
                )
                self.assertRefused(user, "ipai.ops.build", "unlink", [build.id])
                self.assertRefused(
                    user,
                    "ipai.ops.build",
                    "create",
                    [
                        {
                            "environment_id": self.envs_a["development"].id,
                            "branch": "main",
                            "commit": "f" * 40,
                            "noticed_by": "poll",
                        }
                    ],
                )
                project = [self.project_a.id]
                if role != "ops_admin":  # the repository's credentials are placement
                    for field in ("git_token_ref", "webhook_secret_ref", "git_ssh_key_file"):
                        self.assertRefused(user, "ipai.ops.project", "read", project, [field])
                        self.assertRefused(
                            user, "ipai.ops.project", "write", project, {field: "env:PATH"}
                        )
                    # a standing approval of production restores: not one admin's to give
                    self.assertRefused(user, "ipai.ops.project", "write", project,
                                       {"restore_on_failed_update": True})  # fmt: skip
                if role in ("admin", "ops_admin"):  # by role, or by the transports allowed
                    self.assertRefused(
                        user,
                        "ipai.ops.project",
                        "write",
                        project,
                        {"repository_url": "ext::sh -c id"},
                    )


@tagged("post_install", "-at_install")
class TestRestoreAfterAFailedUpdate(BuildsCase):
    """The restore the system queues after a failed production update is approved by the
    project's setting, and nothing else is."""

    def test_only_the_system_s_restore_of_that_backup_stands_approved(self):
        production = self.envs_a["production"]
        backup, other = (
            self.env["ipai.ops.backup"]
            .sudo()
            .create([{"environment_id": production.id, "kind": "pre-update", "state": "done"}] * 2)
        )
        before = production._create_run("backup", {"kind": "pre-update"}, state="done")
        before.backup_id = backup
        build = self.env["ipai.ops.build"].sudo().create({
            "environment_id": production.id, "branch": "main", "commit": "a" * 40,
            "noticed_by": "poll", "state": "failed"})  # fmt: skip
        build.run_id = production._create_run("build", {"build_id": build.id}, after=before,
                                               state="failed")  # fmt: skip

        def restore(requester=None, **params):
            params = {"backup_id": backup.id, "mode": "replace", "failed_build_id": build.id,
                      **params}  # fmt: skip
            return production._create_run("restore", params, requester=requester)

        self.assertFalse(restore()._approved(), "the project does not ask for it")
        self.project_a.sudo().restore_on_failed_update = True
        self.assertTrue(restore()._approved())
        self.assertFalse(restore(requester=self.members_a["admin"])._approved(), "a user's")
        self.assertFalse(restore(backup_id=other.id)._approved(), "another backup")
        self.assertFalse(restore(mode="new")._approved())
        build.state = "success"
        self.assertFalse(restore()._approved(), "the build did not fail")


@tagged("post_install", "-at_install")
class TestDevelopmentBranches(RpcCase, BuildsCase):
    """A developer makes a development environment for a branch from the dashboard: it
    follows the branch, runs where the project's development runs, and its pushes are
    built. Viewers may not; nobody names a branch git would misread."""

    def setUp(self):
        super().setUp()
        host = self.env["ipai.ops.runtime.host"].create(
            {"name": "Nowhere", "endpoint": "unix:///nonexistent/ipai-ops/docker.sock"}
        )
        self.envs_a["development"].runtime_host_id = host

    def wizard(self, user, branch: str) -> list[int]:
        return [self.call(user, "ipai.ops.branch.wizard", "create",
                          [{"project_id": self.project_a.id, "branch": branch}])[0]]  # fmt: skip

    def test_a_project_makes_no_more_branches_than_its_limit(self):
        """Each branch builds and runs on hosts other projects share: past the project's
        limit (an operations administrator's setting) the wizard refuses, making nothing."""
        developer = self.members_a["developer"]
        confirm = ("ipai.ops.branch.wizard", "action_confirm")
        self.assertRefused(self.members_a["admin"], "ipai.ops.project", "write",
                           [self.project_a.id], {"branch_limit": 100})  # fmt: skip
        development = self.project_a.environment_ids.filtered(lambda e: e.stage == "development")
        self.project_a.sudo().branch_limit = len(development) + 1  # room for one more
        self.call(developer, *confirm, self.wizard(developer, "feature/one"))
        before = len(self.project_a.environment_ids)
        self.assertRefused(developer, *confirm, self.wizard(developer, "feature/two"))
        self.assertEqual(len(self.project_a.environment_ids), before)

    def test_developers_make_a_development_environment_that_follows_a_branch(self):
        confirm = ("ipai.ops.branch.wizard", "action_confirm")
        viewer = self.members_a["viewer"]
        self.assertRefused(viewer, *confirm, self.wizard(viewer, "feature/x"))
        self.assertRefused(self.admin_b, "ipai.ops.branch.wizard", "create",
                           [{"project_id": self.project_a.id, "branch": "feature/x"}])  # fmt: skip
        developer = self.members_a["developer"]
        for hostile in ("--upload-pack=sh", "a..b", "x/../../etc", "f@{1}", "x.lock", " "):
            with self.subTest(branch=hostile):
                self.assertRefused(developer, *confirm, self.wizard(developer, hostile))
        action = self.call(developer, *confirm, self.wizard(developer, "feature/prices"))
        self.assertEqual(action["res_model"], "ipai.ops.environment")
        environment = self.project_a.environment_ids.filtered(
            lambda e: e.branch == "feature/prices"
        )
        self.assertEqual((environment.stage, environment.data_class), ("development", "scratch"))
        self.assertEqual(environment.sudo().runtime_host_id,
                         self.envs_a["development"].sudo().runtime_host_id)  # fmt: skip
        self.assertRefused(developer, *confirm, self.wizard(developer, "feature/prices"))

        git(self.work, "checkout", "-q", "-b", "feature/prices")
        commit = add_module(self.work, "shop", "19.0.1.0.0", "Shop: prices")
        git(self.work, "push", "-q", "origin", "feature/prices")
        self.env["ipai.ops.project"]._cron_poll_repositories()
        build = self.env["ipai.ops.build"].search([("environment_id", "=", environment.id)])
        self.assertEqual((build.commit, build.run_id.kind), (commit, "build"))


@tagged("post_install", "-at_install")
class TestBuildLeftovers(BuildsCase):
    def test_trees_no_environment_runs_or_goes_back_to_are_removed(self):
        """Every push checks a tree out: only each environment's two newest builds, the
        unfinished ones and the one an addons path names keep theirs."""
        development = self.envs_a["development"]
        builds = self.env["ipai.ops.build"].sudo().create([
            {"environment_id": development.id, "branch": "main", "commit": f"{n:040x}",
             "noticed_by": "poll", "state": "success"} for n in range(5)])  # fmt: skip
        builds[0].state = "building"  # unfinished: its tree is being made
        served = builds[1]
        development.sudo().addons_path = str(served._tree_dir())
        for build in builds:
            build._tree_dir().mkdir(parents=True, exist_ok=True)
            (build._tree_dir() / "__manifest__.py").write_text("{}")
        self.addCleanup(shutil.rmtree, builds[0]._tree_dir().parent, True)
        outside = Path(tempfile.mkdtemp())  # a link planted among the trees is not followed
        self.addCleanup(shutil.rmtree, outside, True)
        (builds[0]._tree_dir().parent / "999999").symlink_to(outside)
        self.assertGreaterEqual(remove_unused_trees(self.env), 1)
        kept = {build: build._tree_dir().is_dir() for build in builds}
        self.assertEqual(kept, {builds[0]: True, builds[1]: True, builds[2]: False,
                                builds[3]: True, builds[4]: True})  # fmt: skip
        self.assertTrue(outside.is_dir())


@tagged("post_install", "-at_install")
class TestDashboardButtons(HttpCase, BuildsCase):
    def test_both_header_buttons_open_in_a_browser(self):
        """New development branch and Project settings, clicked: each opens its form."""
        self.start_tour("/odoo/action-ipai_ops_core.action_ipai_ops_project",
                        "ipai_ops_builds_header_tour", login="admin")  # fmt: skip
