# Fed to `odoo-bin shell` by setup/run.sh: a demo project on the local cluster, fully set
# up so that the first look is green — a storage target, the production environment with
# its code, a first verified backup and a staging copy, both made by the executor as the
# crons would. `env` is provided by the shell. The password comes from PGPASSWORD, as for
# Odoo itself.
import os
from pathlib import Path

from odoo.tools import config

filestore_root = Path(config.filestore("x")).parent  # Odoo's <data_dir>/filestore
backups = Path(os.environ["IPAI_OPS_DEMO_BACKUPS"])
backups.mkdir(parents=True, exist_ok=True)
server = env["ipai.ops.db.server"].create(
    {
        "name": "Local PostgreSQL",
        "host": os.environ["PGHOST"],
        "port": int(os.environ.get("PGPORT", "5432")),
        "login": os.environ.get("PGUSER", "odoo"),
        "password": os.environ.get("PGPASSWORD") or False,
        "sslmode": "disable",
        "filestore_root": str(filestore_root),
    }
)
target = env["ipai.ops.backup.target"].create(
    {"name": "Local backups", "kind": "local", "path": str(backups)}
)
project = env["ipai.ops.project"].create(
    {"name": "Demo", "code": "demo", "mail_catcher": os.environ["IPAI_OPS_DEMO_CATCHER"]}
)
env["ir.config_parameter"].set_param("ipai_ops.mail_spool", os.environ["IPAI_OPS_DEMO_SPOOL"])
database = os.environ["IPAI_OPS_DEMO_DB"]
production = env["ipai.ops.environment"].create(
    {
        "name": "Production",
        "project_id": project.id,
        "stage": "production",
        "server_id": server.id,
        "database_name": database,
        "filestore_path": str(filestore_root / database),
        "addons_path": ",".join(config["addons_path"]),  # the same code as the control plane
        "backup_target_id": target.id,
    }
)
server.action_test_connection()
production._queue_run("check")
production._queue_run("backup", {"kind": "manual"})
staging = production._new_copy("staging")
staging._queue_checked_run("clone")
env.cr.commit()
env["ipai.ops.run"]._cron_process_runs()  # what the executor's crons do once Odoo runs
env.invalidate_all()
for run in env["ipai.ops.run"].search([], order="id"):
    print(f"{run.name} {run.kind_label}: {run.state} — {run.summary or run.error}")
failed = env["ipai.ops.run"].search_count([("state", "!=", "done")])
print(
    f"demo project {project.name!r}: {len(project.environment_ids)} environments,"
    f" {'all runs done' if not failed else f'{failed} run(s) not done'}"
)
