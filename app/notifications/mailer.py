"""Handing a message to the SMTP server (settings.smtp_*), with timeouts and error classes.

The conversation is driven step by step (MAIL, RCPT, DATA) rather than with sendmail() so that the
server's answer to DATA (usually its queue id) is kept as evidence of the hand-over.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import time
from email import policy
from email.message import EmailMessage
from email.utils import parseaddr

from app.config import get_settings
from app.metrics import EXTERNAL_CALLS

# Per socket operation; a hung server costs at most a few of these per attempt.
SMTP_TIMEOUT_SECONDS = 20.0


class MailError(Exception):
    transient = True


class TransientMailError(MailError):
    """Worth retrying: the server is down, slow, or answered 4xx."""


class PermanentMailError(MailError):
    """The server refused for good (5xx): retrying the same message cannot help."""

    transient = False


def _classify(code: int, text: str) -> MailError:
    reason = f"{code} {text}".strip()
    return PermanentMailError(reason) if 500 <= code < 600 else TransientMailError(reason)


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _expect(reply: tuple[int, bytes], accepted: tuple[int, ...]) -> None:
    code, text = reply
    if code not in accepted:
        raise _classify(code, _text(text))


# One kept connection per process (a Celery pool process sends one message at a time): a new
# connection, EHLO, STARTTLS (a fresh TLS context loading the CA bundle) and login per message
# was most of the cost of an e-mail. Idle longer than this, it is closed rather than reused
# (servers drop idle clients after a few minutes).
KEEP_IDLE_SECONDS = 30.0
_tls: ssl.SSLContext | None = None
_kept: tuple[int, tuple, smtplib.SMTP, float] | None = None  # (pid, server, connection, last used)


def _tls_context() -> ssl.SSLContext:
    global _tls
    if _tls is None:
        _tls = ssl.create_default_context()
    return _tls


def _server() -> tuple:
    settings = get_settings()
    return (settings.smtp_host, settings.smtp_port, settings.smtp_starttls, settings.smtp_username)


def _open() -> smtplib.SMTP:
    settings = get_settings()
    smtp = smtplib.SMTP(timeout=SMTP_TIMEOUT_SECONDS)
    try:
        smtp.connect(settings.smtp_host, settings.smtp_port)
        smtp.ehlo()
        if settings.smtp_starttls:
            smtp.starttls(context=_tls_context())
            smtp.ehlo()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
    except BaseException:
        _close(smtp)
        raise
    return smtp


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _take_kept() -> smtplib.SMTP | None:
    """The kept connection if it is this process's, to this server, and fresh; else None."""
    global _kept
    kept, _kept = _kept, None
    if kept is None:
        return None
    pid, server, smtp, last_used = kept
    if pid != os.getpid():
        return None  # a parent's socket (fork): never used, never closed, here
    if server != _server() or time.monotonic() - last_used > KEEP_IDLE_SECONDS:
        _close(smtp)
        return None
    return smtp


def _keep(smtp: smtplib.SMTP) -> None:
    global _kept
    previous, _kept = _kept, (os.getpid(), _server(), smtp, time.monotonic())
    if previous is not None and previous[0] == os.getpid():
        _close(previous[2])


def close_kept() -> None:
    """Close this process's kept connection (tests that change the SMTP settings, shutdown)."""
    smtp = _take_kept()
    if smtp is not None:
        _close(smtp)


def _transaction(smtp: smtplib.SMTP, sender: str, recipient: str, message: EmailMessage) -> tuple[int, bytes]:
    _expect(smtp.mail(sender), (250,))
    _expect(smtp.rcpt(recipient), (250, 251))
    # data() raises only if DATA itself is refused; the verdict on the message is checked here.
    code, reply = smtp.data(message.as_bytes(policy=policy.SMTP))
    _expect((code, reply), (250,))
    return code, reply


def deliver(message: EmailMessage, *, recipient: str) -> str:
    """Send one message to one recipient; returns the server's reply to DATA (e.g. "250 queued").

    On the kept connection when there is one. If that connection turns out closed by the server
    before MAIL was answered, nothing was handed over and the message goes once on a new
    connection; any other failure drops the connection and is reported as before."""
    sender = parseaddr(get_settings().mail_from)[1]
    smtp = None
    try:
        smtp = _take_kept()
        if smtp is not None:
            try:
                _expect(smtp.mail(sender), (250,))
            except (smtplib.SMTPServerDisconnected, ConnectionError, MailError):
                _close(smtp)
                smtp = None
            else:
                _expect(smtp.rcpt(recipient), (250, 251))
                code, reply = smtp.data(message.as_bytes(policy=policy.SMTP))
                _expect((code, reply), (250,))
        if smtp is None:
            smtp = _open()
            code, reply = _transaction(smtp, sender, recipient, message)
    except MailError:
        EXTERNAL_CALLS.labels("mail", "refused").inc()
        if smtp is not None:
            _close(smtp)
        raise
    except smtplib.SMTPResponseException as error:
        EXTERNAL_CALLS.labels("mail", "refused").inc()
        if smtp is not None:
            _close(smtp)
        raise _classify(error.smtp_code, _text(error.smtp_error)) from None
    except (smtplib.SMTPException, OSError) as error:
        # Connection refused, timeouts, TLS failures, a server hanging up: all worth retrying.
        EXTERNAL_CALLS.labels("mail", "error").inc()
        if smtp is not None:
            smtp.close()
        raise TransientMailError(f"{type(error).__name__}: {error}") from None
    # Kept for the next message instead of QUIT (which after an accepted DATA could only fail).
    _keep(smtp)
    EXTERNAL_CALLS.labels("mail", "ok").inc()
    return f"{code} {_text(reply)}"
