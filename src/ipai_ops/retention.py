"""Which backups to keep: grandfather-father-son, as Odoo.sh does it.

A pure function of the backups' dates and kinds, the policy and the current
time, so it is tested by properties rather than examples:

* the newest backup is always kept (``prune`` never leaves an environment without one);
* of scheduled backups, the newest of each of the last ``daily`` days that have a
  backup is kept, likewise for the last ``weekly`` ISO weeks and ``monthly`` months;
* a manual, pre-update or imported backup is kept for ``manual_days`` days.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetentionPolicy:
    daily: int = 7
    weekly: int = 4
    monthly: int = 3
    manual_days: int = 30

    def __post_init__(self):
        for name in ("daily", "weekly", "monthly", "manual_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"retention {name} must be >= 0")


@dataclass(frozen=True)
class BackupRef:
    key: str
    taken_at: datetime
    kind: str = "scheduled"


def _newest_per_bucket(
    backups: list[BackupRef], bucket: Callable[[datetime], object], count: int
) -> set[str]:
    """The newest backup of each of the ``count`` most recent buckets that have one."""
    newest: dict[object, BackupRef] = {}
    for backup in backups:
        key = bucket(backup.taken_at)
        if key not in newest or backup.taken_at > newest[key].taken_at:
            newest[key] = backup
    recent = sorted(newest, reverse=True)[:count]
    return {newest[key].key for key in recent}


def backups_to_keep(
    backups: Iterable[BackupRef], policy: RetentionPolicy, now: datetime
) -> set[str]:
    """Keys of the backups to keep; every other backup may be pruned."""
    backups = list(backups)
    if not backups:
        return set()
    keep = {max(backups, key=lambda b: (b.taken_at, b.key)).key}
    scheduled = [b for b in backups if b.kind == "scheduled"]
    keep |= _newest_per_bucket(scheduled, lambda t: t.date(), policy.daily)
    keep |= _newest_per_bucket(scheduled, lambda t: t.isocalendar()[:2], policy.weekly)
    keep |= _newest_per_bucket(scheduled, lambda t: (t.year, t.month), policy.monthly)
    manual_limit = now - timedelta(days=policy.manual_days)
    keep |= {b.key for b in backups if b.kind != "scheduled" and b.taken_at >= manual_limit}
    return keep
