"""Pruning a real storage target: sets go, shared blobs stay, unreferenced blobs go."""

from datetime import datetime, timedelta, timezone

from odoo_like import write_filestore

from ipai_ops.backup import backup_database
from ipai_ops.prune import prune_target, referenced_blobs
from ipai_ops.retention import RetentionPolicy
from ipai_ops.verify import verify_set


def test_prune_keeps_newest_and_every_blob_it_references(spec, odoo_db, target):
    name, filestore = odoo_db
    first = backup_database(spec, name, target, filestore=filestore, kind="manual")
    write_filestore(filestore, None, None, files=3, size=1000, seed="only-in-second")
    second = backup_database(spec, name, target, filestore=filestore, kind="manual")
    (filestore / second.manifest["filestore"]["files"][0][0]).unlink()
    third = backup_database(spec, name, target, filestore=filestore, kind="manual")

    later = datetime.now(timezone.utc) + timedelta(days=60)  # every manual backup has expired
    report = prune_target(target, RetentionPolicy(manual_days=30), now=later)

    assert target.list_sets() == [third.set_id]
    assert set(report.deleted_sets) == {first.set_id, second.set_id}
    assert report.deleted_blobs == 1  # the file deleted before the third backup
    assert {digest for digest, _ in target.iter_blobs()} == referenced_blobs(target)
    verify_set(target, third.set_id, deep=True)


def test_prune_with_nothing_to_delete_is_harmless(spec, odoo_db, target):
    name, filestore = odoo_db
    only = backup_database(spec, name, target, filestore=filestore)
    report = prune_target(target, RetentionPolicy())
    assert (report.deleted_sets, report.kept_sets, report.deleted_blobs) == ([], [only.set_id], 0)


def test_replicated_set_verifies_on_the_second_target(spec, odoo_db, target, tmp_path):
    from ipai_ops.replicate import replicate_set  # noqa: PLC0415
    from ipai_ops.storage import LocalTarget  # noqa: PLC0415

    name, filestore = odoo_db
    result = backup_database(spec, name, target, filestore=filestore)
    offsite = LocalTarget(tmp_path / "offsite")
    assert replicate_set(target, offsite, result.set_id) == 40 * 5000
    assert offsite.list_sets() == [result.set_id]
    verify_set(offsite, result.set_id, deep=True)
    assert replicate_set(target, offsite, result.set_id) == 0  # already there
