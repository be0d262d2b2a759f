"""Copy a published backup set to a second (off-site) target, blobs deduplicated there too."""

from __future__ import annotations

import shutil

from .storage import LocalTarget
from .verify import verify_set


def replicate_set(source: LocalTarget, destination, set_id: str) -> int:
    """Copy ``set_id`` and the blobs ``destination`` lacks; publish it there.

    ``destination`` is another local target (published atomically) or a
    :class:`~ipai_ops.remote.RemoteTarget` (manifest uploaded last).

    :return: bytes of blobs copied
    """
    if not isinstance(destination, LocalTarget):
        return destination.push_set(source, set_id)
    manifest, _report = verify_set(source, set_id)
    destination.ensure()
    copied = 0
    with destination.lock(exclusive=False):
        if set_id in destination.list_sets():
            return 0
        for _path, size, _mtime, digest in (manifest.get("filestore") or {}).get("files", []):
            if not destination.has_blob(digest, size):
                _digest, written, new = destination.store_blob(source.blob_path(digest))
                copied += written if new else 0
        with destination.partial(set_id) as partial:
            shutil.copytree(source.set_path(set_id), partial, dirs_exist_ok=True)
            destination.publish(partial, set_id)
    verify_set(destination, set_id)
    return copied
