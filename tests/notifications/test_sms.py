"""The SMS channel against the Twilio-shaped sandbox: opt-in per shop, E.164, once, evidence."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from app.db import utcnow
from app.notifications import channels, sending
from app.notifications import service as notifications
from app.notifications.models import Notification
from app.orders.models import Customer, DeliveryAddress
from app.status.tokens import status_url
from tests.notifications.helpers import events, hold_sends, paid_order


def _sms_messages(live: str, to: str) -> list[dict]:
    response = httpx.get(f"{live}/sandbox/sms/_control/messages", params={"to": to}, timeout=10)
    response.raise_for_status()
    return response.json()["messages"]


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("(415) 555-2671", "US", "+14155552671"),
        ("+44 20 7946 0958", None, "+442079460958"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("12345", "US", None),
        ("call me", "DE", None),
        (None, "US", None),
    ],
)
def test_phone_numbers_are_e164(raw, country, expected):
    assert channels.e164(raw, country) == expected


def _sms_order(db, make_shop, *, enabled: bool, phone: str | None):
    shop = make_shop(name="Lumen")
    shop.settings = {**(shop.settings or {}), "notifications": {"sms": enabled}}
    db.commit()
    order = paid_order(db, shop, locale="es", country="US")
    customer = db.get(Customer, order.customer_id)
    customer.phone = phone
    db.get(DeliveryAddress, order.id).phone = None  # the address's phone would be used otherwise
    db.commit()
    return shop, order


def _schedule(db, order, stage="out_for_delivery") -> list[Notification]:
    notifications.schedule(db, order, stage=stage)
    rows = db.scalars(select(Notification).where(Notification.order_id == order.id).order_by(Notification.id)).all()
    for row in rows:
        hold_sends(db, row.id)
    db.commit()
    return list(rows)


def test_no_sms_unless_the_shop_enables_it_and_the_customer_has_a_phone(db, make_shop):
    _, off = _sms_order(db, make_shop, enabled=False, phone="+14155552671")
    assert [n.channel for n in _schedule(db, off)] == ["email"]
    _, no_phone = _sms_order(db, make_shop, enabled=True, phone=None)
    assert [n.channel for n in _schedule(db, no_phone)] == ["email"]


def test_sms_is_sent_once_in_the_customers_language_with_evidence(db, make_shop, live_server):
    phone = "+1415555" + str(utcnow().microsecond % 10000).zfill(4)
    _, order = _sms_order(db, make_shop, enabled=True, phone=phone)
    email, sms = _schedule(db, order)
    assert (email.channel, sms.channel) == ("email", "sms")

    assert sending.send(sms.id).outcome == "sent"
    (message,) = _sms_messages(live_server, phone)
    assert message["body"].startswith(f"Lumen: Tu pedido {order.name} está en reparto")
    assert status_url(order) in message["body"]
    db.expire_all()
    row = db.get(Notification, sms.id)
    assert row.status == "sent" and row.provider_ref == message["sid"]
    (sent,) = events(order.id, "notification.sent")
    assert sent.data["channel"] == "sms" and sent.data["body_digest"] == row.body_digest
    assert sent.personal == {"recipient": phone}

    # A second run changes nothing; a send that died mid-call asks the provider before resending.
    assert sending.send(sms.id).outcome == "sent"
    db.execute(
        update(Notification)
        .where(Notification.id == sms.id)
        .values(status="sending", updated_at=utcnow() - timedelta(minutes=10))
    )
    db.commit()
    assert sending.send(sms.id).outcome == "sent"
    assert len(_sms_messages(live_server, phone)) == 1


def test_provider_outage_retries_then_fails_visibly(db, make_shop, live_server):
    _, order = _sms_order(db, make_shop, enabled=True, phone="+14155550199")
    _, sms = _schedule(db, order)
    httpx.post(f"{live_server}/sandbox/sms/_control/behaviour", json={"fail_next": 2}, timeout=10)
    try:
        assert sending.send(sms.id).outcome == "retry"
        db.expire_all()
        assert db.get(Notification, sms.id).status == "pending"
        assert sending.send(sms.id, final_attempt=True).outcome == "failed"
    finally:
        httpx.post(f"{live_server}/sandbox/sms/_control/behaviour", json={"fail_next": 0}, timeout=10)
    db.expire_all()
    row = db.get(Notification, sms.id)
    assert row.status == "failed" and "503" in row.last_error
    failures = events(order.id, "notification.attempt_failed")
    assert [f.data["will_retry"] for f in failures] == [True, False]
    assert [e.data["channel"] for e in events(order.id, "notification.failed")] == ["sms"]
