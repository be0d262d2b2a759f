import dataclasses
import os
import time
from pathlib import Path

from odoo import fields, models
from odoo.exceptions import UserError

import odoo.addons

from ipai_ops.clone import clone_database, drop_clone
from ipai_ops.errors import OpsError
from ipai_ops.identifiers import validate_database_name


class IpaiOpsBuild(models.Model):
    """A staging build, as Odoo.sh makes it: a fresh copy of production, neutralized and
    masked by the copy pipeline (never usable before), the modules the branch changed
    against production updated on it, then the staging environment serving it."""

    # the staging pipeline, in a file of its own: read apart from the other two
    _inherit = "ipai.ops.build"  # pylint: disable=consider-merging-classes-inherited

    def _build_staging(self, run, tree: Path, modules: list[str]) -> dict:
        environment = self.environment_id
        production = self._production_to_copy()
        database = self._build_database()
        filestore = self._build_filestore(database)
        self.database_name = database
        started = time.monotonic()
        reports = self._copy_production(run, production, database, filestore, tree)

        updates = self._modules_to_update(modules, database)
        spec = dataclasses.replace(environment._instance_spec(), addons_dirs=(tree,),
                                   db_name=database, filestore_dir=filestore or None)  # fmt: skip
        status = self._update_and_serve(run, spec, updates)
        environment.sudo().write(
            {
                **environment._safe_copy_values(reports),
                "database_name": database,
                "filestore_path": filestore,
                "addons_path": str(tree),
            }
        )
        environment._record_instance(status, instance_deployed_at=fields.Datetime.now())
        self.write({"state": "success", "start_seconds": time.monotonic() - started,
                    "deployed_at": fields.Datetime.now()})  # fmt: skip
        self._drop_old_build_databases(run)
        summary = self.env._(
            "A masked copy of production with %(modules)s updated, running at %(url)s.",
            modules=", ".join(updates) or self.env._("no module"), url=environment.instance_url,
        )  # fmt: skip
        return {"summary": summary, "result": {"build": self.id, "updated": updates}}

    def _production_to_copy(self):
        environment = self.environment_id
        production = self.project_id.production_environment_id
        if not production:
            raise UserError(self.env._("A staging build copies production: the project has none."))
        if production.server_id != environment.server_id:
            raise UserError(
                self.env._(
                    "A staging build copies production on its database server: place %(env)s "
                    "on %(server)s.",
                    env=environment.name,
                    server=production.server_id.sudo().name,
                )
            )
        return production

    def _build_database(self) -> str:
        environment = self.environment_id
        return validate_database_name(f"{self.project_id.code}-{environment.id}-b{self.id}")

    def _build_filestore(self, database: str) -> str | bool:
        """Odoo's layout under the server's filestore root, when it has one."""
        root = self.environment_id.server_id.sudo().filestore_root
        return os.fspath(Path(root) / database) if root else False

    def _copy_production(self, run, production, database, filestore, tree) -> dict:
        """Production's database and files copied under a scratch name, neutralized and
        masked, and only then given the build's name: a copy cut short is never usable."""
        environment = self.environment_id.sudo()
        environment.source_environment_id = production
        addons = self._neutralization_paths(tree, production)
        reports = {}
        prepare = self.env["ipai.ops.environment"]._safe_copy_preparation(
            run, environment, production, addons, reports, mail_login=database
        )
        environment._say(run)(self.env._("Copying production, neutralized and masked"))
        clone_database(
            production.server_id._engine_spec(), production.database_name, database,
            source_filestore=production._filestore_dir(), target_filestore=filestore or None,
            prepare=prepare, progress=run._progress_reporter(),
            owner=environment._database_login().user,  # builds run on hosts: it has one
        )  # fmt: skip
        return reports

    def _neutralization_paths(self, tree: Path, production) -> list[str]:
        """Where the copy's modules' neutralize.sql are read: the new code first, then
        production's other code, then Odoo's own (this server's addons)."""
        paths = [str(tree)]
        paths += [p.strip() for p in (production.sudo().addons_path or "").split(",")]
        paths += list(odoo.addons.__path__)
        return [p for p in dict.fromkeys(paths) if p and Path(p).is_dir()]

    def _drop_old_build_databases(self, run) -> None:
        """Keep the environment's newest builds' databases (the project's "builds kept");
        drop the others' databases and files. The one it serves is always kept."""
        environment = self.environment_id
        builds = self.search(
            [("environment_id", "=", environment.id), ("database_name", "!=", False)]
        )
        keep = max(environment.project_id.sudo().staging_keep, 1)
        spec = environment.server_id._engine_spec()
        for old in builds[keep:]:
            if old.database_name == environment.database_name:
                continue
            try:
                drop_clone(spec, old.database_name, old._build_filestore(old.database_name))
            except OpsError as error:
                run._log_event_now("warning", self.env._(
                    "Could not drop the old build %(db)s: %(error)s", db=old.database_name,
                    error=error))  # fmt: skip
                continue
            run._log_event_now(
                "info", self.env._("Dropped the old build %(db)s.", db=old.database_name)
            )
            old.database_name = False
