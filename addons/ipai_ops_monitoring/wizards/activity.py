from odoo import api, fields, models
from odoo.fields import Command

from ipai_ops.activity import connections_by, max_connections, read_activity

from .reopen import reopen, titled


class IpaiOpsActivity(models.TransientModel):
    """Who is connected to an environment's server, what runs and what is blocked."""

    _name = "ipai.ops.activity"
    _inherit = ["ipai.ops.wizard.access"]
    _description = "Operations: activity"

    environment_id = fields.Many2one("ipai.ops.environment", required=True)

    @api.depends("environment_id")
    def _compute_display_name(self):
        titled(self, self.env._("Activity and locks"), "environment_id")

    line_ids = fields.One2many("ipai.ops.activity.line", "activity_id")
    group_ids = fields.One2many("ipai.ops.activity.group", "activity_id")
    connections = fields.Integer(readonly=True, help="Sessions of this environment's database.")
    max_connections = fields.Integer(readonly=True, help="The server's max_connections.")

    def action_refresh(self):
        self.ensure_one()
        self.line_ids.unlink()
        self.group_ids.unlink()
        environment = self.environment_id
        # this environment's database only: never other databases', nor the control plane's
        environment._refuse_control_plane()
        server = environment.server_id._engine_spec()
        sessions = read_activity(server, database=environment.database_name)
        self.write(
            {
                "connections": len(sessions),
                "max_connections": max_connections(server),
                "group_ids": [
                    Command.create(
                        {"role": g["usename"], "state": g["state"],
                         "application": g["application_name"], "count": g["count"]}
                    )
                    for g in connections_by(sessions, ("usename", "state", "application_name"))
                ],
            }
        )  # fmt: skip
        self.env["ipai.ops.activity.line"].create(
            [
                {
                    "activity_id": self.id,
                    "pid": s["pid"],
                    "database": s["datname"],
                    "role": s["usename"],
                    "application": s["application_name"],
                    "state": s["state"],
                    "wait": " / ".join(filter(None, [s["wait_event_type"], s["wait_event"]])),
                    "query_seconds": s["query_seconds"] or 0,
                    "blocked_by": ", ".join(map(str, s["blocked_by"])),
                    "waiting_for": s.get("waiting_for"),
                    "query": s["query"],
                }
                for s in sessions
            ]
        )
        return reopen(self)


class IpaiOpsActivityLine(models.TransientModel):
    _name = "ipai.ops.activity.line"
    _description = "Operations: session"
    _order = "query_seconds desc"

    activity_id = fields.Many2one("ipai.ops.activity", required=True, ondelete="cascade")
    pid = fields.Integer()
    database = fields.Char()
    role = fields.Char()
    application = fields.Char()
    state = fields.Char()
    wait = fields.Char()
    query_seconds = fields.Float(string="Running for (s)")
    blocked_by = fields.Char()
    waiting_for = fields.Char()
    query = fields.Text()

    def _signal(self, terminate: bool):
        self.ensure_one()
        self.activity_id.environment_id._queue_run(
            "signal", {"pid": self.pid, "terminate": terminate}
        )
        return self.activity_id.action_refresh()

    def action_cancel(self):
        return self._signal(terminate=False)

    def action_terminate(self):
        return self._signal(terminate=True)


class IpaiOpsActivityGroup(models.TransientModel):
    """Sessions counted by user, state and application: where a pool leaks, or a job
    holds transactions open while idle."""

    _name = "ipai.ops.activity.group"
    _description = "Operations: connections of one kind"
    _order = "count desc"

    activity_id = fields.Many2one("ipai.ops.activity", required=True, ondelete="cascade")
    role = fields.Char()
    state = fields.Char()
    application = fields.Char()
    count = fields.Integer(string="Connections")
