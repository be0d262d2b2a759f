"""Clone, neutralize and mask on the real cluster: production keeps working, the copy is safe."""

import base64
import hashlib
import json
import os
import subprocess
import sys

import psycopg2
import pytest
from conftest import run_sql
from odoo_like import MODULES, add_operations_tables, fake_addons_path, table_fingerprints

from ipai_ops import mask
from ipai_ops.clone import clone_database, drop_clone
from ipai_ops.errors import MaskingFailed, NeutralizationFailed, ProtectedDatabase
from ipai_ops.guards import drop_database, mark_production
from ipai_ops.identifiers import database_exists
from ipai_ops.mask import mask_database
from ipai_ops.mask_check import check_no_survivors, find_survivors, raise_on_survivors
from ipai_ops.neutralize import neutralize_database
from ipai_ops.safe_copy import Masking, make_safe

BASE_SCRIPT = "UPDATE ir_mail_server SET active = false;\n"
MODULE_NAMES = [name for name, _version in MODULES]


@pytest.fixture
def production(spec, odoo_db):
    name, filestore = odoo_db
    add_operations_tables(spec, name)
    return name, filestore


@pytest.fixture
def addons(tmp_path):
    return [str(fake_addons_path(tmp_path / "addons", MODULE_NAMES, {"base": BASE_SCRIPT}))]


def safe_copy(spec, addons, catcher=("127.0.0.1", 2525)):
    def prepare(database):
        report = neutralize_database(
            spec, database, addons_paths=addons, base_url="https://staging.example",
            mail_catcher=catcher,
        )  # fmt: skip
        masking = mask_database(spec, database, admin_password="staging-admin")
        return report, masking

    return prepare


def test_online_clone_is_neutralized_masked_and_leaves_production_alone(
    spec, production, addons, tmp_path, admin_conn
):
    name, filestore = production
    before = table_fingerprints(spec, name)
    holder = psycopg2.connect(**spec.for_database(name).connect_kwargs())
    holder.cursor().execute("SELECT count(*) FROM res_partner")  # an open transaction on prod
    copy = f"{name}_staging"
    try:
        result = clone_database(
            spec, name, copy, source_filestore=filestore,
            target_filestore=tmp_path / "filestore" / copy, prepare=safe_copy(spec, addons),
        )  # fmt: skip
        assert result.method == "dump", "production had a session: never the template path"
        with holder.cursor() as cur:  # the production session still works
            cur.execute("SELECT count(*) FROM res_partner")
            assert cur.fetchone()[0] > 0
        assert table_fingerprints(spec, name) == before

        report, masking = result.prepared
        assert report.ok and len(report.checks) >= 8
        assert report.modules_neutralized == ["base"]
        assert report.actions["mails_cancelled"] == 2
        one = lambda q: run_sql(spec, copy, q)[0][0]  # noqa: E731
        assert one("SELECT count(*) FROM mail_mail WHERE state = 'outgoing'") == 0
        assert one("SELECT smtp_host FROM ir_mail_server WHERE active") == "127.0.0.1"
        assert one("SELECT count(*) FROM ir_cron WHERE active") == 1
        assert one("SELECT state FROM payment_provider WHERE code = 'stripe'") == "disabled"
        # no secret of production survives: tokens signed on the copy are worthless there
        secret = "SELECT value FROM ir_config_parameter WHERE key = 'database.secret'"
        assert one(secret) not in ("prod-database-secret", "")
        assert one("SELECT value FROM ir_config_parameter WHERE key = 'google_maps_api_key'") == ""
        assert one("SELECT count(*) FROM ir_mail_server WHERE smtp_pass IS NOT NULL") == 0
        assert one("SELECT count(*) FROM fetchmail_server WHERE password IS NOT NULL") == 0
        assert one("SELECT count(*) FROM res_users_apikeys") == 0
        assert (
            report.checks["no SMTP password kept but the catcher's"]
            and report.checks["no API key usable"]
        )
        assert one("SELECT value FROM ir_config_parameter WHERE key = 'web.base.url'") == (
            "https://staging.example"
        )
        survivors = check_no_survivors(spec, spec, (name, copy))
        assert survivors["res_partner.email"] == 0 and survivors["res_users.login"] == 0
        raise_on_survivors(survivors)
        assert masking.rows["res_partner"] == 300, "every person, and the company untouched"

        # consistent: the same address masks to the same fake in every table
        assert (
            one(
                "SELECT count(*) FROM res_users u JOIN res_partner p ON p.id = u.partner_id"
                " WHERE u.id = 3 AND u.login = p.email"
            )
            == 1
        )
        assert one("SELECT login FROM res_users WHERE id = 2") == "admin"
        assert verify_dev_password(one("SELECT password FROM res_users WHERE id = 2"))

        src = next(p for p in filestore.rglob("*") if p.is_file())
        dst = tmp_path / "filestore" / copy / src.relative_to(filestore)
        assert os.stat(src).st_ino != os.stat(dst).st_ino, "the copy's files are its own"
        assert result.reflinked + result.copied == 40
        # a branch's code rewriting a copy's file in place leaves production's as it was
        before = src.read_bytes()
        with open(dst, "r+b") as handle:
            handle.write(b"rewritten by the branch")
        assert src.read_bytes() == before
    finally:
        holder.close()
        drop_database(admin_conn, copy)


def verify_dev_password(stored: str) -> bool:
    _empty, scheme, rounds, salt, checksum = stored.split("$")
    decode = lambda s: base64.b64decode(s.replace(".", "+") + "=" * (-len(s) % 4))  # noqa: E731
    expected = hashlib.pbkdf2_hmac("sha512", b"staging-admin", decode(salt), int(rounds))
    return scheme == "pbkdf2-sha512" and decode(checksum) == expected


def test_idle_source_is_copied_as_a_template(spec, production, addons, admin_conn):
    name, _filestore = production
    copy = f"{name}_tpl"
    try:
        result = clone_database(spec, name, copy, prepare=safe_copy(spec, addons))
        assert result.method == "template"
    finally:
        drop_database(admin_conn, copy)
    mark_production(admin_conn, name)  # production's new connections must never wait
    try:
        result = clone_database(spec, name, copy, prepare=safe_copy(spec, addons))
        assert result.method == "dump", "an idle production is still copied online"
    finally:
        mark_production(admin_conn, name, production=False)
        drop_database(admin_conn, copy)


def test_module_without_source_fails_the_clone_and_leaves_no_copy(
    spec, production, tmp_path, admin_conn
):
    name, filestore = production
    partial = [str(fake_addons_path(tmp_path / "partial", ["base", "web"], {}))]
    copy = f"{name}_unsafe"
    with pytest.raises(NeutralizationFailed, match="contacts, mail"):
        clone_database(
            spec, name, copy, source_filestore=filestore,
            target_filestore=tmp_path / "fs-unsafe", prepare=safe_copy(spec, partial),
        )  # fmt: skip
    assert not database_exists(admin_conn, copy)
    with admin_conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_database WHERE datname LIKE %s", (f"{copy}-cloning-%",)
        )
        assert cur.fetchone()[0] == 0
    assert not (tmp_path / "fs-unsafe").exists()


def test_post_check_catches_a_guarantee_that_does_not_hold(spec, production, addons, admin_conn):
    name, _filestore = production
    run_sql(spec, name, """
        CREATE FUNCTION keep_crons_on() RETURNS trigger AS $$
        BEGIN NEW.active := true; RETURN NEW; END $$ LANGUAGE plpgsql;
        CREATE TRIGGER keep_crons_on BEFORE UPDATE ON ir_cron
            FOR EACH ROW EXECUTE FUNCTION keep_crons_on();
    """)  # fmt: skip
    copy = f"{name}_sneaky"
    with pytest.raises(NeutralizationFailed, match="only allow-listed crons active"):
        clone_database(spec, name, copy, prepare=safe_copy(spec, addons))
    assert not database_exists(admin_conn, copy)


def test_masking_check_detects_a_surviving_value(spec, production, admin_conn):
    name, _filestore = production
    copy = f"{name}_leaky"
    try:
        clone_database(spec, name, copy)
        mask_database(spec, copy)
        run_sql(
            spec, copy, "UPDATE res_partner SET email = 'partner7@customer.example' WHERE id = 9"
        )
        with pytest.raises(MaskingFailed, match=r"res_partner\.email"):
            raise_on_survivors(check_no_survivors(spec, spec, (name, copy)))
    finally:
        drop_database(admin_conn, copy)


def test_masking_reaches_derived_columns_and_a_full_scan_finds_stray_copies(
    spec, production, admin_conn
):
    """phone_sanitized and chatter senders are masked; a customer's e-mail copied into a
    column no rule names is found by the scan of every text column."""
    name, _filestore = production
    run_sql(spec, name, "CREATE TABLE x_custom_note (id serial, note text)")
    run_sql(spec, name, "INSERT INTO x_custom_note (note) SELECT 'call ' || email || ' back'"
                        " FROM res_partner WHERE email IS NOT NULL LIMIT 3")  # fmt: skip
    copy = f"{name}_scanned"
    try:
        clone_database(spec, name, copy)
        mask_database(spec, copy)
        one = lambda q: run_sql(spec, copy, q)[0][0]  # noqa: E731
        assert one("SELECT count(*) FROM res_partner WHERE phone_sanitized LIKE '+1 555 %'") > 0
        assert not any(check_no_survivors(spec, spec, (name, copy)).values())
        found = find_survivors(spec, spec, (name, copy))
        assert found == {"x_custom_note.note": 3}, found
        indexes = "SELECT indexdef FROM pg_indexes WHERE tablename = 'res_partner' ORDER BY 1"
        assert run_sql(spec, copy, indexes) == run_sql(spec, name, indexes), "all rebuilt"
    finally:
        drop_database(admin_conn, copy)


def test_the_same_key_masks_the_same_way_in_every_copy(spec, production, admin_conn):
    name, _filestore = production
    copies = [f"{name}_k1", f"{name}_k2", f"{name}_k3"]
    try:
        for copy, key in zip(copies, ("project-key", "project-key", None), strict=True):
            clone_database(spec, name, copy)
            mask_database(spec, copy, key=key)
        emails = [run_sql(spec, c, "SELECT email FROM res_partner WHERE id = 9")[0][0]
                  for c in copies]  # fmt: skip
        assert emails[0] == emails[1], "one project key: one fake per original value"
        assert emails[2] != emails[0], "another key masks differently"
        run_sql(spec, "postgres", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        texts = run_sql(spec, "postgres", "SELECT string_agg(query, ' ') FROM pg_stat_statements")
        assert "project-key" not in (texts[0][0] or ""), "the key is in no statement text"
    finally:
        for copy in copies:
            drop_database(admin_conn, copy)


def test_a_table_masked_in_parts_is_masked_like_one_masked_whole(
    spec, production, admin_conn, monkeypatch
):
    """Large tables are masked by several connections, a range of ids each: every row is
    reached, exactly as a single UPDATE would, and the dropped indexes come back."""
    name, _filestore = production
    whole, parts = f"{name}_whole", f"{name}_parts"
    rows = "SELECT id, name, email, phone_sanitized FROM res_partner ORDER BY id"
    try:
        reports = []
        for copy, min_bytes in ((whole, 2**62), (parts, 0)):
            monkeypatch.setattr(mask, "PART_MIN_BYTES", min_bytes)
            clone_database(spec, name, copy)
            reports.append(mask_database(spec, copy, key="project-key"))
        assert run_sql(spec, parts, rows) == run_sql(spec, whole, rows)
        assert reports[1].rows == reports[0].rows and reports[1].rows["res_partner"] > 1
        assert not any(check_no_survivors(spec, spec, (name, parts)).values())
        indexes = "SELECT indexdef FROM pg_indexes WHERE tablename = 'res_partner' ORDER BY 1"
        assert run_sql(spec, parts, indexes) == run_sql(spec, name, indexes)
    finally:
        for copy in (whole, parts):
            drop_database(admin_conn, copy)


def test_a_failing_rule_fails_the_masking_and_names_its_table(spec, production, admin_conn):
    name, _filestore = production
    copy = f"{name}_badrule"
    broken = [mask.MaskRule("res_partner", "email", "email", "no_such_column > 0")]
    try:
        clone_database(spec, name, copy)
        with pytest.raises(MaskingFailed, match="not fully masked: masking res_partner"):
            mask_database(spec, copy, broken)
    finally:
        drop_database(admin_conn, copy)


def test_production_copies_are_never_dropped_by_lifecycle(spec, production, admin_conn):
    name, _filestore = production
    mark_production(admin_conn, name)
    try:
        with pytest.raises(ProtectedDatabase):
            drop_clone(spec, name)
        assert database_exists(admin_conn, name)
    finally:
        mark_production(admin_conn, name, production=False)


def test_cli_clone_makes_a_safe_copy_and_refuses_production(spec, production, addons, admin_conn):
    name, _filestore = production
    copy = f"{name}_cli"
    args = [sys.executable, "-m", "ipai_ops.cli", "--json", "clone", name, copy,
            "--addons-path", addons[0], "--mail-catcher", "127.0.0.1:1025"]  # fmt: skip
    try:
        out = subprocess.run(args, capture_output=True, text=True, check=False)
        assert out.returncode == 0, out.stdout + out.stderr
        data = json.loads(out.stdout)
        assert all(data["prepared"]["neutralization"]["checks"].values())
        assert data["prepared"]["masking"]["rows"]["res_partner"] == 300
    finally:
        drop_database(admin_conn, copy)
    mark_production(admin_conn, name)
    try:
        refused = subprocess.run(
            [sys.executable, "-m", "ipai_ops.cli", "neutralize", name, "--addons-path", addons[0]],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert refused.returncode == 7 and "production" in refused.stderr
        assert run_sql(spec, name, "SELECT count(*) FROM ir_cron WHERE active")[0][0] == 4
    finally:
        mark_production(admin_conn, name, production=False)


def test_clone_from_a_backup_is_prepared_before_it_gets_its_name(
    spec, production, addons, target, tmp_path, admin_conn
):
    from ipai_ops.backup import backup_database  # noqa: PLC0415
    from ipai_ops.clone import clone_from_backup  # noqa: PLC0415

    name, filestore = production
    result = backup_database(spec, name, target, filestore=filestore)
    copy = f"{name}_from_backup"
    seen = []

    def prepare(database):
        seen.append((database, database_exists(admin_conn, copy)))
        return safe_copy(spec, addons)(database)

    try:
        done = clone_from_backup(
            spec, target, result.set_id, copy, target_filestore=tmp_path / "fs" / copy,
            prepare=prepare,
        )  # fmt: skip
        assert seen[0][0].startswith(f"{copy}-cloning-") and seen[0][1] is False
        assert done.copied == 40
        assert run_sql(spec, copy, "SELECT count(*) FROM mail_mail WHERE state = 'outgoing'") == [
            (0,)
        ]
    finally:
        drop_database(admin_conn, copy)


def test_filestore_copies_work_across_file_systems(tmp_path):
    """A tmpfs is another file system: no reflink can cross, the files are copied."""
    from odoo_like import tree_digest, write_filestore  # noqa: PLC0415

    from ipai_ops.filestore import copy_tree  # noqa: PLC0415

    source = tmp_path / "fs"
    write_filestore(source, None, None, files=12, size=300)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "other-fs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], check=True)
    try:
        assert copy_tree(source, mount / "copy") == (0, 12)
        assert tree_digest(mount / "copy") == tree_digest(source)
        assert sum(copy_tree(source, tmp_path / "same-fs")) == 12
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_an_original_planted_anywhere_fails_the_safe_copy_whatever_the_jobs(
    spec, production, admin_conn, monkeypatch
):
    """make_safe, the preparation every copy goes through: original values left in a text
    column no rule names, inside a JSON value and inside HTML fail the copy before its
    neutralization, naming each place, and one left in a masked column is counted — with
    one connection or four, tables scanned whole or in ranges of ids, alike."""
    name, _filestore = production
    plant = """
        CREATE TABLE x_planted (id serial PRIMARY KEY, note text, data jsonb, page text);
        INSERT INTO x_planted (note, data, page)
        SELECT 'call ' || email || ' back',
               jsonb_build_object('contact', jsonb_build_object('mail', email)),
               '<p>Write to <b>' || email || '</b></p>'
          FROM res_partner WHERE email IS NOT NULL;
    """
    outcomes = []
    for jobs, part_bytes in ((1, 2**62), (4, 0)):
        monkeypatch.setattr(mask, "PART_MIN_BYTES", part_bytes)
        copy = f"{name}_planted{jobs}"
        try:
            clone_database(spec, name, copy)
            run_sql(spec, copy, plant)
            with pytest.raises(MaskingFailed) as failed:
                make_safe(spec, copy, source=name, masking=Masking(), jobs=jobs,
                          neutralize={"addons_paths": []})  # fmt: skip
            original = run_sql(spec, name, "SELECT min(email) FROM res_partner")[0][0]
            run_sql(spec, copy, "UPDATE res_partner SET email = %s WHERE id = 9", (original,))
            outcomes.append((str(failed.value),
                             check_no_survivors(spec, spec, (name, copy), jobs=jobs)))  # fmt: skip
        finally:
            drop_database(admin_conn, copy)
    message, survivors = outcomes[0]
    for column in ("x_planted.note", "x_planted.data", "x_planted.page"):
        assert f"{column} (found by the full scan)" in message, message
    assert survivors["res_partner.email"] == 1
    assert outcomes[1] == outcomes[0], "the jobs and the parts change nothing of the proof"


def test_sampled_values_match_literally_whatever_characters_they_hold(spec, production, admin_conn):
    """The full scan's sampled values are matched as text, not as patterns: an e-mail
    full of regular-expression characters is found where it is copied, and a near miss
    that would match it as a pattern is not."""
    name, _filestore = production
    hostile = "a.b+c(d)@x?y*z[1]{2}|^$\\w%_é.example"
    partner = run_sql(spec, name, "SELECT max(id) FROM res_partner WHERE email IS NOT NULL"
                                   f" AND {mask.NOT_COMPANY}")[0][0]  # fmt: skip
    before = run_sql(spec, name, "SELECT email FROM res_partner WHERE id = %s", (partner,))[0][0]
    copy = f"{name}_hostile"
    try:
        run_sql(spec, name, "UPDATE res_partner SET email = %s WHERE id = %s", (hostile, partner))
        clone_database(spec, name, copy)
        mask_database(spec, copy)
        run_sql(spec, copy, "CREATE TABLE x_meta (id serial PRIMARY KEY, note text)")
        near_miss = hostile.replace(".", "X", 1)
        run_sql(spec, copy, "INSERT INTO x_meta (note) VALUES (%s), (%s)",
                (f"mail {hostile} now", f"mail {near_miss} now"))  # fmt: skip
        found = find_survivors(spec, spec, (name, copy), sample=100_000)
        assert found == {"x_meta.note": 1}, found
    finally:
        run_sql(spec, name, "UPDATE res_partner SET email = %s WHERE id = %s", (before, partner))
        drop_database(admin_conn, copy)
