"""Deadline reminders: one e-mail to the merchant per unanswered dispute near its deadline, the Home
attention count while it stays unanswered, and quiet once the evidence is on its way."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import select

from app.db import utcnow
from app.disputes import reminders, service
from app.disputes.models import Dispute
from app.evidence.models import EvidenceEvent
from tests.disputes.helpers import hold
from tests.notifications.helpers import smtp_catcher  # noqa: F401 - fixture
from tests.suppliers.helpers import paid_order


def _dispute(db, shop, days: float) -> Dispute:
    order = paid_order(db, shop)
    dispute = service.upsert(db, shop, {
        "id": random.randint(10**11, 10**12), "order_id": order.external_id, "type": "chargeback", "amount": "39.80",
        "currency": "USD", "reason": "product_not_received", "network_reason_code": "13.1", "status": "needs_response",
        "evidence_due_by": (utcnow() + timedelta(days=days)).isoformat(), "initiated_at": utcnow().isoformat()})
    hold(db)
    db.commit()
    return dispute


def test_one_reminder_per_dispute_and_quiet_once_answered(db, make_shop, smtp_catcher):  # noqa: F811
    shop = make_shop()
    shop.email = f"owner-{random.randint(1, 10**9)}@example.com"
    db.commit()
    near, answered, far = _dispute(db, shop, 2), _dispute(db, shop, 3), _dispute(db, shop, 20)
    answered.submission_status = "queued"
    db.commit()
    assert reminders.count_due(db, shop) == 1

    reminders.remind_due()
    reminders.remind_due()  # the second sweep finds it claimed
    mails = smtp_catcher.to(shop.email)
    assert len(mails) == 1 and near.external_id in mails[0]["Subject"]
    assert f"/admin/disputes/{near.id}" in mails[0].get_content()
    db.expire_all()
    assert db.get(Dispute, near.id).reminded_days in (1, 2)
    assert db.get(Dispute, far.id).reminded_days is None and db.get(Dispute, answered.id).reminded_days is None
    sent = [e for e in db.scalars(select(EvidenceEvent).where(EvidenceEvent.kind == "dispute.reminder_sent"))
            if e.shop_id == shop.id]
    assert [e.data["dispute_id"] for e in sent] == [near.id]

    # Once its evidence is on its way the dashboard stops asking.
    db.get(Dispute, near.id).submission_status = "submitted"
    db.commit()
    assert reminders.count_due(db, shop) == 0
