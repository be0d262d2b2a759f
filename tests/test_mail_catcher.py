"""The SMTP sink of copies: every mail kept under the sending copy's name, none relayed."""

import signal
import smtplib
import socket
import subprocess
import sys
import time
from email.message import EmailMessage

import pytest
from sftp_server import free_port

from ipai_ops import mail_catcher


@pytest.fixture
def catcher(tmp_path):
    port = free_port()
    controller = mail_catcher.start(tmp_path / "spool", port=port)
    yield tmp_path / "spool", port
    controller.stop()


def _mail(to="jane.customer@customer.example") -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "shop@acme.example", to, "Your invoice"
    message.set_content("Dear Jane, your invoice is attached.")
    message.add_attachment(b"%PDF-1.4 ...", maintype="application", subtype="pdf",
                           filename="INV-0001.pdf")  # fmt: skip
    return message


def test_a_mail_is_kept_under_the_copy_that_sent_it(catcher):
    spool, port = catcher
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.login("acme-staging-20261201", "")  # an open spool: no login was granted here
        refused = smtp.send_message(_mail())
    assert refused == {}, "accepted for every recipient: kept, not delivered"
    [kept] = mail_catcher.caught(spool, "acme-staging-20261201")
    assert (kept.mail_from, kept.mail_to, kept.subject) == (
        "shop@acme.example", "jane.customer@customer.example", "Your invoice",
    )  # fmt: skip
    assert "your invoice is attached" in kept.body
    assert kept.attachments == ("INV-0001.pdf",)
    assert mail_catcher.caught(spool, "acme-dev-1") == [], "each copy sees its own mails"


def test_without_a_login_mail_is_kept_apart_and_names_are_never_paths(catcher):
    spool, port = catcher
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.send_message(_mail())
    assert len(mail_catcher.caught(spool, mail_catcher.UNKNOWN)) == 1
    for login in ("../../etc", ".."):
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.login(login, "")
            smtp.send_message(_mail())
    assert len(mail_catcher.caught(spool, mail_catcher.UNKNOWN)) == 3, "filed as unknown"
    assert not list(spool.parent.glob("*.eml")), "nothing written outside the spool"
    assert not (spool.parent / "etc").exists()
    assert mail_catcher.caught(spool, "../spool") == []


def test_the_command_catches_until_it_is_stopped(tmp_path):
    port, spool = free_port(), tmp_path / "spool"
    catcher = subprocess.Popen(
        [sys.executable, "-m", "ipai_ops.cli", "mail-catcher", "--spool", str(spool),
         "--listen", f"127.0.0.1:{port}"],
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.login("acme-dev-7", "")
            smtp.send_message(_mail())
    finally:
        catcher.send_signal(signal.SIGTERM)
        assert catcher.wait(timeout=10) == 0, catcher.stderr.read()
    assert [m.subject for m in mail_catcher.caught(spool, "acme-dev-7")] == ["Your invoice"]


def test_lines_that_begin_with_a_dot_survive_and_too_large_a_mail_is_refused(catcher):
    spool, port = catcher
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@acme.example", "b@acme.example", "Dots"
    message.set_content(".hidden first line\n..two dots\n.\nend\n")
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.login("acme-dev-2", "")
        smtp.send_message(message)
        huge = EmailMessage()
        huge["From"], huge["To"], huge["Subject"] = "a@acme.example", "b@acme.example", "Huge"
        huge.set_content(("x" * 70 + "\n") * (mail_catcher.MAX_MESSAGE_BYTES // 71 + 10))
        with pytest.raises(smtplib.SMTPDataError, match="too big"):
            smtp.send_message(huge)
    [kept] = mail_catcher.caught(spool, "acme-dev-2")
    assert kept.body.splitlines()[:4] == [".hidden first line", "..two dots", ".", "end"]


def test_a_hosts_catcher_files_a_mail_only_for_the_login_granted_its_password(tmp_path):
    """On a runtime host every instance reaches the catcher: one copy cannot plant mail in
    another's Mails, by naming it, with no password or with its own password."""
    spool = tmp_path / "spool"
    own = mail_catcher.grant_login(spool, "acme-staging")
    other = mail_catcher.grant_login(spool, "globex-staging")
    port = free_port()
    controller = mail_catcher.start(spool, port=port)
    try:
        for login, password in (("globex-staging", own), ("globex-staging", ""), ("x", "")):
            with smtplib.SMTP("127.0.0.1", port) as smtp:
                with pytest.raises(smtplib.SMTPAuthenticationError):
                    smtp.login(login, password)
                with pytest.raises(smtplib.SMTPSenderRefused):
                    smtp.send_message(_mail())
        with (
            smtplib.SMTP("127.0.0.1", port) as smtp,  # no login at all
            pytest.raises(smtplib.SMTPSenderRefused),
        ):
            smtp.send_message(_mail())
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.login("acme-staging", own)
            assert smtp.send_message(_mail()) == {}
        assert len(mail_catcher.caught(spool, "acme-staging")) == 1
        assert mail_catcher.caught(spool, "globex-staging") == []
        assert mail_catcher.caught(spool, mail_catcher.UNKNOWN) == []
        assert other not in (spool / ".logins" / "globex-staging").read_text(), "a digest only"
    finally:
        controller.stop()


def test_a_copys_spool_is_bounded(tmp_path, monkeypatch):
    from ipai_ops.runtime import catcher_main  # noqa: PLC0415

    monkeypatch.setattr(catcher_main, "MAX_SPOOL_BYTES", 4000)
    spool = tmp_path / "spool"
    port = free_port()
    controller = mail_catcher.start(spool, port=port)
    try:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.login("acme-dev", "")
            smtp.send_message(_mail())  # about 1 KB
            smtp.send_message(_mail())
            with pytest.raises(smtplib.SMTPDataError) as refused:
                for _ in range(5):
                    smtp.send_message(_mail())
        assert refused.value.smtp_code == 452
        kept = mail_catcher.caught(spool, "acme-dev")
        assert 2 <= len(kept) < 7 and sum(mail.size for mail in kept) <= 4000
    finally:
        controller.stop()
