"""Where customer texts come from: the status site's contact form and inbound e-mail (Mailgun
routes), each recorded like a webhook and classified by the analytics queue."""

from __future__ import annotations

import secrets
import time
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import get_settings
from app.db import get_sessionmaker
from app.evidence.models import EvidenceEvent
from app.insights import inbound, messages
from app.insights.models import CustomerMessage, OrderFacts
from app.outbox.models import OutboxMessage
from app.outbox.service import enqueue
from app.status import tokens
from app.webhooks.models import WebhookDelivery
from tests.fixtures import wait_for
from tests.notifications.helpers import paid_order

URL = "/webhooks/mail/mailgun"


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app)


def _messages(order_id: int) -> list[CustomerMessage]:
    with get_sessionmaker()() as session:
        return list(session.scalars(select(CustomerMessage).where(CustomerMessage.order_id == order_id)))


def _kinds(order_id: int) -> list[str]:
    with get_sessionmaker()() as session:
        return list(session.scalars(select(EvidenceEvent.kind).where(EvidenceEvent.order_id == order_id)
                                    .order_by(EvidenceEvent.seq)))


def test_contact_form_records_one_message_per_submission(client, db, shop):
    order = paid_order(db, shop, locale="fr")
    token = tokens.token_for(order)
    page = client.get(f"/status/{token}/contact")
    assert page.status_code == 200 and "Nous écrire au sujet de la commande" in page.text
    assert page.headers["cache-control"] == "no-store"
    form = {"message": "Bonjour, toujours rien reçu, je vais contacter ma banque", "submission": "a1b2c3"}
    sent = client.post(f"/status/{token}/contact", data=form)
    assert sent.status_code == 200 and "a bien reçu votre message" in sent.text
    assert client.post(f"/status/{token}/contact", data=form).status_code == 200  # a double click
    (message,) = _messages(order.id)
    assert (message.source, message.body, message.reason) == ("contact_form", form["message"], None)
    assert "status.contact_message" in _kinds(order.id)
    with get_sessionmaker()() as session:
        event = session.scalar(select(EvidenceEvent).where(EvidenceEvent.order_id == order.id,
                                                            EvidenceEvent.kind == "status.contact_message"))
        assert event.personal["body"] == form["message"] and form["message"] not in str(event.data)
        queued = session.scalars(select(OutboxMessage.task_name).where(
            OutboxMessage.args == [message.id], OutboxMessage.task_name == messages.CLASSIFY_TASK)).all()
    assert queued == [messages.CLASSIFY_TASK]


def test_contact_form_refuses_empty_long_and_unknown(client, db, shop):
    order = paid_order(db, shop)
    token = tokens.token_for(order)
    empty = client.post(f"/status/{token}/contact", data={"message": "   "})
    assert empty.status_code == 400 and "write your message first" in empty.text
    long = client.post(f"/status/{token}/contact", data={"message": "x" * 4001})
    assert long.status_code == 400 and "under 4000 characters" in long.text
    assert client.get("/status/" + "A" * 44 + "/contact").status_code == 404
    assert _messages(order.id) == []


def _mail(recipient: str, text: str, *, sender: str = "ada@example.com", subject: str = "Re: your order",
          key: str | None = None, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(timestamp or int(time.time()))
    token = secrets.token_hex(25)
    return {"timestamp": stamp, "token": token,
            "signature": inbound.sign(stamp, token, key or get_settings().mailgun_signing_key),
            "recipient": recipient, "sender": sender, "from": f"Ada <{sender}>", "subject": subject,
            "body-plain": text + "\n\nOn Mon, the shop wrote:\n> Your order has shipped",
            "stripped-text": text, "Message-Id": f"<{uuid.uuid4().hex}@mail.example.com>"}


def _deliveries(event_id: str) -> list[WebhookDelivery]:
    with get_sessionmaker()() as session:
        return list(session.scalars(select(WebhookDelivery).where(WebhookDelivery.source == inbound.SOURCE,
                                                                  WebhookDelivery.event_id == event_id)))


def test_a_reply_reaches_its_order_by_the_reply_address(client, db, shop):
    order = paid_order(db, shop)
    mail = _mail(inbound.reply_address(order), "The parcel still hasn't arrived, where is it?")
    answer = client.post(URL, data=mail)
    assert answer.status_code == 200 and answer.json()["status"] == "queued", answer.text
    assert client.post(URL, data=mail).json()["status"] == "duplicate"  # Mailgun retried
    (delivery,) = _deliveries(mail["Message-Id"])
    assert "signature" not in delivery.payload
    with get_sessionmaker()() as session:
        assert inbound.process_delivery(session, delivery.id) == "processed"
        session.commit()
        assert inbound.process_delivery(session, delivery.id) == "skipped"
    (message,) = _messages(order.id)
    assert (message.source, message.body, message.subject) == ("email", mail["stripped-text"], "Re: your order")
    assert "mail.received" in _kinds(order.id)


def test_mail_is_matched_by_order_number_and_sender_or_kept_unmatched(client, db, shop, make_shop):
    order = paid_order(db, shop, email="grace@example.com")
    number = order.name.lstrip("#")
    by_number = _mail("help@reply.dropguard.local", f"Hello, my order {number} arrived broken", sender="grace@example.com")
    assert client.post(URL, data=by_number).json()["status"] == "queued"
    stranger = _mail("help@reply.dropguard.local", f"Order {number}: refund me", sender="mallory@example.com")
    assert client.post(URL, data=stranger).json()["status"] == "unknown_order"
    forged = _mail(f"reply+{order.id}-{order.shop_id}-{'0' * 20}@reply.dropguard.local", "Refund me",
                   sender="mallory@example.com")
    assert client.post(URL, data=forged).json()["status"] == "unknown_order"
    (unmatched,) = _deliveries(stranger["Message-Id"])
    assert unmatched.shop_domain == "unknown" and unmatched.shop_id is None


def test_unsigned_stale_and_malformed_mail_is_refused(client, db, shop):
    order = paid_order(db, shop)
    good = _mail(inbound.reply_address(order), "Where is my parcel")
    for bad, status in (
        ({**good, "signature": "0" * 64}, 401),
        (_mail(inbound.reply_address(order), "x", key="another-key"), 401),
        (_mail(inbound.reply_address(order), "x", timestamp=int(time.time()) - 10 * 3600), 401),
        ({k: v for k, v in good.items() if k != "token"}, 401),
        ({k: v for k, v in good.items() if k not in ("recipient",)}, 400),
        ({k: v for k, v in good.items() if k not in ("stripped-text", "body-plain", "subject")}, 400),
    ):
        response = client.post(URL, data=bad)
        assert response.status_code == status, (bad, response.text)
        assert response.json()["detail"]
    assert client.post(URL, content=b"\xff\xfe", headers={"Content-Type": "multipart/form-data; boundary=x"}
                       ).status_code in (400, 401)
    assert _deliveries(good["Message-Id"]) == []


@pytest.mark.e2e
def test_the_analytics_queue_classifies_and_counts_an_urgent_contact_message(db, shop, live_server, celery_worker):
    order = paid_order(db, shop)
    token = tokens.token_for(order)
    text = "Still nothing after 5 weeks. If it's not here by Friday I'm filing a chargeback with my bank."
    response = httpx.post(f"{live_server}/status/{token}/contact", data={"message": text, "submission": "e2e1"},
                          timeout=30)
    assert response.status_code == 200

    def classified():
        found = _messages(order.id)
        return found and found[0].classified_at is not None and found[0]

    message = wait_for(classified, timeout=60, message="the message classified by the worker")
    assert message.urgent is True and message.language == "en" and message.reason in ("late", "not_received")

    def counted():
        # What beat does every few seconds: the batched refresh of the pending orders, by a worker.
        with get_sessionmaker()() as session:
            enqueue(session, "insights.refresh_pending")
            session.commit()
        time.sleep(0.5)
        with get_sessionmaker()() as session:
            facts = session.get(OrderFacts, order.id)
            return facts is not None and facts.facts.get("urgent") and facts

    facts = wait_for(counted, timeout=60, message="the order's facts refreshed with the urgent message")
    assert facts.facts["message_reasons"] == [message.reason]
    with get_sessionmaker()() as session:
        assert messages.urgent_order_ids(session, shop.id, [order.id]) == {order.id}


def test_an_urgent_message_raises_its_order_and_opens_a_claim_when_the_policy_says_so(db, shop, make_shop):
    from app.resolutions import service as resolutions
    from app.resolutions.models import Resolution
    from app.shops.models import Shop
    from tests.insights.history import History
    from tests.resolutions.helpers import delivered

    calm, worried = paid_order(db, shop), paid_order(db, shop)
    delivered(db, calm)
    History(db, None, shop).claim(calm, "damaged", message="A small scratch on the lid", deny=False)
    live = db.get(Shop, shop.id)
    live.settings = {**live.settings, "resolutions": {"proactive_on_urgent": True}}
    db.commit()
    words = "Where is my parcel?? 6 weeks! I will dispute the payment with my bank tomorrow."
    with get_sessionmaker()() as session:
        message = messages.record(session, db.get(Shop, shop.id), source="contact_form", source_ref="u1", body=words,
                                  order_id=worried.id)
        session.commit()
        assert messages.classify_stored(session, message.id) == "urgent:claim_opened"
        session.commit()
        claims = session.scalars(select(Resolution).where(Resolution.order_id == worried.id)).all()
        assert [(c.status, c.reason, c.message) for c in claims] == [("pending_review", "not_received", words)]
        # The calm claim came first but the urgent order is answered first.
        calm_claim = session.scalars(select(Resolution).where(Resolution.order_id == calm.id)).one()
        if calm_claim.status == "offered":
            resolutions.ask_shop(session, session.get(Shop, shop.id), session.get(type(calm), calm.id), calm_claim)
            session.commit()
        assert [r.order_id for r in resolutions.queue(session, shop.id)] == [worried.id, calm.id]
        assert len(_messages(worried.id)) == 1  # the claim carries the same words: still one message
    assert "insights.claim_opened" in _kinds(worried.id)
