"""What builds leave behind — a checked-out tree per build, an image per tree — collected:
every push makes both, and a host's disk is shared by every project on it."""

import logging
import shutil
from pathlib import Path

from odoo.tools import config

from ipai_ops.errors import OpsError
from ipai_ops.runtime.image import prune_unused

_logger = logging.getLogger(__name__)
TREES_KEPT = 2  # newest build trees kept per environment: the serving one and the one before
UNFINISHED = ("queued", "building", "testing")
IMAGES_UNUSED_FOR = "24h"  # an image younger than this may be about to serve


def builds_root() -> Path:
    return Path(config["data_dir"]) / "ipai_ops" / "builds"


def trees_in_use(env) -> set[int]:
    """Builds whose tree must stay: unfinished ones, each environment's newest, and
    those an environment's addons path names."""
    builds = env["ipai.ops.build"].sudo().with_context(active_test=False)
    keep = set(builds.search([("state", "in", UNFINISHED)]).ids)
    environments = env["ipai.ops.environment"].sudo().with_context(active_test=False)
    for environment in environments.search([]):
        newest = builds.search([("environment_id", "=", environment.id)], order="id desc",
                               limit=TREES_KEPT)  # fmt: skip
        keep |= set(newest.ids)
        for entry in (environment.addons_path or "").split(","):
            keep |= {int(part) for part in Path(entry.strip()).parts[-2:] if part.isdigit()}
    return keep


def remove_unused_trees(env) -> int:
    """Remove the build trees :func:`trees_in_use` does not name; never through a link."""
    root = builds_root()
    if not root.is_dir():
        return 0
    keep, removed = trees_in_use(env), 0
    for project in root.iterdir():
        if project.is_symlink() or not project.is_dir():
            continue
        for tree in project.iterdir():
            if tree.is_symlink() or not tree.name.isdigit() or int(tree.name) in keep:
                continue
            shutil.rmtree(tree, ignore_errors=True)
            removed += 1
    return removed


def prune_host_images(env) -> None:
    """Remove each runtime host's environment images no container used for a day."""
    for host in env["ipai.ops.runtime.host"].sudo().search([]):
        try:
            count, reclaimed = prune_unused(host._client(), older_than=IMAGES_UNUSED_FOR)
        except OpsError as error:  # a host that does not answer keeps its images
            _logger.warning("runtime host %s: images not collected: %s", host.name, error)
            continue
        _logger.info("runtime host %s: %s unused images removed, %.1f MiB", host.name,
                     count, reclaimed / 1024**2)  # fmt: skip
