"""E-mails to the merchant (ratio warnings, the daily chain-head digest), at most one per key.

`queue` writes the mail in the caller's transaction (a unique key: the same warning of the same
month, or the digest of the same day, is never queued twice) and its send task through the outbox.
`send` follows app/exactly_once.py: the mail's advisory lock, the attempt recorded and committed
before the SMTP conversation, the outcome recorded after. SMTP cannot be asked whether a message
arrived, so a retry after a crash mid-send reuses the stored Message-ID: the merchant's mail client
shows one message. Sent through the notifications mailer (app/notifications/mailer.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app import exactly_once
from app.alerts.models import MerchantMail
from app.config import get_settings
from app.db import utcnow
from app.evidence import service as evidence
from app.notifications import mailer
from app.notifications.service import message_id_for, without_addresses
from app.outbox.service import enqueue
from app.shops.models import Shop

SEND_TASK = "alerts.send_merchant_mail"
KINDS = ("ratio_warning", "chain_digest")
MAX_ATTEMPTS = 6


class MailBusy(Exception):
    """Another task is sending this mail."""


class RetryLater(Exception):
    """The mail server could not take it now."""


def queue(session: Session, shop: Shop, *, key: str, kind: str, subject: str, body: str) -> int | None:
    """The mail's id, or None when this key was queued before (nothing is sent twice)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    mail_id = session.scalar(
        insert(MerchantMail).values(
            shop_id=shop.id, key=key[:128], kind=kind, recipient=shop.email, subject=subject[:255], body=body,
            status="pending", attempts=0, message_id=message_id_for(f"merchant.{shop.id}.{key}"[:160]),
        ).on_conflict_do_nothing(index_elements=["shop_id", "key"]).returning(MerchantMail.id)
    )
    if mail_id is not None:
        enqueue(session, SEND_TASK, mail_id)
    return mail_id


@dataclass
class _Attempt:
    mail_id: int
    number: int
    recipient: str
    message: EmailMessage


def _record(session: Session, shop: Shop, mail: MerchantMail, kind: str, data: dict) -> None:
    evidence.record(session, chain=shop.domain, shop_id=shop.id, kind=kind, source="dropguard",
                    data={"mail_id": mail.id, "key": mail.key, "mail_kind": mail.kind, "subject": mail.subject,
                          "message_id": mail.message_id, **data},
                    personal={"recipient": mail.recipient} if mail.recipient else None)


def _begin(session: Session, mail_id: int) -> _Attempt | str:
    mail = session.get(MerchantMail, mail_id, with_for_update=True)
    if mail is None:
        return "missing"
    if mail.status != "pending":
        return mail.status
    shop = session.get(Shop, mail.shop_id)
    recipient = mail.recipient or shop.email
    if not recipient:
        mail.status = "skipped"
        _record(session, shop, mail, "merchant_mail.skipped", {"reason": "the shop has no e-mail address"})
        return "skipped"
    mail.attempts += 1
    message = EmailMessage()
    message["From"] = get_settings().mail_from
    message["To"] = recipient
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = mail.message_id
    message["Auto-Submitted"] = "auto-generated"
    message["X-Dropguard-Mail"] = mail.kind
    message.set_content(mail.body, subtype="plain", charset="utf-8", cte="quoted-printable")
    session.flush()
    return _Attempt(mail.id, mail.attempts, recipient, message)


def _call(attempt: _Attempt) -> tuple[str, str]:
    try:
        return "sent", mailer.deliver(attempt.message, recipient=attempt.recipient)
    except mailer.MailError as error:
        return ("temporary" if error.transient else "refused"), without_addresses(str(error))[:255]


def _finish(session: Session, attempt: _Attempt, result: tuple[str, str]) -> str:
    outcome, reply = result
    mail = session.get(MerchantMail, attempt.mail_id, with_for_update=True)
    shop = session.get(Shop, mail.shop_id)
    if outcome == "sent":
        mail.status, mail.sent_at, mail.server_reply, mail.last_error = "sent", utcnow(), reply, None
        _record(session, shop, mail, "merchant_mail.sent", {"attempt": attempt.number, "server_reply": reply})
        return "sent"
    mail.last_error = reply
    if outcome == "refused" or attempt.number >= MAX_ATTEMPTS:
        mail.status = "failed"
        _record(session, shop, mail, "merchant_mail.failed", {"attempt": attempt.number, "error": reply})
        return "failed"
    return "retry"


def send(mail_id: int) -> str:
    outcome, result = exactly_once.carry_out(
        exactly_once.MERCHANT_MAIL, mail_id, begin=lambda session: _begin(session, mail_id), call=_call,
        finish=_finish, busy=lambda: MailBusy(f"merchant mail {mail_id} is being sent"),
    )
    if outcome == "retry":
        raise RetryLater(result[1] if result else "temporary mail error")
    return outcome
