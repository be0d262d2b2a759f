"""A project's git repository: what a branch points to, a local mirror, the tree of a
commit, and the Odoo modules a commit changed.

git runs with argument lists (``--`` before every URL, which may come from a form),
and only over the transports code is fetched by: HTTPS, SSH, git and local paths —
never ``ext::``, which would run a command of the URL's choosing. A token or password
never appears in an argument list or in the URL: git asks for it through
``GIT_ASKPASS``, a tiny program that prints a variable of its own environment; an SSH
key is named by its file.
"""

from __future__ import annotations

import ast
import io
import os
import re
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from .errors import OpsError
from .pgtools import dies_with_us
from .secret_refs import resolve_reference

ALLOWED_PROTOCOLS = "https:ssh:git:file"  # GIT_ALLOW_PROTOCOL: never ext::, fd::, http
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:(?!/)[\w./~-]+$")  # git@host:group/repo.git
_URL = re.compile(r"^(https|ssh|git|file)://[^\s]+$")
_SHA = re.compile(r"^[0-9a-f]{40}$")
_KEY_FILE = re.compile(r"^/[\w./-]+$")  # it goes into GIT_SSH_COMMAND, which a shell reads
STDERR_TAIL = 2000
_ASKPASS = """#!/bin/sh
case "$1" in
    Username*) printf '%s\\n' "$IPAI_OPS_GIT_USERNAME" ;;
    *) printf '%s\\n' "$IPAI_OPS_GIT_TOKEN" ;;
esac
"""


class GitError(OpsError):
    """A git operation that failed: an unreachable repository, a refused credential…"""


@dataclass(frozen=True)
class RepoAuth:
    """How to authenticate to a repository: an HTTPS token (by reference, ``env:`` or
    ``file:``), or an SSH key file; nothing for public or local repositories."""

    token_ref: str | None = None
    username: str = "git"  # GitHub takes any name with a token; GitLab: oauth2
    ssh_key_file: str | None = None


def validate_url(url: str) -> str:
    """``url`` when git may fetch from it, else :class:`GitError`."""
    url = (url or "").strip()
    if _URL.match(url):
        if urlsplit(url).password is not None:
            raise GitError("Put no password in the repository URL: reference a token instead.")
        return url
    if _SCP_LIKE.match(url) or (os.path.isabs(url) and "\n" not in url):
        return url
    raise GitError(
        f"{url!r} is not a repository git may fetch: use https://, ssh://, git@host:path or "
        "an absolute path."
    )


@lru_cache(maxsize=1)
def _askpass() -> str:
    """The askpass program (it holds no secret: it prints one from its environment)."""
    directory = tempfile.mkdtemp(prefix="ipai-ops-askpass-")  # 0700, ours
    path = os.path.join(directory, "askpass")
    with open(path, "w", encoding="ascii") as handle:
        handle.write(_ASKPASS)
    os.chmod(path, 0o700)
    return path


def git_env(auth: RepoAuth | None) -> dict:
    """The environment git runs in: no prompt, no system config, allowed transports
    only, and the credential where git asks for it."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    }
    env |= {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_ALLOW_PROTOCOL": ALLOWED_PROTOCOLS,
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new",
    }
    if auth and auth.token_ref:
        env |= {
            "GIT_ASKPASS": _askpass(),
            "IPAI_OPS_GIT_USERNAME": auth.username,
            "IPAI_OPS_GIT_TOKEN": resolve_reference(auth.token_ref),
        }
    if auth and auth.ssh_key_file:
        if not _KEY_FILE.match(auth.ssh_key_file):
            raise GitError(f"{auth.ssh_key_file!r} is not an absolute path of plain characters.")
        env["GIT_SSH_COMMAND"] += f" -o IdentitiesOnly=yes -i {auth.ssh_key_file}"
    return env


def _git(args: list[str], auth: RepoAuth | None = None, *, what: str) -> bytes:
    proc = subprocess.run(  # noqa: S603 - argument list, never a shell
        dies_with_us(["git", *args]), env=git_env(auth), capture_output=True, check=False
    )
    if proc.returncode != 0:
        stderr = proc.stderr.decode(errors="replace").strip()
        raise GitError(f"{what} failed (git exit {proc.returncode}): {stderr[-STDERR_TAIL:]}")
    return proc.stdout


# what git check-ref-format --branch accepts, less its oddities: no leading '-', no '..',
# no '//', no '@{', no ending in '/', '.' or '.lock', no control or special characters
BRANCH_NAME = re.compile(
    r"(?!-)(?!.*\.\.)(?!.*//)(?!.*@\{)[A-Za-z0-9._/+-]{1,200}(?<![/.])(?<!\.lock)"
)


def validate_branch(name: str) -> str:
    """``name`` if it is a branch name git accepts, else raise :class:`GitError`."""
    if not isinstance(name, str) or not BRANCH_NAME.fullmatch(name):
        raise GitError(
            f"{name!r} is not a branch name: use letters, digits and '._/+-', not starting "
            "with '-', without '..' or '//'."
        )
    return name


def remote_head(url: str, branch: str, auth: RepoAuth | None = None) -> str | None:
    """The commit ``branch`` points to in the repository at ``url`` (None: no such branch)."""
    out = _git(
        ["ls-remote", "--heads", "--", validate_url(url), f"refs/heads/{branch}"],
        auth,
        what=f"Reading branch {branch} of {url}",
    )
    wanted = f"refs/heads/{branch}"
    for line in out.decode().splitlines():  # git matches patterns: only the name itself counts
        sha, _, ref = line.partition("\t")
        if ref == wanted:
            return sha
    return None


def mirror(url: str, directory: Path, auth: RepoAuth | None = None) -> Path:
    """A bare mirror of the repository in ``directory``, created or brought up to date."""
    directory = Path(directory)
    if (directory / "HEAD").exists():  # the URL may have changed since: follow it
        _git(["-C", str(directory), "remote", "set-url", "origin", "--", validate_url(url)],
             what="Pointing the mirror at its repository")  # fmt: skip
        _git(["-C", str(directory), "remote", "update", "--prune"], auth, what=f"Fetching {url}")
    else:
        _git(["clone", "--mirror", "--quiet", "--", validate_url(url), str(directory)], auth,
             what=f"Cloning {url}")  # fmt: skip
    return directory


def _rev(repo: Path, ref: str) -> str:
    out = _git(["-C", str(repo), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
               what=f"Finding {ref}")  # fmt: skip
    return out.decode().strip()


def commit_info(repo: Path, ref: str) -> dict:
    """Who made the commit, when, and its first line."""
    sha = _rev(repo, ref)
    out = _git(["-C", str(repo), "log", "-1", "--format=%H%x00%an%x00%ae%x00%aI%x00%s", sha],
               what=f"Reading commit {ref}")  # fmt: skip
    sha, author, email, date, subject = out.decode().rstrip("\n").split("\0")
    return {"sha": sha, "author": author, "email": email, "date": date, "message": subject}


def export_tree(repo: Path, ref: str, destination: Path) -> Path:
    """The files of ``ref`` written to ``destination`` (no ``.git``: what a build runs)."""
    archive = _git(["-C", str(repo), "archive", "--format=tar", _rev(repo, ref)],
                   what=f"Exporting {ref}")  # fmt: skip
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(destination, filter="data")  # refuses links and paths out of it
    return destination


def _modules(repo: Path, sha: str) -> dict[str, str]:
    """The Odoo modules of a commit: their directory → their manifest's version."""
    out = _git(["-C", str(repo), "ls-tree", "-r", "--name-only", sha], what="Listing the tree")
    modules = {}
    for path in out.decode().splitlines():
        if path.endswith("/__manifest__.py"):
            directory = path.rpartition("/")[0]
            text = _git(["-C", str(repo), "show", f"{sha}:{path}"], what=f"Reading {path}")
            modules[directory] = _manifest_version(text.decode(errors="replace"))
    return modules


def _manifest_version(text: str) -> str:
    try:
        manifest = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return ""
    return str(manifest.get("version", "")) if isinstance(manifest, dict) else ""


def changed_modules(repo: Path, old: str | None, new: str) -> dict[str, list[str]]:
    """The modules ``new`` adds, removes, changes (any file) and whose version it bumps,
    against ``old`` (everything is added when there is no ``old``). Names are the
    modules' directory names: what ``-u`` takes."""
    new_sha = _rev(repo, new)
    after = _modules(repo, new_sha)
    if not old:
        return {"added": _names(after), "removed": [], "changed": [], "version_bumped": []}
    old_sha = _rev(repo, old)
    before = _modules(repo, old_sha)
    out = _git(["-C", str(repo), "diff", "--name-only", old_sha, new_sha], what="Comparing")
    touched = out.decode().splitlines()
    kept = before.keys() & after.keys()
    return {
        "added": _names(after.keys() - before.keys()),
        "removed": _names(before.keys() - after.keys()),
        "changed": _names(d for d in kept if any(p.startswith(f"{d}/") for p in touched)),
        "version_bumped": _names(d for d in kept if before[d] != after[d]),
    }


def _names(directories) -> list[str]:
    return sorted(d.rpartition("/")[2] or d for d in directories)


def is_sha(text: str) -> bool:
    return bool(_SHA.match(text or ""))
