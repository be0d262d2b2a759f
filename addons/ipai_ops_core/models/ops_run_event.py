from odoo import api, fields, models
from odoo.exceptions import AccessError

from ..audit_trigger import install_event_trigger

EVENT_LEVELS = [
    ("debug", "Debug"),
    ("info", "Info"),
    ("warning", "Warning"),
    ("error", "Error"),
]


class IpaiOpsRunEvent(models.Model):
    """One line of a run's append-only audit trail.

    Written only by the system (``ipai.ops.run._log_event``); nobody, not even an
    administrator or superuser code, can change or delete an event through the ORM.
    """

    _name = "ipai.ops.run.event"
    _description = "Operations: run event"
    _order = "id"
    _rec_name = "message"

    run_id = fields.Many2one(
        "ipai.ops.run", required=True, readonly=True, ondelete="restrict", index=True
    )
    level = fields.Selection(EVENT_LEVELS, required=True, default="info", readonly=True)
    message = fields.Text(required=True, readonly=True)
    data = fields.Json(readonly=True)
    # the moment it was written: create_date is the transaction's start, the same for
    # every event a run logs in its own (long) transaction. Set by create, not a default:
    # the append-only trigger would refuse the upgrade filling a default into old events.
    at = fields.Datetime(string="When", readonly=True)
    user_id = fields.Many2one(
        "res.users", readonly=True, default=lambda self: self.env.uid, ondelete="restrict"
    )
    user_name = fields.Char(
        string="By", readonly=True, default=lambda self: self.env.user.name, help="Kept as written."
    )

    def init(self):
        result = super().init()
        install_event_trigger(self.env.cr)
        return result

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            raise AccessError(self.env._("Run events are written by the system only."))
        for vals in vals_list:
            vals["at"] = fields.Datetime.now()
        events = super().create(vals_list)
        events.run_id._notify_live()
        return events

    def write(self, vals):
        self._refuse_change()
        return super().write(vals)

    @api.ondelete(at_uninstall=True)
    def _unlink_never(self):
        raise AccessError(self.env._("Run events are an audit trail: they cannot be deleted."))

    def _refuse_change(self):
        raise AccessError(self.env._("Run events are an audit trail: they cannot be changed."))
