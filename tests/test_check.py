"""The read-only `check` operation and the CLI around it."""

import json

from conftest import run_sql

from ipai_ops.check import check_database, format_bytes, module_changes, module_versions
from ipai_ops.cli import main

ODOO_SHAPE = """
CREATE TABLE ir_module_module (id serial, name varchar, state varchar, latest_version varchar);
CREATE TABLE ir_config_parameter (id serial, key varchar, value text);
INSERT INTO ir_module_module (name, state, latest_version) VALUES
    ('base', 'installed', '19.0.1.3'), ('mail', 'installed', '19.0.1.1'),
    ('web', 'installed', '19.0.1.0'), ('sale', 'uninstalled', NULL);
INSERT INTO ir_config_parameter (key, value) VALUES ('database.uuid', 'abc-123');
"""


def test_plain_database_is_reachable_and_not_odoo(spec, scratch_db):
    db = scratch_db()
    report = check_database(spec, db)
    assert report.database == db
    assert not report.is_odoo
    assert report.size_bytes > 1_000_000  # even an empty database has its catalog
    assert "not an Odoo database" in report.summary()


def test_odoo_database_reports_version_and_installed_modules(spec, scratch_db):
    db = scratch_db()
    run_sql(spec, db, ODOO_SHAPE)
    report = check_database(spec, db)
    assert report.is_odoo
    assert report.odoo_version == "19.0.1.3"
    assert report.installed_modules == 3
    assert report.database_uuid == "abc-123"
    assert not report.neutralized
    assert "Odoo 19.0.1.3 with 3 installed modules" in report.summary()


def test_module_digest_changes_with_an_update_and_names_what_changed(spec, scratch_db):
    db = scratch_db()
    run_sql(spec, db, ODOO_SHAPE)
    first, before = check_database(spec, db).modules_digest, module_versions(spec, db)
    assert check_database(spec, db).modules_digest == first  # nothing changed, same digest

    run_sql(
        spec, db,
        "UPDATE ir_module_module SET latest_version = '19.0.1.2' WHERE name = 'mail';"
        "UPDATE ir_module_module SET state = 'installed', latest_version = '19.0.1.0'"
        " WHERE name = 'sale'; DELETE FROM ir_module_module WHERE name = 'web';",
    )  # fmt: skip
    assert check_database(spec, db).modules_digest != first
    changes = module_changes(before, module_versions(spec, db))
    assert changes == {
        "updated": ["mail 19.0.1.1 → 19.0.1.2"], "installed": ["sale"], "removed": ["web"],
    }  # fmt: skip


def test_cli_check_json_and_exit_codes(spec, scratch_db, capsys, monkeypatch):
    db = scratch_db()
    assert main(["--json", "check", db]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] and data["database"] == db and data["is_odoo"] is False

    assert main(["check", "ipai_missing_db"]) == 3
    assert "does not exist" in capsys.readouterr().err

    assert main(["check", "bad;name"]) == 4
    assert "not allowed" in capsys.readouterr().err

    monkeypatch.setenv("PGPASSWORD", "wrong")
    assert main(["--json", "check", db]) == 3
    assert json.loads(capsys.readouterr().out)["kind"] == "AuthenticationFailed"


def test_cli_probe_prints_findings(capsys):
    assert main(["probe"]) == 0
    assert "pg_stat_statements is preloaded" in capsys.readouterr().out


def test_sizes_read_like_an_administrator_expects():
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(3 * 1024**3) == "3.0 GiB"
