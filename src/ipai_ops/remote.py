"""Remote storage targets, on any fsspec file system (``s3://``, ``sftp://``, ``gs://``…).

A remote target has the layout of a :class:`~ipai_ops.storage.LocalTarget` and
receives off-site copies of sets published locally; a set is fetched back into a
local target to be restored. Object stores have no atomic rename and no locks,
so publication is ordered instead: blobs first, then the dump files, and
``manifest.json`` last — a set exists when its manifest does, and a set whose
upload was interrupted is invisible and is overwritten by the next attempt.
Every byte fetched back is checked against the manifest's SHA-256.
"""

from __future__ import annotations

import json
import posixpath

import fsspec

from .errors import BackupCorrupt, BackupNotFound, StorageError
from .secret_refs import is_reference, resolve_reference
from .storage import MANIFEST, LocalTarget
from .verify import dump_problems, raise_if_problems, verify_set


def parse_storage_options(text: str | None) -> dict:
    """A target's fsspec options from their text: a JSON object, or a reference to
    that JSON on this host (``env:NAME``, ``file:/path``), which keeps credentials
    out of the control plane's database. The text is never quoted in an error."""
    text = text or "{}"
    if is_reference(text):
        text = resolve_reference(text.strip())
    try:
        options = json.loads(text)
    except ValueError:
        options = None
    if not isinstance(options, dict):
        raise StorageError("Storage options must be a JSON object.")
    return options


class RemoteTarget:
    """A storage target at an fsspec URL (credentials go in ``storage_options``)."""

    def __init__(self, url: str, **storage_options):
        try:
            self.fs, self.root = fsspec.core.url_to_fs(url, **storage_options)
        except (ImportError, ValueError) as exc:
            raise StorageError(f"Cannot use storage target {url}: {exc}") from None
        self.url = url

    def __repr__(self) -> str:
        return f"RemoteTarget({self.url!r})"

    def _path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def list_sets(self) -> list[str]:
        found = self.fs.glob(self._path("sets", "*", MANIFEST))
        return sorted(posixpath.basename(posixpath.dirname(path)) for path in found)

    def read_manifest(self, set_id: str) -> dict:
        path = self._path("sets", set_id, MANIFEST)
        if not self.fs.exists(path):
            raise BackupNotFound(f"No backup {set_id!r} on {self.url}.")
        with self.fs.open(path, "rb") as handle:
            return json.loads(handle.read())

    def has_blob(self, digest: str, size: int) -> bool:
        path = self._path("blobs", digest[:2], digest)
        return self.fs.exists(path) and self.fs.size(path) == size

    def push_set(self, local: LocalTarget, set_id: str) -> int:
        """Upload a locally published set; return the bytes of blobs uploaded."""
        manifest, _report = verify_set(local, set_id)
        uploaded = 0
        try:  # the first request is the listing: a refused one is reported like the rest
            if set_id in self.list_sets():
                return 0
            for _path, size, _mtime, digest in _files(manifest):
                if not self.has_blob(digest, size):
                    self._put(local.blob_path(digest), "blobs", digest[:2], digest)
                    uploaded += size
            set_dir = local.set_path(set_id)
            for name in manifest["dump"]["files"]:
                self._put(set_dir / "dump" / name, "sets", set_id, "dump", name)
            self._put(set_dir / MANIFEST, "sets", set_id, MANIFEST)  # last: publishes the set
        except OSError as exc:
            raise StorageError(f"Uploading {set_id} to {self.url} failed: {exc}") from None
        return uploaded

    def _put(self, source, *parts: str) -> None:
        path = self._path(*parts)
        self.fs.makedirs(posixpath.dirname(path), exist_ok=True)  # no-op on object stores
        self.fs.put_file(str(source), path)

    def fetch_set(self, set_id: str, local: LocalTarget) -> int:
        """Bring a set back into a local target (checked, then published there)."""
        manifest = self.read_manifest(set_id)
        local.ensure()
        fetched = 0
        with local.lock(exclusive=False):
            if set_id in local.list_sets():
                return 0
            for _path, size, _mtime, digest in _files(manifest):
                if not local.has_blob(digest, size):
                    with self.fs.open(self._path("blobs", digest[:2], digest), "rb") as remote:
                        got, got_size, _new = local.store_stream(remote, what=digest)
                    if (got, got_size) != (digest, size):
                        raise BackupCorrupt(f"Blob {digest[:12]}… on {self.url} is corrupt.")
                    fetched += size
            with local.partial(set_id) as partial:
                (partial / "dump").mkdir()
                for name in manifest["dump"]["files"]:
                    self.fs.get_file(
                        self._path("sets", set_id, "dump", name), str(partial / "dump" / name)
                    )
                raise_if_problems(
                    set_id, dump_problems(partial / "dump", manifest["dump"]["files"])
                )
                (partial / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
                local.publish(partial, set_id)
        return fetched


def _files(manifest: dict) -> list:
    return (manifest.get("filestore") or {}).get("files", [])
