"""The ``prune`` operation: apply retention to a target, then collect unreferenced blobs.

Sets are deleted first (each disappears atomically by rename), then blobs that no
remaining set references. It holds the target's exclusive lock, so no backup is
writing blobs meanwhile; and it never deletes a blob a remaining set refers to,
nor the newest backup of any database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from .errors import BackupCorrupt
from .retention import BackupRef, RetentionPolicy, backups_to_keep
from .storage import LocalTarget


@dataclass
class PruneReport:
    deleted_sets: list[str] = field(default_factory=list)
    kept_sets: list[str] = field(default_factory=list)
    deleted_blobs: int = 0
    freed_bytes: int = 0
    unreadable: list[str] = field(default_factory=list)  # sets kept: manifest unreadable

    @property
    def summary(self) -> str:
        text = (
            f"Pruned {len(self.deleted_sets)} backup(s), kept {len(self.kept_sets)}; removed "
            f"{self.deleted_blobs} unreferenced blob(s), {self.freed_bytes / 1024**2:.1f} MiB."
        )
        if self.unreadable:
            text += (
                f" {len(self.unreadable)} set(s) with an unreadable manifest were left alone, "
                f"and no blob was collected: {', '.join(self.unreadable)}."
            )
        return text


def refs_by_database(target: LocalTarget) -> dict[str, list[BackupRef]]:
    """Every readable published set of ``target`` as retention input, by database."""
    grouped: dict[str, list[BackupRef]] = {}
    for set_id, manifest, _why in target.manifests():
        if manifest is None:
            continue
        ref = BackupRef(set_id, datetime.fromisoformat(manifest["started_at"]), manifest["kind"])
        grouped.setdefault(manifest["database"], []).append(ref)
    return grouped


def prune_target(
    target: LocalTarget,
    policy: RetentionPolicy,
    *,
    now: datetime | None = None,
    only: set[str] | None = None,
) -> PruneReport:
    """Apply ``policy`` per database on ``target``; ``only`` limits deletions to those sets."""
    now = now or datetime.now(timezone.utc)
    report = PruneReport()
    with target.lock(exclusive=True):
        target.clean_leftovers()
        for refs in refs_by_database(target).values():
            keep = backups_to_keep(refs, policy, now)
            for ref in refs:
                if ref.key in keep or (only is not None and ref.key not in only):
                    report.kept_sets.append(ref.key)
                else:
                    target.delete_set(ref.key)
                    report.deleted_sets.append(ref.key)
        report.unreadable = [
            set_id for set_id, manifest, _why in target.manifests() if not manifest
        ]
        if not report.unreadable:  # a set we cannot read may reference any blob
            report.deleted_blobs, report.freed_bytes = collect_garbage(target)
    return report


def collect_orphans(target: LocalTarget) -> tuple[int, int] | None:
    """Remove the blobs failed or killed backups left, when it is safe now: nobody else
    holds the target (a running backup may be reusing such a blob) and every set's
    manifest can be read.

    :return: (blobs deleted, bytes freed), or None when there was nothing to do or it
        had to wait (the mark stays for the next operation)
    """
    with target.lock_if_alone() as alone:
        if not alone:
            return None
        target.clean_leftovers()  # a killed backup's partial marks its blobs as orphans
        if not target.has_orphans():
            return None
        try:
            return collect_garbage(target)
        except BackupCorrupt:
            return None


def referenced_blobs(target: LocalTarget) -> set[str]:
    referenced = set()
    for set_id, manifest, why in target.manifests():
        if manifest is None:
            raise BackupCorrupt(f"Not collecting blobs: {set_id} is unreadable ({why}).")
        files = manifest.get("filestore") or {}
        referenced.update(entry[3] for entry in files.get("files", []))
    return referenced


def collect_garbage(target: LocalTarget) -> tuple[int, int]:
    """Delete blobs no published set references. Call with the exclusive lock held."""
    referenced = referenced_blobs(target)
    deleted = freed = 0
    for digest, path in list(target.iter_blobs()):
        if digest not in referenced:
            freed += path.stat().st_size
            path.unlink()
            deleted += 1
    target.orphans_collected()
    return deleted, freed
