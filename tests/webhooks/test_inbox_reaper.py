"""The maintenance beat task: deliveries whose message was lost are queued again; the outbox is trimmed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from app.db import get_sessionmaker, utcnow
from app.outbox import maintenance
from app.outbox.models import OutboxMessage
from app.outbox.tasks import maintain
from app.queues import queue_for_task
from app.webhooks.models import WebhookDelivery
from app.worker import celery_app
from tests.factories import order_payload
from tests.webhooks.helpers import evidence, record_held

SOURCES = {
    "shopify": "webhooks.process_delivery",
    "supplier:generic": "suppliers.process_callback",
    "supplier:cj": "suppliers.process_callback",
    "17track": "tracking.process_delivery",
    "aftership": "tracking.process_delivery",
}


def _age(delivery_id: int, minutes: float) -> None:
    with get_sessionmaker()() as session:
        session.execute(text("UPDATE webhook_deliveries SET received_at = now() - make_interval(mins => :m)"
                             " WHERE id = :id"), {"m": minutes, "id": delivery_id})
        session.commit()


def _outbox(db, task: str, delivery_id: int) -> list:
    return db.execute(text("SELECT * FROM outbox WHERE task_name = :t AND args = jsonb_build_array(CAST(:id AS bigint))"
                           " ORDER BY id"), {"t": task, "id": delivery_id}).all()


def _requeue() -> int:
    with get_sessionmaker()() as session:
        count = maintenance.requeue_stale(session, after_minutes=15)
        session.commit()
        return count


def _queued(shop, source: str) -> int:
    with get_sessionmaker()() as session:
        delivery = WebhookDelivery(source=source, shop_domain=shop.domain, shop_id=shop.id, topic="t",
                                   event_id=f"lost-{source}", payload={}, status="queued")
        session.add(delivery)
        session.commit()
        return delivery.id


def test_a_delivery_whose_message_was_lost_is_requeued_once(db, shop):
    delivery_id = record_held(shop.domain, "orders/create", order_payload(financial_status="pending"))
    [original] = _outbox(db, "webhooks.process_delivery", delivery_id)
    assert original.dispatched_at is not None  # the message is "lost": published, never processed

    _age(delivery_id, 5)
    _requeue()
    assert len(_outbox(db, "webhooks.process_delivery", delivery_id)) == 1  # too young to be stale

    _age(delivery_id, 20)
    _requeue()
    rows = _outbox(db, "webhooks.process_delivery", delivery_id)
    assert len(rows) == 2
    [event] = evidence(db, shop.domain, "webhook.requeued")
    assert (event.webhook_delivery_id, event.data["task"]) == (delivery_id, "webhooks.process_delivery")

    _requeue()  # the next beat run leaves a delivery it just requeued alone
    assert len(_outbox(db, "webhooks.process_delivery", delivery_id)) == 2
    assert len(evidence(db, shop.domain, "webhook.requeued")) == 1


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_inbox_source_is_requeued_to_its_own_task(db, shop, source):
    delivery_id = _queued(shop, source)
    _age(delivery_id, 30)
    _requeue()
    assert len(_outbox(db, SOURCES[source], delivery_id)) == 1


def test_processed_deliveries_are_not_requeued(db, shop):
    delivery_id = _queued(shop, "shopify")
    db.execute(text("UPDATE webhook_deliveries SET status = 'processed' WHERE id = :id"), {"id": delivery_id})
    db.commit()
    _age(delivery_id, 30)
    _requeue()
    assert _outbox(db, "webhooks.process_delivery", delivery_id) == []


def test_dispatched_outbox_rows_past_retention_are_deleted_in_batches(db):
    now = utcnow()
    with get_sessionmaker()() as session:
        rows = [
            OutboxMessage(task_name="outbox.test_old", args=[i], queue="maintenance", dispatched_at=now - timedelta(days=8))
            for i in range(3)
        ]
        recent = OutboxMessage(task_name="outbox.test_recent", args=[0], queue="maintenance",
                               dispatched_at=now - timedelta(days=1))
        session.add_all([*rows, recent])
        session.commit()
        ids = [row.id for row in rows] + [recent.id]
    with get_sessionmaker()() as session:
        deleted = 0
        while batch := maintenance.purge_dispatched_batch(session, retention_days=7, batch=2):
            assert batch <= 2
            deleted += batch
            session.commit()
    left = db.execute(text("SELECT task_name FROM outbox WHERE id = ANY(:ids)"), {"ids": ids}).scalars().all()
    assert left == ["outbox.test_recent"]
    assert deleted >= 3


def test_the_maintenance_beat_runs_both(db, shop):
    entry = celery_app.conf.beat_schedule["outbox-maintain"]
    assert (entry["task"], queue_for_task("outbox.maintain")) == ("outbox.maintain", "maintenance")
    delivery_id = _queued(shop, "shopify")
    _age(delivery_id, 30)
    result = maintain.run()
    assert result["requeued"] >= 1
    assert len(_outbox(db, "webhooks.process_delivery", delivery_id)) == 1
