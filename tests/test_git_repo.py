"""A project's repository, on real git: branches, mirrors, trees and changed modules."""

import hashlib
import hmac
import json
import subprocess
from pathlib import Path

import pytest

from ipai_ops.git_repo import (
    GitError,
    RepoAuth,
    changed_modules,
    commit_info,
    export_tree,
    git_env,
    mirror,
    remote_head,
    validate_branch,
    validate_url,
)
from ipai_ops.webhooks import WebhookRefused, parse_push, verify


def git(cwd, *args):
    return subprocess.run(
        ["git", "-c", "user.name=Ada", "-c", "user.email=ada@example.com", *args],
        cwd=cwd, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


def manifest(path, version):
    path.mkdir(parents=True, exist_ok=True)
    (path / "__init__.py").write_text("")
    (path / "__manifest__.py").write_text(repr({"name": path.name, "version": version}))


@pytest.fixture
def repo(tmp_path):
    """A working tree with two modules, pushed to a bare "remote"."""
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    manifest(work / "addons" / "shop", "19.0.1.0.0")
    manifest(work / "addons" / "legacy", "19.0.1.0.0")
    (work / "README.md").write_text("demo\n")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "First: shop and legacy")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(work), str(remote))
    git(work, "remote", "add", "origin", str(remote))
    return work, remote


def test_a_push_is_seen_by_the_branch_head_and_by_the_mirror(repo, tmp_path):
    work, remote = repo
    first = git(work, "rev-parse", "HEAD")
    assert remote_head(str(remote), "main") == first
    assert remote_head(str(remote), "no-such-branch") is None
    git(work, "push", "-q", "origin", "main:aaa")  # a branch a pattern would match first
    for pattern in ("*", "ma?n", "m*"):
        assert remote_head(str(remote), pattern) is None, pattern
    cache = mirror(str(remote), tmp_path / "cache" / "demo.git")

    (work / "addons" / "shop" / "models.py").write_text("# a change\n")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "Shop: a model")
    git(work, "push", "-q", "origin", "main")
    second = git(work, "rev-parse", "HEAD")
    assert remote_head(str(remote), "main") == second
    mirror(str(remote), cache)  # brought up to date, not cloned again
    info = commit_info(cache, second)
    assert (info["sha"], info["author"], info["message"]) == (second, "Ada", "Shop: a model")

    moved = tmp_path / "moved.git"
    git(tmp_path, "clone", "-q", "--bare", str(remote), str(moved))
    (work / "addons" / "shop" / "views.xml").write_text("<odoo/>\n")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "Shop: a view")
    git(work, "push", "-q", str(moved), "main")
    third = git(work, "rev-parse", "HEAD")
    mirror(str(moved), cache)  # the project's repository moved: the mirror follows it
    assert commit_info(cache, third)["sha"] == third


def test_changed_modules_between_two_commits(repo):
    work, _remote = repo
    first = git(work, "rev-parse", "HEAD")
    (work / "addons" / "shop" / "models.py").write_text("# a change\n")
    manifest(work / "addons" / "shop", "19.0.1.1.0")
    manifest(work / "addons" / "loyalty", "19.0.1.0.0")
    git(work, "rm", "-q", "-r", "addons/legacy")
    (work / "README.md").write_text("changed, but in no module\n")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "Second")
    assert changed_modules(work, first, "HEAD") == {
        "added": ["loyalty"], "removed": ["legacy"], "changed": ["shop"],
        "version_bumped": ["shop"],
    }  # fmt: skip
    assert changed_modules(work, None, first)["added"] == ["legacy", "shop"]


def test_a_commit_s_tree_is_exported_without_git(repo, tmp_path):
    work, _remote = repo
    tree = export_tree(work, "main", tmp_path / "build")
    assert (tree / "addons" / "shop" / "__manifest__.py").exists()
    assert not (tree / ".git").exists()


def test_only_the_transports_code_comes_by(tmp_path):
    for url in (
        "https://git.example.com/acme/erp.git",
        "ssh://git@example.com/erp.git",
        "git@github.com:acme/erp.git",
        "/srv/git/erp.git",
        "file:///srv/git/erp.git",
    ):
        assert validate_url(url) == url  # fmt: skip
    marker = tmp_path / "ran"
    for url in (
        f"ext::sh -c touch% {marker}",
        "--upload-pack=touch /tmp/x",
        "http://plain.example/x",
    ):
        with pytest.raises(GitError, match="not a repository"):
            remote_head(url, "main")
    with pytest.raises(GitError, match="no password"):
        validate_url("https://ada:s3cret@git.example.com/erp.git")
    # and git itself refuses ext:: should a URL reach it some other way
    proc = subprocess.run(["git", "ls-remote", f"ext::sh -c touch% {marker}"],
                          env=git_env(None), capture_output=True, check=False)  # fmt: skip
    assert proc.returncode != 0 and not marker.exists()


def test_a_token_reaches_git_through_askpass_never_the_arguments(monkeypatch, repo):
    monkeypatch.setenv("ERP_GIT_TOKEN", "tok-123456")
    env = git_env(RepoAuth(token_ref="env:ERP_GIT_TOKEN", username="oauth2"))
    asked = {
        prompt: subprocess.run([env["GIT_ASKPASS"], prompt], env=env, capture_output=True,
                               text=True, check=True).stdout.strip()
        for prompt in ("Username for 'https://git.example.com': ",
                       "Password for 'https://oauth2@git.example.com': ")
    }  # fmt: skip
    assert list(asked.values()) == ["oauth2", "tok-123456"]
    assert "tok-123456" not in Path(env["GIT_ASKPASS"]).read_text(), "it holds no secret"
    _work, remote = repo
    assert remote_head(str(remote), "main", RepoAuth(token_ref="env:ERP_GIT_TOKEN"))
    with pytest.raises(GitError, match="plain characters"):
        git_env(RepoAuth(ssh_key_file="/keys/id; touch /tmp/x"))


def _push_body(after="a" * 40, ref="refs/heads/feature-x"):
    return json.dumps(
        {
            "ref": ref,
            "after": after,
            "repository": {"clone_url": "https://git.example.com/acme/erp.git"},
        }
    ).encode()


def test_github_pushes_are_accepted_only_signed_by_the_project_s_secret():
    body = _push_body()
    signature = "sha256=" + hmac.new(b"hook-secret", body, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature-256": signature, "X-GitHub-Event": "push",
               "X-GitHub-Delivery": "d-1"}  # fmt: skip
    assert verify(headers, body, "hook-secret") == "github"
    push = parse_push("github", headers, body)
    assert (push.branch, push.commit, push.delivery) == ("feature-x", "a" * 40, "d-1")
    assert push.repository_urls == ("https://git.example.com/acme/erp.git",)
    for bad in (
        {**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64},
        {"X-GitHub-Event": "push"},
    ):
        with pytest.raises(WebhookRefused):
            verify(bad, body, "hook-secret")
    with pytest.raises(WebhookRefused, match="not match"):
        verify(headers, body + b" ", "hook-secret")  # the body changed on the way
    with pytest.raises(WebhookRefused, match="no webhook secret"):
        verify(headers, body, "")
    assert parse_push("github", {**headers, "X-GitHub-Event": "ping"}, body) is None
    deleted = _push_body(after="0" * 40)
    assert parse_push("github", headers, deleted) is None


def test_gitlab_pushes_carry_the_secret_as_a_token():
    body = json.dumps(
        {
            "ref": "refs/heads/main",
            "after": "b" * 40,
            "project": {"git_ssh_url": "git@gitlab.example.com:acme/erp.git"},
        }
    ).encode()
    headers = {"X-Gitlab-Token": "hook-secret", "X-Gitlab-Event": "Push Hook"}
    assert verify(headers, body, "hook-secret") == "gitlab"
    assert parse_push("gitlab", headers, body).repository_urls == (
        "git@gitlab.example.com:acme/erp.git",
    )
    with pytest.raises(WebhookRefused):
        verify({**headers, "X-Gitlab-Token": "guess"}, body, "hook-secret")


def test_branch_names_git_could_misread_are_refused():
    for name in ("main", "feature/prices", "19.0-fix", "saas+17.4"):
        assert validate_branch(name) == name
    hostile_names = ("--upload-pack=sh", "-x", "a..b", "x/../../etc", "f@{1}", "x.lock",
                     "a//b", "a/", "a.", " ", "", "a b", "a\nb", "a~1", "a^", "a:b",
                     "a*")  # fmt: skip
    for hostile in hostile_names:
        with pytest.raises(GitError, match="not a branch name"):
            validate_branch(hostile)
