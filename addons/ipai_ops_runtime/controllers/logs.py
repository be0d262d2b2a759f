import re

from odoo import http
from odoo.exceptions import AccessError, UserError
from odoo.http import content_disposition, request

MAX_LINES = 20000
DEFAULT_LINES = 1000
LINE_COUNT = re.compile(r"[0-9]{1,6}")


class InstanceLogController(http.Controller):
    @http.route("/ipai_ops/instance/<int:environment_id>/log", type="http", auth="user",
                methods=["GET"])  # fmt: skip
    def download(self, environment_id: int, lines: str = str(DEFAULT_LINES)):
        """The end of an instance's log as a text file, for those who may operate it."""
        environment = request.env["ipai.ops.environment"].browse(environment_id).exists()
        if not environment or not environment.has_access("read"):
            raise request.not_found()  # the same answer whether it exists or is hidden
        count = min(int(lines), MAX_LINES) if LINE_COUNT.fullmatch(lines) else DEFAULT_LINES
        try:
            text = environment._instance_logs(count)
        except AccessError:
            return request.make_response("Forbidden", status=403)
        except UserError as exc:
            return request.make_response(str(exc), [("Content-Type", "text/plain")], status=503)
        return _text_file(text, f"{environment.project_id.code}-{environment.id}.log")

    @http.route("/ipai_ops/run/<int:run_id>/log", type="http", auth="user", methods=["GET"])
    def run_log(self, run_id: int):
        """The whole log an operation kept, for those who may operate its environment."""
        run = request.env["ipai.ops.run"].browse(run_id).exists()
        if not run or not run.has_access("read"):
            raise request.not_found()
        try:
            text = run._instance_log_text()
        except AccessError:
            return request.make_response("Forbidden", status=403)
        if text is None:
            raise request.not_found()
        return _text_file(text, f"{run.name.replace('/', '-')}.log")


def _text_file(text: str, name: str):
    return request.make_response(
        text,
        headers=[
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Disposition", content_disposition(name)),
            ("X-Content-Type-Options", "nosniff"),
        ],
    )
