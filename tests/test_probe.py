"""The capability probe, as a superuser and as an unprivileged role."""

from dataclasses import replace

from conftest import run_sql

from ipai_ops.probe import probe_server


def test_superuser_probe_sees_preloaded_pg_stat_statements(spec, scratch_db):
    db = scratch_db()
    caps = probe_server(spec.for_database(db))
    expected_num = int(run_sql(spec, db, "SHOW server_version_num")[0][0])
    assert caps.server_version_num == expected_num
    assert caps.pgss_preloaded
    assert caps.pgss_installed_version is None
    assert caps.superuser and caps.createdb and caps.read_all_stats
    text = "\n".join(caps.findings())
    assert "CREATE EXTENSION pg_stat_statements" in text

    run_sql(spec, db, "CREATE EXTENSION pg_stat_statements")
    caps = probe_server(spec.for_database(db))
    assert caps.pgss_ready
    assert caps.pgss_installed_version == caps.pgss_available_version


def test_unprivileged_role_is_told_what_to_grant(spec, login_role):
    role = login_role("pw-1")
    caps = probe_server(replace(spec, user=role, password="pw-1"))
    assert not caps.superuser and not caps.createdb and not caps.read_all_stats
    text = "\n".join(caps.findings())
    assert f"ALTER ROLE {role} CREATEDB" in text
    assert f"GRANT pg_read_all_stats TO {role}" in text


def test_granted_monitoring_role_can_read_all_stats(spec, login_role):
    role = login_role("pw-2", "pg_monitor")
    caps = probe_server(replace(spec, user=role, password="pw-2"))
    assert caps.read_all_stats and caps.monitor
    assert not caps.superuser
