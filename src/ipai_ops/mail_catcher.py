"""An SMTP sink for staging and development copies: every mail is kept, none delivered.

A neutralized copy sends through an outgoing server pointing here, logging in with its
database's name and a password of its own (:func:`grant_login`): the catcher
(``runtime.catcher_main``, which also runs in a container of each runtime host) files
each mail under that name in a spool directory, and never opens a connection anywhere.
The control plane reads the spool into each environment's *Mails*. It listens on
loopback by default.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .errors import InvalidName
from .runtime.catcher_main import LOGIN as _LOGIN
from .runtime.catcher_main import LOGINS, MAX_MESSAGE_BYTES, UNKNOWN, password_digest, start_server

__all__ = ["MAX_MESSAGE_BYTES", "UNKNOWN", "CaughtMail", "caught", "grant_login", "start"]


def grant_login(spool: str | os.PathLike, login: str) -> str:
    """A new password for ``login`` at the catcher filing into ``spool``; the previous one
    stops working. Only its SHA-256 is written, readable by the catcher; the password
    itself goes into the copy's outgoing mail server and nowhere else."""
    if not _LOGIN.match(login):
        raise InvalidName(f"{login!r} cannot log in at the mail catcher.")
    folder = Path(spool) / LOGINS
    folder.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(24)
    partial = folder / f".{login}.{secrets.token_hex(4)}"
    partial.write_text(password_digest(password), encoding="ascii")
    partial.chmod(0o644)
    os.replace(partial, folder / login)
    return password


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


class Controller:
    """The catcher serving in a thread of this process, until :meth:`stop`."""

    def __init__(self, spool: Path, host: str, port: int):
        self.spool, self.host, self.port = spool, host, port
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="mail-catcher", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def _serve(self) -> None:
        try:
            server = self._loop.run_until_complete(start_server(self.spool, self.host, self.port))
        except OSError as error:  # the port is taken: say so to the caller
            self._error = error
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


def start(spool: Path, host: str = "127.0.0.1", port: int = 2525) -> Controller:
    """Start catching on ``host:port`` (in a thread); ``stop()`` the result to end."""
    controller = Controller(Path(spool), host, port)
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
