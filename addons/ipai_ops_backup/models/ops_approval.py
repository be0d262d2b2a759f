from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

APPROVAL_VALIDITY = timedelta(hours=24)
APPROVAL_STATES = [
    ("pending", "Waiting for approval"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("expired", "Expired"),
]


class IpaiOpsApproval(models.Model):
    """A second project admin's consent to a run that touches production.

    The run waits (state ``waiting``) until another admin of the project approves it
    within 24 hours; the requester can never approve their own request.
    """

    _name = "ipai.ops.approval"
    _description = "Operations: approval"
    _order = "id desc"

    run_id = fields.Many2one("ipai.ops.run", required=True, readonly=True, ondelete="restrict")
    environment_id = fields.Many2one(related="run_id.environment_id", store=True)
    project_id = fields.Many2one(related="run_id.project_id", store=True, index=True)
    requester_id = fields.Many2one("res.users", required=True, readonly=True)
    approver_id = fields.Many2one("res.users", readonly=True)
    state = fields.Selection(APPROVAL_STATES, default="pending", required=True, readonly=True)
    expires_at = fields.Datetime(
        required=True, readonly=True, default=lambda self: fields.Datetime.now() + APPROVAL_VALIDITY
    )
    decided_at = fields.Datetime(readonly=True)
    description = fields.Char(related="run_id.summary")

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            raise AccessError(self.env._("Approvals are requested by the operation itself."))
        return super().create(vals_list)

    def _check_can_decide(self):
        self.ensure_one()
        if self.state != "pending":
            raise UserError(self.env._("This request was already %(state)s.", state=self.state))
        if self.expires_at < fields.Datetime.now():
            self._expire()
            raise UserError(self.env._("This request expired; it must be made again."))
        if self.env.user == self.requester_id:  # a rule of the process, not a missing right
            raise UserError(
                self.env._("You asked for this operation: another project admin must approve it.")
            )
        if self.project_id._effective_role(self.env.user) != "admin":
            raise AccessError(self.env._("Only the project's admins may approve this operation."))

    def action_approve(self):
        for approval in self:
            run = approval._decide("approved")
            run._transition(
                "queued", message=self.env._("Approved by %(user)s.", user=self.env.user.name)
            )
            run._trigger_executor()
        return True

    def action_reject(self):
        for approval in self:
            run = approval._decide("rejected")
            run._transition(
                "cancelled",
                message=self.env._("Rejected by %(user)s.", user=self.env.user.name),
                level="warning",
            )
        return True

    def _decide(self, state: str):
        """Record the current user's decision; return the run it is about (as superuser)."""
        self._check_can_decide()
        self.sudo().write(
            {"state": state, "approver_id": self.env.uid, "decided_at": fields.Datetime.now()}
        )
        self._close_requests()
        return self.run_id.sudo()

    def _notify_approvers(self) -> None:
        """Each other admin of the project gets a to-do on the environment and a message:
        a request nobody sees expires unnoticed."""
        for approval in self.sudo():
            environment = approval.environment_id
            approvers = (
                environment.project_id.member_ids.filtered(lambda m: m.role == "admin").user_id
                - approval.requester_id
            )
            summary = approval._request_summary()
            for user in approvers:
                environment.activity_schedule(
                    "ipai_ops_backup.mail_activity_approval", summary=summary, user_id=user.id,
                    date_deadline=approval.expires_at.date(),
                )  # fmt: skip
            environment.message_post(
                body=self.env._(
                    "%(summary)s Approve or reject it under Operations ▸ Approvals before "
                    "%(expires)s UTC.",
                    summary=summary,
                    expires=fields.Datetime.to_string(approval.expires_at),
                ),
                partner_ids=approvers.partner_id.ids,
                subtype_xmlid="mail.mt_comment",
            )

    def _request_summary(self) -> str:
        return self.env._(
            "%(user)s asks to %(operation)s %(env)s.",
            user=self.requester_id.name,
            operation=(self.run_id.kind_label or self.run_id.kind).lower(),
            env=self.environment_id.name,
        )

    def _close_requests(self) -> None:
        """The approvers' to-dos about a decided or expired request are done."""
        kind = self.env.ref("ipai_ops_backup.mail_activity_approval")
        for approval in self.sudo():
            summary = approval._request_summary()
            approval.environment_id.activity_ids.filtered(
                lambda a, s=summary: a.summary == s and a.activity_type_id == kind
            ).action_feedback(feedback=approval.state)

    def _expire(self):
        for approval in self.sudo():
            approval.write({"state": "expired", "decided_at": fields.Datetime.now()})
            approval._close_requests()
            approval.run_id._transition(
                "cancelled",
                message=self.env._("Approval expired after 24 hours."),
                level="warning",
            )

    @api.model
    def _cron_expire_approvals(self):
        """Called from a cron: cancel runs whose approval window has passed."""
        self.sudo().search(
            [("state", "=", "pending"), ("expires_at", "<", fields.Datetime.now())]
        )._expire()
