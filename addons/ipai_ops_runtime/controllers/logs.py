from odoo import http
from odoo.exceptions import AccessError, UserError
from odoo.http import content_disposition, request

MAX_LINES = 20000


class InstanceLogController(http.Controller):
    @http.route("/ipai_ops/instance/<int:environment_id>/log", type="http", auth="user",
                methods=["GET"])  # fmt: skip
    def download(self, environment_id: int, lines: str = "1000"):
        """The end of an instance's log as a text file, for those who may operate it."""
        environment = request.env["ipai.ops.environment"].browse(environment_id).exists()
        if not environment:
            raise request.not_found()
        count = min(int(lines), MAX_LINES) if lines.isdigit() else 1000
        try:
            text = environment._instance_logs(count)
        except AccessError:
            return request.make_response("Forbidden", status=403)
        except UserError as exc:
            return request.make_response(str(exc), [("Content-Type", "text/plain")], status=503)
        name = f"{environment.project_id.code}-{environment.id}.log"
        return request.make_response(
            text,
            headers=[
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Disposition", content_disposition(name)),
                ("X-Content-Type-Options", "nosniff"),
            ],
        )
