"""Uninstalling an addon whose runs exist: they stay, readable, as the audit trail.

A standalone test (Odoo's ``@standalone``): it installs nothing but uninstalls
modules, which no ordinary test may do. The test command runs it after the other
tests, on the same database (``test_module_operations.py standalone
ipai_ops_uninstall``); a failed assertion is logged as an error and fails the run.
"""

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tests import standalone

from .common import production_database, server_values

UNINSTALLED = ("ipai_ops_monitoring", "ipai_ops_staging", "ipai_ops_backup")
HISTORY = ("backup", "restore", "clone", "snapshot", "signal")


@standalone("ipai_ops_uninstall")
def test_runs_of_uninstalled_addons_stay_readable(env):
    dbname = env.cr.dbname
    environment = _environment(env, production_database(dbname)[0])
    finished = {kind: _finished_run(environment, kind) for kind in HISTORY}
    queued = environment._create_run("backup", {"kind": "manual"})
    labels = {kind: run.kind_label for kind, run in finished.items()}
    env.cr.commit()  # pylint: disable=invalid-commit

    modules = env["ir.module.module"].search([("name", "in", UNINSTALLED)])
    assert len(modules) == len(UNINSTALLED), modules.mapped("name")
    modules.button_immediate_uninstall()

    with Registry(dbname).cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        states = env["ir.module.module"].search([("name", "in", UNINSTALLED)]).mapped("state")
        assert set(states) == {"uninstalled"}, states
        Run = env["ipai.ops.run"]
        assert not set(HISTORY) & set(Run._run_kinds()), "their kinds left with them"
        for kind, run in finished.items():
            row = Run.browse(run.id).read(["kind", "kind_label", "state", "event_ids"])[0]
            assert (row["kind"], row["kind_label"]) == (kind, labels[kind]), row
            assert row["state"] == "done" and row["event_ids"], row
        # the Runs list still finds them
        assert Run.search_count([("kind", "in", HISTORY)]) == len(HISTORY) + 1
        Run._cron_process_runs()  # in transactions of its own

    # a queued run of a kind that is gone fails plainly: it neither runs nor crashes
    with Registry(dbname).cursor() as cr:
        left = api.Environment(cr, SUPERUSER_ID, {})["ipai.ops.run"].browse(queued.id)
        assert left.state == "failed", left.state
        assert "not installed" in left.error, left.error


def _environment(env, database):
    project = env["ipai.ops.project"].create({"name": "Uninstall", "code": "uninst"})
    server = env["ipai.ops.db.server"].create(server_values(name="Uninstall test cluster"))
    return env["ipai.ops.environment"].create(
        {
            "name": "Uninstall dev",
            "project_id": project.id,
            "stage": "development",
            "server_id": server.id,
            "database_name": database,
        }
    )


def _finished_run(environment, kind):
    run = environment._create_run(kind, state="done")
    run._log_event("info", f"{kind} happened before the uninstall.")
    return run
