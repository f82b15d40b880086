"""A shop and orders in the store emulator, disputes opened and decided there, and their webhooks
processed by hand (the tasks they queue run by the test)."""

from __future__ import annotations

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db import get_sessionmaker, utcnow
from app.disputes.models import Dispute
from app.outbox.models import OutboxMessage
from app.shops.models import Shop
from tests.refunds import helpers as refunds_helpers
from tests.refunds.helpers import control, deliveries, process

TASKS_WE_RUN = [*refunds_helpers.TASKS_WE_RUN, "disputes.fetch", "disputes.submit", "disputes.remind"]


def hold(session: Session) -> None:
    session.flush()
    session.execute(update(OutboxMessage).where(OutboxMessage.task_name.in_(TASKS_WE_RUN),
                                                OutboxMessage.dispatched_at.is_(None))
                    .values(dispatched_at=utcnow()))


def open_dispute(shop: Shop, store_order_id: int, **body) -> dict:
    response = httpx.post(f"{control()}/orders/{store_order_id}/disputes", json=body, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()["disputes"][-1]


def store_dispute(external_id: str | int) -> dict:
    response = httpx.get(f"{control()}/disputes/{external_id}", timeout=10)
    response.raise_for_status()
    return response.json()


def decide(external_id: str | int, status: str) -> None:
    response = httpx.post(f"{control()}/disputes/{external_id}/decide", json={"status": status}, timeout=30)
    assert response.status_code == 200, response.text


def process_latest(shop: Shop, topic: str, count: int) -> str:
    """Process the count-th delivery of a topic for this shop (earlier ones already processed)."""
    ids = deliveries(shop, topic, count=count)
    outcome = process(ids[count - 1])
    with get_sessionmaker()() as session:
        hold(session)
        session.commit()
    return outcome


def dispute_row(shop: Shop, external_id) -> Dispute:
    with get_sessionmaker()() as session:
        return session.scalar(select(Dispute).where(Dispute.shop_id == shop.id,
                                                    Dispute.external_id == str(external_id)))
