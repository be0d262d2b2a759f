"""What makes a copy safe, in one place: mask it, prove no original value survived, then
neutralize it — in that order, so that the branch's own scripts (run by neutralization)
see masked data only.

The Clone button, ``ipai-ops clone`` and the benchmark all prepare a copy with
:func:`make_safe`, so what is measured is what users get.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .connection import ServerSpec
from .mask import MaskReport, MaskRule, mask_database
from .mask_check import CHECK_JOBS, check_no_survivors, find_survivors, raise_on_survivors
from .neutralize import NeutralizationReport, neutralize_database
from .progress import ProgressCallback, Tracker


@dataclass
class SafeCopyReport:
    neutralization: NeutralizationReport
    masking: MaskReport | None = None  # None: a copy of data that needs no masking
    seconds: dict[str, float] = field(default_factory=dict)  # per phase, in order

    @property
    def phases(self) -> str:
        return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in self.seconds.items())


@dataclass(frozen=True)
class Masking:
    """How to mask: the rules (None: the defaults), the project's key, the admin password."""

    rules: list[MaskRule] | None = None
    key: str | None = None
    admin_password: str | None = None


def make_safe(
    spec: ServerSpec, database: str, *, source: str, neutralize: dict,
    masking: Masking | None = None, jobs: int = CHECK_JOBS,
    progress: ProgressCallback | None = None, on_masked=None,
) -> SafeCopyReport:  # fmt: skip
    """Prepare ``database``, a copy of ``source`` not yet published.

    :param neutralize: :func:`~ipai_ops.neutralize.neutralize_database`'s options
    :param masking: None: neutralize only (the source holds no personal data)
    :param on_masked: called with the masking report once it is proven
    :raises MaskingFailed, NeutralizationFailed: the copy is not safe; the caller drops it
    """
    steps = {"mask": 2, "check": 1, "neutralize": 1} if masking else {"neutralize": 1}
    tracker = Tracker(progress, steps)
    seconds: dict[str, float] = {}
    report = None
    if masking:
        started = time.monotonic()
        report = mask_database(
            spec, database, masking.rules, admin_password=masking.admin_password,
            key=masking.key, progress=tracker.within("mask"),
        )  # fmt: skip
        seconds["mask"] = time.monotonic() - started
        tracker.phase("check", "Checking that no original value survived")
        report.survivors = _survivors(spec, (source, database), masking.rules, jobs, seconds)
        raise_on_survivors(report.survivors)
        if on_masked:
            on_masked(report)
    tracker.phase("neutralize", f"Neutralizing {database}")
    started = time.monotonic()
    neutralized = neutralize_database(spec, database, **neutralize)
    seconds["neutralize"] = time.monotonic() - started
    return SafeCopyReport(neutralized, report, seconds)


def _survivors(spec, pair, rules, jobs, seconds) -> dict[str, int]:
    started = time.monotonic()
    survivors = check_no_survivors(spec, spec, pair, rules, jobs=jobs)
    seconds["check masked columns"] = time.monotonic() - started
    started = time.monotonic()
    stray = find_survivors(spec, spec, pair, rules, jobs=jobs)
    seconds["scan every text column"] = time.monotonic() - started
    return survivors | {f"{column} (found by the full scan)": n for column, n in stray.items()}
