"""What pylint-odoo says of a repository's addons: the checks the OCA makes mandatory.

pylint reads the code and never runs it. It is run with a configuration of ours only:
a repository's own ``.pylintrc`` could load plugins or run an ``init-hook``, which would
be running the repository's code on the control plane.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import OpsError

TIMEOUT = 600  # seconds
ODOO_SERIES = "19.0"
CHECKS = (
    "attribute-deprecated", "attribute-string-redundant", "context-overridden",
    "dangerous-default-value", "duplicate-key", "eval-used", "except-pass",
    "external-request-timeout", "invalid-commit", "license-allowed", "manifest-author-string",
    "manifest-deprecated-key", "manifest-required-key", "manifest-version-format",
    "method-compute", "method-inverse", "method-required-super", "method-search",
    "missing-return", "odoo-addons-relative-import", "print-used", "redundant-keyword-arg",
    "renamed-field-parameter", "resource-not-exist", "sql-injection", "test-folder-imported",
    "translation-contains-variable", "translation-field", "translation-positional-used",
    "translation-required", "unreachable",
)  # fmt: skip
RCFILE = f"""[MASTER]
load-plugins=pylint_odoo
score=n

[ODOOLINT]
manifest-required-keys=license
manifest-deprecated-keys=description,active
valid-odoo-versions={ODOO_SERIES}

[MESSAGES CONTROL]
disable=all
enable={",".join(CHECKS)}
"""


@dataclass(frozen=True)
class LintMessage:
    path: str  # relative to the repository
    line: int
    symbol: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: [{self.symbol}] {self.message}"


class LintUnavailable(OpsError):
    """pylint-odoo is not installed where the control plane runs, or could not run."""


def lint_modules(tree: Path) -> list[LintMessage]:
    """pylint-odoo's messages on every module of ``tree``, sorted by file and line."""
    if importlib.util.find_spec("pylint_odoo") is None:
        raise LintUnavailable("pylint-odoo is not installed with the control plane.")
    tree = Path(tree).resolve()
    modules = sorted(str(p.parent) for p in tree.glob("*/__manifest__.py"))
    if not modules:
        return []
    with tempfile.TemporaryDirectory() as scratch:
        rcfile = Path(scratch) / "pylintrc"
        rcfile.write_text(RCFILE)
        result = _run(
            [
                sys.executable,
                "-m",
                "pylint",
                f"--rcfile={rcfile}",
                "--output-format=json",
                *modules,
            ],
            cwd=scratch,
        )
    try:
        found = json.loads(result.stdout or "[]")
    except ValueError:
        tail = "\n".join(result.stderr.strip().splitlines()[-10:])
        raise LintUnavailable(f"pylint did not run (exit {result.returncode}):\n{tail}") from None
    messages = [
        LintMessage(_relative(m["path"], tree), m["line"], m["symbol"], m["message"]) for m in found
    ]
    return sorted(messages, key=lambda m: (m.path, m.line, m.symbol))


def _run(argv: list[str], cwd: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(  # noqa: S603 - argument list, absolute paths
            argv, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise LintUnavailable(f"pylint ran longer than {TIMEOUT}s.") from None


def _relative(path: str, tree: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(tree))
    except ValueError:
        return path
