from datetime import timedelta

from odoo import fields, models

from ipai_ops.activity import max_connections, read_activity, summarize
from ipai_ops.catalog import filestore_bytes
from ipai_ops.check import check_database


class IpaiOpsSizeSample(models.Model):
    """The size of an environment's database and filestore at one moment."""

    _name = "ipai.ops.size.sample"
    _description = "Operations: size sample"
    _order = "taken_at desc"

    environment_id = fields.Many2one(
        "ipai.ops.environment", required=True, ondelete="cascade", index=True
    )
    project_id = fields.Many2one(related="environment_id.project_id", store=True, index=True)
    taken_at = fields.Datetime(required=True, index=True)
    database_mb = fields.Float(string="Database (MiB)", aggregator="max")
    filestore_mb = fields.Float(string="Filestore (MiB)", aggregator="max")
    connections = fields.Integer(aggregator="max")
    cache_hit_pct = fields.Float(string="Cache hit (%)", aggregator="avg")

    def _take(self, environment, server, taken_at, rows) -> dict:
        """Record the environment's size now; return it with the server's load."""
        report = check_database(environment._engine_spec(), environment.database_name)
        filestore = environment._filestore_dir()
        sessions = read_activity(server, with_text=False)  # the server's load, all databases
        summary = summarize(sessions, max_connections(server))
        mine = [s for s in sessions if s["datname"] == environment.database_name]
        hit = sum(r["shared_blks_hit"] for r in rows)
        read = sum(r["shared_blks_read"] for r in rows)
        size = {
            "database_mb": report.size_bytes / 1024**2,
            "filestore_mb": filestore_bytes(filestore) / 1024**2 if filestore else 0.0,
            "connections": summary["connections"],
            "max_connections": summary["max_connections"],
            "blocked": sum(1 for s in mine if s["blocked_by"]),
            "longest_query_seconds": max(
                (s["query_seconds"] or 0 for s in mine if s["state"] == "active"), default=0
            ),
            "cache_hit_pct": 100.0 * hit / (hit + read) if hit + read else 100.0,
            "modules_digest": report.modules_digest,
        }
        self.create(
            {
                "environment_id": environment.id,
                "taken_at": taken_at,
                "database_mb": size["database_mb"],
                "filestore_mb": size["filestore_mb"],
                "connections": size["connections"],
                "cache_hit_pct": size["cache_hit_pct"],
            }
        )
        return size

    def _growth_per_day(self, environment, current_mb: float) -> float | None:
        day_ago = fields.Datetime.now() - timedelta(days=1)
        before = self.search(
            [("environment_id", "=", environment.id), ("taken_at", "<=", day_ago)],
            order="taken_at desc",
            limit=1,
        )
        return current_mb - before.database_mb if before else None
