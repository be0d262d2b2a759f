"""The ``verify`` operation: does a published backup set still match its manifest?"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import BackupCorrupt
from .filestore import refuse_unsafe_entries
from .storage import LocalTarget, sha256_file

MAX_LISTED_PROBLEMS = 10


@dataclass(frozen=True)
class VerifyReport:
    set_id: str
    dump_files: int
    blobs_checked: int
    deep: bool
    missing_files: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        how = "content re-hashed" if self.deep else "sizes checked"
        text = (
            f"Backup {self.set_id} is intact: {self.dump_files} dump files match their "
            f"checksums, {self.blobs_checked} filestore blobs present ({how})."
        )
        if self.missing_files:
            shown = ", ".join(self.missing_files[:MAX_LISTED_PROBLEMS])
            text += (
                f" {len(self.missing_files)} file(s) the database refers to were already "
                f"missing from the filestore when it was taken: {shown}"
            )
        return text


def verify_set(
    target: LocalTarget, set_id: str, *, deep: bool = False
) -> tuple[dict, VerifyReport]:
    """Check every dump file's SHA-256 and every blob's presence (``deep``: its content).

    :return: the manifest and a report
    :raises BackupCorrupt: listing what does not match
    """
    manifest = target.read_manifest(set_id)
    expected = manifest.get("dump", {}).get("files", {})
    refuse_unsafe_entries((manifest.get("filestore") or {}).get("files", []))
    problems = dump_problems(target.set_path(set_id) / "dump", expected)
    blobs = {entry[3]: entry[1] for entry in (manifest.get("filestore") or {}).get("files", [])}
    for digest, size in blobs.items():
        if not target.has_blob(digest, size):
            problems.append(f"filestore blob {digest[:12]}… is missing or truncated")
        elif deep and sha256_file(target.blob_path(digest))[0] != digest:
            problems.append(f"filestore blob {digest[:12]}… does not match its checksum")
    if not expected:
        problems.append("the manifest lists no dump files")
    raise_if_problems(set_id, problems)
    missing = tuple((manifest.get("filestore") or {}).get("missing") or ())
    return manifest, VerifyReport(set_id, len(expected), len(blobs), deep, missing)


def dump_problems(dump_dir: Path, expected: dict) -> list[str]:
    """What is missing, extra or altered in a dump directory, by its manifest entry."""
    odd = [name for name in expected if "/" in name or name in ("", ".", "..")]
    if odd:  # a manifest naming files outside its dump: not written by ipai-ops
        return [f"the manifest names dump file {name!r}, outside the dump" for name in odd[:5]]
    present = {p.name for p in dump_dir.iterdir()} if dump_dir.is_dir() else set()
    problems = [f"dump file {name} is missing" for name in sorted(set(expected) - present)]
    problems += [f"unexpected dump file {name}" for name in sorted(present - set(expected))]
    for name in sorted(set(expected) & present):
        digest, size = sha256_file(dump_dir / name)
        if (digest, size) != (expected[name]["sha256"], expected[name]["size"]):
            problems.append(f"dump file {name} does not match its checksum")
    return problems


def raise_if_problems(set_id: str, problems: list[str]) -> None:
    if problems:
        shown = "; ".join(problems[:MAX_LISTED_PROBLEMS])
        more = len(problems) - MAX_LISTED_PROBLEMS
        raise BackupCorrupt(
            f"Backup {set_id} is corrupt: {shown}" + (f" (and {more} more)" if more > 0 else "")
        )
