"""What Odoo's own code-upgrade scripts (``odoo-bin upgrade_code``) would change in an
environment's code, as a unified diff, without changing it.

They run in a one-off container of the environment's image, without network: the Odoo
there is the one the code runs on, and the code is the copy baked into the image, copied
once more before the scripts rewrite it. Every script up to the image's Odoo version
runs (each does nothing to code already up to date).
"""

from __future__ import annotations

import json

import docker

from ..errors import RuntimeHostError
from . import engine
from .container_files import run_to_end
from .image import ADDONS_PATH_LABEL

MARKER = "IPAI-OPS-UPGRADE-CODE "
TIMEOUT = 600  # seconds

# run by the image's python3, with the baked addons directories as arguments
SCRIPT = r"""
import contextlib, difflib, io, json, shutil, sys
from pathlib import Path
from odoo import release
from odoo.cli.upgrade_code import migrate
from odoo.tools import parse_version

diffs = []
for number, source in enumerate(sys.argv[1:]):
    source, work = Path(source), Path(f"/tmp/upgrade-code-{number}")
    shutil.copytree(source, work)
    with contextlib.redirect_stdout(io.StringIO()):
        migrate([str(work)], "**/*", parse_version("0.0"), parse_version(release.version))
    for path in sorted(p for p in work.rglob("*") if p.is_file()):
        name = str(path.relative_to(work))
        try:
            before, after = (source / name).read_text(), path.read_text()
        except (OSError, UnicodeDecodeError):
            continue
        if before != after:
            diffs.append("".join(difflib.unified_diff(
                before.splitlines(True), after.splitlines(True), f"a/{name}", f"b/{name}")))
print("IPAI-OPS-UPGRADE-CODE " + json.dumps(diffs))
"""


class UpgradeCodeFailed(RuntimeHostError):
    """The scripts could not run; the message quotes the end of their log."""


def upgrade_diffs(client: docker.DockerClient, tag: str, labels: dict[str, str]) -> list[str]:
    """One unified diff per file the scripts would rewrite in image ``tag``'s code."""
    baked = client.images.get(tag).labels.get(ADDONS_PATH_LABEL, "")
    dirs = [d for d in baked.split(",") if d]
    if not dirs:
        return []
    code, log = run_to_end(
        client, tag, ["python3", "-c", SCRIPT, *dirs],
        labels={**labels, engine.ROLE: "once"}, timeout=TIMEOUT,
    )  # fmt: skip
    for line in reversed(log.splitlines()):
        if code == 0 and line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    tail = "\n".join(log.strip().splitlines()[-15:])
    raise UpgradeCodeFailed(f"upgrade_code did not run (exit {code}):\n{tail}")
