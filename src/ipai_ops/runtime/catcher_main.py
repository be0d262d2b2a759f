"""The mail catcher: an SMTP sink that keeps every mail and delivers none.

Standard-library Python only, so that it runs as one file in a container of any runtime
host whose image has ``python3`` (``python3 catcher_main.py SPOOL HOST PORT``), and in
``ipai-ops mail-catcher``.

A copy's outgoing mail server points here and logs in with the copy's database name.
Each mail is filed under that name in the spool, one ``.eml`` written whole then renamed,
so a reader never sees half a mail. A login that is not a plain name files the mail under
``_unknown``: a login is never a path. Nothing is ever relayed, whatever the recipient.

Every instance of a host reaches its catcher, and a branch's code chooses the login its
Odoo sends with: so where the spool has a ``.logins`` directory (a runtime host's catcher
always does), a login is accepted only with its password, whose SHA-256 the control plane
wrote there as ``.logins/<login>`` when it made the copy; a mail from a session that did
not log in so is refused. Without ``.logins`` (``ipai-ops mail-catcher`` on a developer's
machine) the login is taken as given. Each login's folder holds at most
:data:`MAX_SPOOL_BYTES`: past that, mail is refused as temporarily undeliverable.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import os
import re
import signal
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

MAX_MESSAGE_BYTES = 10 * 1024 * 1024
MAX_LINE = 64 * 1024  # longer lines end the connection
IDLE_TIMEOUT = 300  # seconds a client may stay silent
LOGIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$")
UNKNOWN = "_unknown"  # mails sent without a usable login
LOGINS = ".logins"  # in the spool: SHA-256 of each login's password, one file per login
MAX_SPOOL_BYTES = 256 * 1024**2  # kept for one login at most
_ADDRESS = re.compile(r"^(?:FROM|TO):\s*<([^>]*)>", re.IGNORECASE)


def password_digest(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def login_accepted(spool: Path, login: str | None, password: str | None) -> bool:
    """Whether ``login`` may file mail: any plain login in an open spool, else only with
    the password whose digest the control plane wrote for it."""
    logins = Path(spool) / LOGINS
    if not logins.is_dir():
        return True
    if not login or not LOGIN.match(login) or password is None:
        return False
    try:
        expected = (logins / login).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return False
    return hmac.compare_digest(expected, password_digest(password))


def spool_bytes(spool: Path, login: str | None) -> int:
    """What ``login``'s folder of the spool holds, in bytes."""
    folder = Path(spool) / (login if login and LOGIN.match(login) else UNKNOWN)
    try:
        with os.scandir(folder) as entries:
            return sum(entry.stat().st_size for entry in entries if entry.is_file())
    except FileNotFoundError:
        return 0


def file_mail(spool: Path, login: str | None, mail_from: str, rcpt_tos: list[str],
              content: bytes) -> Path:  # fmt: skip
    """Keep one mail under ``login``'s folder of the spool; returns its file."""
    folder = Path(spool) / (login if login and LOGIN.match(login) else UNKNOWN)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
    header = (
        f"X-Ipai-Ops-Envelope-From: {mail_from}\r\n"
        f"X-Ipai-Ops-Envelope-To: {', '.join(rcpt_tos)}\r\n"
    ).encode()
    partial = folder / f".{name}.partial"
    partial.write_bytes(header + content)
    os.replace(partial, folder / name)  # readers see whole mails only
    return folder / name


class _Closed(Exception):
    """The client went away, stayed silent too long, or sent a line too long."""


class Session:
    """One SMTP conversation (RFC 5321's commands a mail client sends, AUTH PLAIN/LOGIN)."""

    def __init__(self, reader, writer, spool: Path):
        self.reader, self.writer, self.spool = reader, writer, spool
        self.login: str | None = None
        self.accepted = login_accepted(spool, None, None)  # an open spool takes anyone
        self._reset()

    def _reset(self) -> None:
        self.mail_from: str | None = None
        self.rcpt_tos: list[str] = []

    async def run(self) -> None:
        try:
            await self.reply("220 ipai-ops mail catcher: mail is kept, never delivered")
            while True:
                verb, _, argument = (await self.readline()).partition(" ")
                handler = getattr(self, f"smtp_{verb.upper()}", None) if verb.isalpha() else None
                if handler is None:
                    await self.reply("500 5.5.2 Command not recognized")
                elif await handler(argument.strip()) is False:
                    return
        except (_Closed, ConnectionError):
            pass
        finally:
            self.writer.close()

    async def readline(self) -> str:
        return (await self._read_bytes()).decode("utf-8", "replace").rstrip("\r\n")

    async def _read_bytes(self) -> bytes:
        try:
            line = await asyncio.wait_for(self.reader.readline(), IDLE_TIMEOUT)
        except (asyncio.TimeoutError, ValueError, asyncio.LimitOverrunError):
            raise _Closed from None
        if not line:
            raise _Closed
        return line

    async def reply(self, *lines: str) -> None:
        self.writer.write("".join(f"{line}\r\n" for line in lines).encode())
        await self.writer.drain()

    async def smtp_EHLO(self, _argument):
        self._reset()
        size = f"250-SIZE {MAX_MESSAGE_BYTES}"
        await self.reply("250-ipai-ops-catcher", "250-AUTH PLAIN LOGIN", size, "250-8BITMIME",
                         "250 SMTPUTF8")  # fmt: skip

    async def smtp_HELO(self, _argument):
        self._reset()
        await self.reply("250 ipai-ops-catcher")

    async def smtp_AUTH(self, argument):
        mechanism, _, initial = argument.partition(" ")
        mechanism = mechanism.upper()
        if mechanism == "PLAIN":
            answer = initial or await self._challenge("")
            parts = _b64(answer).split("\0")
            login, password = (parts[1], parts[2]) if len(parts) == 3 else (None, None)
        elif mechanism == "LOGIN":
            login = _b64(initial or await self._challenge("VXNlcm5hbWU6"))  # "Username:"
            password = _b64(await self._challenge("UGFzc3dvcmQ6"))  # "Password:"
        else:
            await self.reply("504 5.5.4 Unrecognized authentication type")
            return
        if not login_accepted(self.spool, login, password):
            self.login, self.accepted = None, login_accepted(self.spool, None, None)
            await self.reply("535 5.7.8 Authentication credentials invalid")
            return
        self.login, self.accepted = login, True
        await self.reply("235 2.7.0 Authentication successful")

    async def _challenge(self, prompt: str) -> str:
        await self.reply(f"334 {prompt}")
        return await self.readline()

    async def smtp_MAIL(self, argument):
        if not self.accepted:
            await self.reply("530 5.7.0 Authentication required")
            return
        found = _ADDRESS.match(argument)
        if not found or not argument.upper().startswith("FROM:"):
            await self.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
            return
        self._reset()
        self.mail_from = found.group(1)
        await self.reply("250 2.1.0 OK")

    async def smtp_RCPT(self, argument):
        found = _ADDRESS.match(argument)
        if self.mail_from is None:
            await self.reply("503 5.5.1 MAIL first")
        elif not found or not argument.upper().startswith("TO:"):
            await self.reply("501 5.5.4 Syntax: RCPT TO:<address>")
        else:
            self.rcpt_tos.append(found.group(1))
            await self.reply("250 2.1.5 OK")

    async def smtp_DATA(self, _argument):
        if not self.rcpt_tos:
            await self.reply("503 5.5.1 RCPT first")
            return
        await self.reply("354 End data with <CR><LF>.<CR><LF>")
        content, too_large = bytearray(), False
        while (line := await self._read_bytes()) not in (b".\r\n", b".\n"):
            if line.startswith(b".."):  # dot-stuffing (RFC 5321, 4.5.2)
                line = line[1:]
            too_large = too_large or len(content) + len(line) > MAX_MESSAGE_BYTES
            if not too_large:
                content += line
        if too_large:
            await self.reply("552 5.3.4 Message too big")
        elif spool_bytes(self.spool, self.login) + len(content) > MAX_SPOOL_BYTES:
            await self.reply("452 4.3.1 This copy's mail spool is full")
        else:
            file_mail(self.spool, self.login, self.mail_from, self.rcpt_tos, bytes(content))
            await self.reply("250 2.0.0 Kept, not delivered")
        self._reset()

    async def smtp_RSET(self, _argument):
        self._reset()
        await self.reply("250 2.0.0 OK")

    async def smtp_NOOP(self, _argument):
        await self.reply("250 2.0.0 OK")

    async def smtp_VRFY(self, _argument):
        await self.reply("252 2.1.5 Cannot verify, will keep it")

    async def smtp_QUIT(self, _argument):
        await self.reply("221 2.0.0 Bye")
        return False


def _b64(text: str) -> str:
    try:
        return base64.b64decode(text.strip(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


async def start_server(spool: Path, host: str, port: int):
    """Listen on ``host:port``; each connection is a :class:`Session` filing into ``spool``."""
    Path(spool).mkdir(parents=True, exist_ok=True)
    return await asyncio.start_server(
        lambda reader, writer: Session(reader, writer, Path(spool)).run(),
        host, port, limit=MAX_LINE, reuse_address=True,
    )  # fmt: skip


async def _main(spool: str, host: str, port: int) -> None:
    server = await start_server(Path(spool), host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"catching mail on {host}:{port} into {spool}", file=sys.stderr, flush=True)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
