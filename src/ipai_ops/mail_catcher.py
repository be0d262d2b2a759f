"""An SMTP sink for staging and development copies: every mail is kept, none delivered.

A neutralized copy sends through an outgoing server pointing here, logging in with its
database's name (and no password): the catcher files each mail under that name in a
spool directory, one ``.eml`` per mail written atomically, and never opens a
connection anywhere. The control plane then reads the spool into each environment's
*Mails*. It listens on loopback by default; it relays nothing whatever the recipient.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

MAX_MESSAGE_BYTES = 10 * 1024 * 1024
# a database name, and a safe directory name: no slash, and never "." or ".."
_LOGIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$")
UNKNOWN = "_unknown"  # mails sent without logging in


@dataclass(frozen=True)
class CaughtMail:
    path: Path
    received_at: datetime
    mail_from: str
    mail_to: str
    subject: str
    body: str
    attachments: tuple[str, ...]
    size: int


class _Handler:
    def __init__(self, spool: Path):
        self.spool = spool

    async def handle_DATA(self, _server, session, envelope):  # aiosmtpd's name for the hook
        login = _login_of(session)
        folder = self.spool / login
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        header = (
            f"X-Ipai-Ops-Envelope-From: {envelope.mail_from}\r\n"
            f"X-Ipai-Ops-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        partial = folder / f".{name}.partial"
        partial.write_bytes(header + envelope.original_content)
        os.replace(partial, folder / name)  # readers see whole mails only
        return "250 Kept, not delivered"


def _login_of(session) -> str:
    login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
    login = login.decode(errors="replace") if isinstance(login, bytes) else login
    return login if login and _LOGIN.match(login) else UNKNOWN


def _accept_any_login(_server, _session, _envelope, _mechanism, auth_data):
    # the login names the sending copy; there is nothing to protect by a password here
    return AuthResult(success=True, auth_data=auth_data)


def start(spool: Path, host: str = "127.0.0.1", port: int = 2525) -> Controller:
    """Start catching on ``host:port`` (in a thread); ``stop()`` the result to end."""
    spool = Path(spool)
    spool.mkdir(parents=True, exist_ok=True)
    controller = Controller(
        _Handler(spool),
        hostname=host,
        port=port,
        authenticator=_accept_any_login,
        auth_require_tls=False,  # loopback, and no secret is exchanged
        data_size_limit=MAX_MESSAGE_BYTES,
    )
    controller.start()
    return controller


def caught(spool: Path, login: str) -> list[CaughtMail]:
    """The mails kept for ``login`` (a copy's database name), oldest first."""
    if not _LOGIN.match(login or ""):
        return []
    folder = Path(spool) / login
    if not folder.is_dir():
        return []
    return [_read(path) for path in sorted(folder.glob("*.eml"))]


def _read(path: Path) -> CaughtMail:
    data = path.read_bytes()
    message = email.message_from_bytes(data, policy=email.policy.default)
    body = message.get_body(preferencelist=("plain", "html"))
    stamp = path.name.split("-", 1)[0]
    return CaughtMail(
        path=path,
        received_at=datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ"),
        mail_from=str(message.get("From", "")),
        mail_to=str(message.get("To", "")) or str(message.get("X-Ipai-Ops-Envelope-To", "")),
        subject=str(message.get("Subject", "")),
        body=body.get_content() if body else "",
        attachments=tuple(part.get_filename() or "" for part in message.iter_attachments()),
        size=len(data),
    )
