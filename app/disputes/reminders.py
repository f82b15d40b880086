"""Deadline reminders to the merchant: one e-mail per dispute when its deadline comes within
settings.dispute_reminder_days and no evidence has gone, and the Home page's attention item for
as long as that stays true. Quiet once the evidence is submitted (or queued) or the dispute closed.

The e-mail is claimed (recorded) before it is sent, so a crash never sends it twice; a refused
send is logged and the dashboard item still stands.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import session_scope, utcnow
from app.disputes.models import Dispute
from app.disputes.packs import money, when
from app.disputes.submission import record
from app.notifications import mailer
from app.shops.models import Shop

log = logging.getLogger(__name__)

# Evidence on its way or sent: nothing to remind.
ANSWERED = ("queued", "submitting", "submitted")


def _due_soon(now):
    horizon = now + timedelta(days=get_settings().dispute_reminder_days)
    return (Dispute.status == "needs_response", Dispute.submission_status.not_in(ANSWERED),
            Dispute.evidence_due_by > now, Dispute.evidence_due_by <= horizon)


def count_due(session: Session, shop: Shop) -> int:
    """Home's attention item: unanswered disputes whose deadline is near."""
    return session.scalar(select(func.count()).select_from(Dispute).where(Dispute.shop_id == shop.id,
                                                                          *_due_soon(utcnow()))) or 0


def _message(shop: Shop, dispute: Dispute) -> EmailMessage:
    settings = get_settings()
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = shop.email
    message["Subject"] = f"Dispute {dispute.external_id}: evidence due {when(dispute.evidence_due_by)}"
    message.set_content(
        f"A {dispute.kind or 'dispute'} for {money(dispute.amount, dispute.currency)} ({dispute.reason or 'no reason'}) "
        f"needs your answer before {when(dispute.evidence_due_by)}.\n\n"
        f"Review the evidence pack and submit it: {settings.public_base}/admin/disputes/{dispute.id}\n"
    )
    return message


def remind_due(*, limit: int = 200) -> int:
    """Claim and send each reminder due now; returns how many were sent."""
    now = utcnow()
    with session_scope() as session:
        ids = list(session.scalars(select(Dispute.id).where(*_due_soon(now), Dispute.reminded_days.is_(None))
                                   .order_by(Dispute.evidence_due_by).limit(limit)))
    sent = 0
    for dispute_id in ids:
        with session_scope() as session:
            dispute = session.get(Dispute, dispute_id, with_for_update=True)
            shop = session.get(Shop, dispute.shop_id)
            if dispute.reminded_days is not None or not shop.is_installed or not shop.email:
                continue
            days_left = max(0, (dispute.evidence_due_by - now).days)
            dispute.reminded_days = days_left
            record(session, shop, dispute, "dispute.reminder_sent", {"days_left": days_left, "channel": "email"})
            message, recipient = _message(shop, dispute), shop.email
        try:
            mailer.deliver(message, recipient=recipient)
            sent += 1
        except mailer.MailError as error:
            log.warning("disputes.reminder_not_sent", extra={"dispute_id": dispute_id, "error": str(error)})
    return sent
