"""End to end: a real worker sends through the sandbox mail catcher, once, even when re-enqueued."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from sqlalchemy import select

from app.db import get_sessionmaker
from app.notifications import service
from app.notifications.models import Notification
from app.outbox.models import OutboxMessage
from app.outbox.service import enqueue
from app.status.tokens import status_url
from tests.fixtures import wait_for
from tests.notifications.helpers import kinds, paid_order

pytestmark = pytest.mark.e2e


def _mail(live_url: str, to: str) -> list[dict]:
    return httpx.get(f"{live_url}/sandbox/mail", params={"to": to}, timeout=5).json()["messages"]


def _notification(notification_id: int) -> Notification:
    with get_sessionmaker()() as session:
        return session.get(Notification, notification_id)


def _dispatched(outbox_id: int) -> bool:
    with get_sessionmaker()() as session:
        return session.scalar(select(OutboxMessage.dispatched_at).where(OutboxMessage.id == outbox_id)) is not None


def test_worker_sends_once_even_when_the_task_runs_twice(db, shop, live_server, celery_worker):
    address = f"e2e-{uuid.uuid4().hex[:10]}@example.com"
    order = paid_order(db, shop, email=address, locale="es")
    notification = service.schedule(db, order, stage="order_confirmed")
    db.commit()

    messages = wait_for(lambda: _mail(live_server, address), timeout=30, message="the email at the catcher")
    wait_for(lambda: _notification(notification.id).status == "sent", timeout=10, message="status sent")
    assert len(messages) == 1
    sent = messages[0]
    stored = _notification(notification.id)
    assert sent["message_id"] == stored.message_id
    assert sent["subject"] == f"Pedido {order.name} confirmado: gracias por comprar en {shop.name}"
    assert status_url(order) in sent["text"] and status_url(order) in sent["html"]
    assert "Hemos recibido tu pago" in sent["text"]

    # The same task delivered again (a relay crash between publish and mark does exactly this).
    again = enqueue(db, "notifications.send", notification.id)
    db.commit()
    wait_for(lambda: _dispatched(again.id), timeout=30, message="the duplicate task published")
    time.sleep(2)
    assert len(_mail(live_server, address)) == 1
    assert _notification(notification.id).attempts == 1
    assert kinds(order.id, "notification.") == ["notification.queued", "notification.attempt", "notification.sent"]
