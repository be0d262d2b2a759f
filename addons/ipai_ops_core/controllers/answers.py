import json

from odoo.http import request


def json_answer(data: dict, status: int):
    """A small JSON answer for a probe or a forge: never cached, nothing but ``data``."""
    return request.make_response(
        json.dumps(data),
        headers=[("Content-Type", "application/json"), ("Cache-Control", "no-store")],
        status=status,
    )
