"""Calling the models the way an intruder would: over JSON-RPC, logged in as a real user.

``with_user()`` on a model in the test's own environment skips the HTTP layer, the
session and the web client's route; these helpers go through all of them, exactly
as a browser's console or a script holding the user's session cookie would.
"""

from urllib.parse import urljoin

from odoo.tests import HttpCase

# what a refusal may look like; anything else (a crash, a ValueError) is a bug
REFUSALS = frozenset(
    {
        "odoo.exceptions.AccessError",
        "odoo.exceptions.UserError",
        "odoo.exceptions.ValidationError",
        "odoo.exceptions.MissingError",
    }
)


def by_stage(**least: str) -> set:
    """Cells ``(role, stage)`` allowed for roles at or above each stage's least role, as
    the README's role table writes them (operations administrators act as admins)."""
    ladder = ("developer", "tester", "admin")
    cells = set()
    for stage, role in least.items():
        cells |= {(above, stage) for above in ladder[ladder.index(role) :]}
        cells.add(("ops_admin", stage))
    return cells


class Refused(Exception):
    """The server refused the call; ``name`` is the exception's class path."""

    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


class RpcCase(HttpCase):
    """An HttpCase whose tests call model methods over JSON-RPC as a logged-in user."""

    _rpc_login = None

    def login_as(self, user) -> None:
        """Open a session as ``user`` (whose password is their login, as new_test_user makes)."""
        if self._rpc_login != user.login:
            self.authenticate(user.login, user.login)
            self._rpc_login = user.login

    def call_kw(self, user, model: str, method: str, *args, **kwargs) -> dict:
        """The JSON-RPC answer of ``model.method(*args, **kwargs)`` as ``user``, as sent."""
        self.login_as(user)
        response = self.opener.post(
            urljoin(self.base_url(), f"/web/dataset/call_kw/{model}/{method}"),
            json={
                "id": 0,
                "jsonrpc": "2.0",
                "method": "call",
                "params": {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
            },
            timeout=30,
        )
        response.raise_for_status()
        return response.json()

    def call(self, user, model: str, method: str, *args, **kwargs):
        """``model.method(*args, **kwargs)`` over /web/dataset/call_kw as ``user``.

        :raises Refused: when the server answers with an expected refusal
        """
        body = self.call_kw(user, model, method, *args, **kwargs)
        if "error" in body:
            data = body["error"]["data"]
            if data["name"] not in REFUSALS:
                self.fail(f"{model}.{method} crashed instead of refusing: {data['debug']}")
            raise Refused(data["name"], data["message"])
        return body.get("result")

    def allowed(self, user, model: str, method: str, *args, **kwargs) -> bool:
        """Whether the call went through (True) or was refused (False)."""
        try:
            self.call(user, model, method, *args, **kwargs)
        except Refused:
            return False
        return True

    def assertRefused(self, user, model, method, *args, **kwargs) -> Refused:
        with self.assertRaises(Refused, msg=f"{user.login} may not {model}.{method}") as caught:
            self.call(user, model, method, *args, **kwargs)
        return caught.exception
