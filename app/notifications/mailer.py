"""Handing a message to the SMTP server (settings.smtp_*), with timeouts and error classes.

The conversation is driven step by step (MAIL, RCPT, DATA) rather than with sendmail() so that the
server's answer to DATA (usually its queue id) is kept as evidence of the hand-over.
"""

from __future__ import annotations

import smtplib
import ssl
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


def deliver(message: EmailMessage, *, recipient: str) -> str:
    """Send one message to one recipient; returns the server's reply to DATA (e.g. "250 queued")."""
    settings = get_settings()
    sender = parseaddr(settings.mail_from)[1]
    smtp = smtplib.SMTP(timeout=SMTP_TIMEOUT_SECONDS)
    try:
        smtp.connect(settings.smtp_host, settings.smtp_port)
        smtp.ehlo()
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
        _expect(smtp.mail(sender), (250,))
        _expect(smtp.rcpt(recipient), (250, 251))
        # data() raises only if DATA itself is refused; the verdict on the message is checked here.
        code, reply = smtp.data(message.as_bytes(policy=policy.SMTP))
        _expect((code, reply), (250,))
    except MailError:
        EXTERNAL_CALLS.labels("mail", "refused").inc()
        raise
    except smtplib.SMTPResponseException as error:
        EXTERNAL_CALLS.labels("mail", "refused").inc()
        raise _classify(error.smtp_code, _text(error.smtp_error)) from None
    except (smtplib.SMTPException, OSError) as error:
        # Connection refused, timeouts, TLS failures, a server hanging up: all worth retrying.
        EXTERNAL_CALLS.labels("mail", "error").inc()
        raise TransientMailError(f"{type(error).__name__}: {error}") from None
    finally:
        # QUIT after an accepted DATA must never turn a delivered message into an error.
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
    EXTERNAL_CALLS.labels("mail", "ok").inc()
    return f"{code} {_text(reply)}"
