import logging

from werkzeug.exceptions import RequestEntityTooLarge

from odoo import http
from odoo.http import request

from odoo.addons.ipai_ops_core.controllers.answers import json_answer
from odoo.addons.ipai_ops_core.cron_trigger import trigger_soon

from ipai_ops.errors import SecretUnavailable
from ipai_ops.webhooks import WebhookRefused, parse_push, verify

_logger = logging.getLogger(__name__)
MAX_BODY = 2 * 1024 * 1024  # a push notification is a few KiB; more is not one


def _body_within(limit: int) -> bytes | None:
    """The request's body, or None when it is larger than ``limit``: refused by its
    Content-Length before a byte is read, and never more than ``limit`` + 1 read."""
    declared = request.httprequest.content_length
    if declared is not None and declared > limit:
        return None
    request.httprequest.max_content_length = limit  # a chunked body is cut there
    try:
        return request.httprequest.get_data(cache=False, parse_form_data=False)
    except RequestEntityTooLarge:
        return None


class OpsWebhook(http.Controller):
    """``POST /ipai_ops/webhook/<project code>``: GitHub and GitLab push notifications.

    Accepted only when signed by the project's webhook secret (compared in constant
    time). An unknown project is refused exactly like a wrong signature, so the route
    says nothing about which projects exist. A notification received twice (the same
    delivery id) is refused; a commit already noticed makes no second build.
    """

    @http.route("/ipai_ops/webhook/<string:code>", type="http", auth="none", methods=["POST"],
                csrf=False, save_session=False, readonly=False)  # fmt: skip
    def push(self, code):
        if not request.db:
            return json_answer({"status": "refused"}, 403)
        body = _body_within(MAX_BODY)
        if body is None:
            return json_answer({"status": "too large"}, 413)
        headers = dict(request.httprequest.headers)
        project = request.env["ipai.ops.project"].sudo().search([("code", "=", code)], limit=1)
        try:
            secret = project._webhook_secret() if project else ""
            forge = verify(headers, body, secret)
            push = parse_push(forge, headers, body)
        except (WebhookRefused, SecretUnavailable) as error:
            _logger.info("webhook for %r refused: %s", code, error)
            return json_answer({"status": "refused"}, 403)
        if push is None:
            return json_answer({"status": "ignored"}, 202)
        Build = request.env["ipai.ops.build"].sudo()
        if push.delivery and Build.search_count(
            [("project_id", "=", project.id), ("delivery", "=", push.delivery)], limit=1
        ):
            return json_answer({"status": "already received"}, 409)
        environments = project.environment_ids.filtered(lambda e: e.branch == push.branch)
        builds = Build.browse()
        for environment in environments:
            builds |= Build._notice(
                environment, push.commit, "webhook", delivery=push.delivery or False,
                author=push.author, message=push.message[:250],
            )  # fmt: skip
        if builds.filtered(lambda b: not b.described):
            # reading the commit needs a fetch: the poller does it now, not this request
            trigger_soon(request.env.ref("ipai_ops_builds.cron_poll_repositories"))
        return json_answer({"status": "queued", "builds": len(builds)}, 202)
