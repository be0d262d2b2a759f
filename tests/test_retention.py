"""Grandfather-father-son retention, by properties over generated backup histories."""

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ipai_ops.retention import BackupRef, RetentionPolicy, backups_to_keep

NOW = datetime(2026, 11, 25, 12, 0)

histories = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=400 * 24),  # hours before NOW
        st.sampled_from(["scheduled", "scheduled", "scheduled", "manual", "pre-update"]),
    ),
    max_size=80,
).map(
    lambda items: [
        BackupRef(f"b{i}", NOW - timedelta(hours=hours), kind)
        for i, (hours, kind) in enumerate(items)
    ]
)
policies = st.builds(
    RetentionPolicy,
    daily=st.integers(0, 10),
    weekly=st.integers(0, 6),
    monthly=st.integers(0, 4),
    manual_days=st.integers(0, 60),
)


@given(histories, policies)
def test_newest_backup_is_always_kept(backups, policy):
    keep = backups_to_keep(backups, policy, NOW)
    if backups:
        assert max(backups, key=lambda b: (b.taken_at, b.key)).key in keep


@given(histories, policies)
def test_keeps_only_known_backups_and_at_most_the_policy_allows(backups, policy):
    keep = backups_to_keep(backups, policy, NOW)
    assert keep <= {b.key for b in backups}
    scheduled_kept = {b.key for b in backups if b.kind == "scheduled"} & keep
    assert len(scheduled_kept) <= policy.daily + policy.weekly + policy.monthly + 1


@given(histories, policies)
@settings(max_examples=200)
def test_pruning_again_deletes_nothing_more(backups, policy):
    keep = backups_to_keep(backups, policy, NOW)
    survivors = [b for b in backups if b.key in keep]
    assert backups_to_keep(survivors, policy, NOW) == keep


@given(histories, policies)
def test_each_recent_day_with_a_scheduled_backup_keeps_its_newest(backups, policy):
    keep = backups_to_keep(backups, policy, NOW)
    days = sorted({b.taken_at.date() for b in backups if b.kind == "scheduled"}, reverse=True)
    for day in days[: policy.daily]:
        newest = max(
            (b for b in backups if b.kind == "scheduled" and b.taken_at.date() == day),
            key=lambda b: b.taken_at,
        )
        assert newest.key in keep


@given(histories, policies)
def test_recent_manual_backups_are_kept_old_ones_may_go(backups, policy):
    keep = backups_to_keep(backups, policy, NOW)
    limit = NOW - timedelta(days=policy.manual_days)
    for backup in backups:
        if backup.kind != "scheduled" and backup.taken_at >= limit:
            assert backup.key in keep


def test_default_policy_is_seven_four_three():
    daily = [BackupRef(f"d{i}", NOW - timedelta(days=i), "scheduled") for i in range(120)]
    keep = backups_to_keep(daily, RetentionPolicy(), NOW)
    assert {f"d{i}" for i in range(7)} <= keep
    assert 7 < len(keep) <= 14
    assert "d119" not in keep
