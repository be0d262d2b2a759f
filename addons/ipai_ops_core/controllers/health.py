from odoo import http
from odoo.http import request

from .answers import json_answer


class OpsHealth(http.Controller):
    """``GET /ipai_ops/health``: whether the run executor is alive, for a monitoring probe.

    200 when it is, 503 when it is not (or no database is selected). The answer holds
    no names and no secrets: a state, when the executor was last seen, and counts.
    """

    @http.route("/ipai_ops/health", type="http", auth="none", methods=["GET"], save_session=False)
    def health(self):
        if not request.db:
            return json_answer({"status": "unknown", "reason": "no database selected"}, 503)
        health = request.env["ipai.ops.run"].sudo()._executor_health()
        return json_answer(health.as_dict(), 200 if health.alive else 503)
