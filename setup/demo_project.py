# Fed to `odoo-bin shell` by setup/run.sh: a demo project on the local cluster.
# `env` is provided by the shell. The password comes from PGPASSWORD, as for Odoo itself.
import os
from pathlib import Path

from odoo.tools import config

filestore_root = Path(config.filestore("x")).parent  # Odoo's <data_dir>/filestore
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
project = env["ipai.ops.project"].create({"name": "Demo", "code": "demo"})
for name, stage, database in (
    ("Production", "production", os.environ["IPAI_OPS_DEMO_DB"]),
    ("Staging", "staging", "demo_staging"),
    ("Development", "development", "demo_dev"),
):
    env["ipai.ops.environment"].create(
        {
            "name": name,
            "project_id": project.id,
            "stage": stage,
            "server_id": server.id,
            "database_name": database,
            "filestore_path": str(filestore_root / database),
        }
    )
server.action_test_connection()
env.cr.commit()
print(f"demo project {project.name!r} with {len(project.environment_ids)} environments")
