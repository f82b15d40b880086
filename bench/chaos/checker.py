"""After a chaos run: nothing lost, nothing doubled, every chain intact, nothing left queued.

- every delivery answered 2xx has exactly one ledger event (webhook.received with its event id);
- every paid order whose webhooks were answered has exactly one supplier order (replacements of
  a cancelled one aside);
- no customer message sent twice: one Message-ID per notification, each received once;
- no refund issued twice (per order and reason, and per store refund id);
- every evidence chain verifies;
- nothing left queued: no outbox row undispatched, no inbox row waiting, no Celery message.
"""

from __future__ import annotations

from typing import Any

import redis
from sqlalchemy import create_engine, text

QUEUED_DELIVERY = ("queued", "received")


def _engine(url: str):
    return create_engine(url, pool_pre_ping=True)


def pending_work(database_url: str, redis_url: str) -> dict[str, int]:
    from app.config import get_settings
    from app.queues import QUEUES

    try:
        with _engine(database_url).connect() as connection:
            outbox = connection.execute(text("SELECT count(*) FROM outbox WHERE dispatched_at IS NULL")).scalar_one()
            inbox = connection.execute(text("SELECT count(*) FROM webhook_deliveries WHERE status = ANY(:s)"),
                                       {"s": list(QUEUED_DELIVERY)}).scalar_one()
            placing = connection.execute(text(
                "SELECT count(*) FROM supplier_orders WHERE status IN ('pending', 'placing')")).scalar_one()
    except Exception:  # noqa: BLE001 - PostgreSQL coming back from a restart: not settled yet
        return {"database": 1}
    client = redis.Redis.from_url(redis_url)
    prefix = get_settings().redis_prefix
    celery = sum(client.llen(f"{prefix}{name}") for name in QUEUES)
    unacked = client.hlen(f"{prefix}unacked")
    return {"outbox": outbox, "inbox": inbox, "supplier_orders_in_flight": placing, "celery_queued": celery,
            "celery_unacked": unacked}


def check(run, sequence) -> dict[str, Any]:
    from app.db import get_sessionmaker, reset_engine
    from app.evidence.service import chains, verify_chain

    reset_engine()
    engine = _engine(run.postgres.url)
    results: dict[str, Any] = {}
    with engine.connect() as connection:
        ledger = dict(connection.execute(text(
            "SELECT data->>'event_id', count(*) FROM evidence_events WHERE chain = :c AND kind = 'webhook.received'"
            " GROUP BY 1"), {"c": "chaos-shop.myshopify.com"}).all())
        answered = set(run.answers)
        results["deliveries answered 2xx"] = len(answered)
        results["deliveries given up by the sender"] = len(set(run.given_up) - answered)
        results["lost (2xx, no ledger event)"] = sum(1 for e in answered if ledger.get(e, 0) == 0)
        results["doubled (ledger events > 1)"] = sum(1 for count in ledger.values() if count > 1)

        paid_events = {}
        for headers, body in sequence:
            if headers["x-shopify-topic"] == "orders/paid":
                import json

                paid_events[str(json.loads(body)["id"])] = headers["x-shopify-event-id"]
        supplier = dict(connection.execute(text(
            "SELECT o.external_id::text, count(s.id) FROM orders o JOIN shops sh ON sh.id = o.shop_id"
            " LEFT JOIN supplier_orders s ON s.order_id = o.id AND s.replaces_id IS NULL"
            " WHERE sh.domain = 'chaos-shop.myshopify.com' GROUP BY 1")).all())
        paid_answered = [order for order, event in paid_events.items() if event in answered]
        results["paid orders answered"] = len(paid_answered)
        results["paid orders without a supplier order"] = sum(1 for o in paid_answered if supplier.get(o, 0) == 0)
        results["paid orders with more than one supplier order"] = sum(1 for o in paid_answered if supplier.get(o, 0) > 1)
        held = connection.execute(text(
            "SELECT status, count(*) FROM supplier_orders GROUP BY 1")).all()
        results["supplier orders by status"] = {status: count for status, count in held}

        sent = connection.execute(text(
            "SELECT message_id FROM notifications WHERE status = 'sent' AND message_id IS NOT NULL")).scalars().all()
        received = run.mail.by_message_id
        results["customer messages sent"] = len(sent)
        results["messages sent twice (two Message-IDs for one notification)"] = connection.execute(text(
            "SELECT count(*) FROM (SELECT order_id, stage, channel FROM notifications WHERE status = 'sent'"
            " GROUP BY 1, 2, 3 HAVING count(*) > 1) doubled")).scalar_one()
        results["messages received twice by SMTP (same Message-ID)"] = sum(1 for c in received.values() if c > 1)
        results["sent messages never received"] = sum(1 for m in sent if m not in received)

        results["refunds issued twice"] = connection.execute(text(
            "SELECT count(*) FROM (SELECT order_id, reason, resolution_id FROM refunds WHERE status = 'issued'"
            " GROUP BY 1, 2, 3 HAVING count(*) > 1) doubled")).scalar_one()
        results["refunds issued"] = connection.execute(text(
            "SELECT count(*) FROM refunds WHERE status = 'issued'")).scalar_one()

    with get_sessionmaker()() as session:
        reports = [verify_chain(session, chain) for chain in chains(session)]
    results["chains verified"] = len(reports)
    results["chains broken"] = [r.chain for r in reports if not r.intact]
    results["left queued"] = pending_work(run.postgres.url, run.redis.url)

    zero = ["deliveries given up by the sender", "lost (2xx, no ledger event)", "doubled (ledger events > 1)",
            "paid orders without a supplier order", "paid orders with more than one supplier order",
            "messages sent twice (two Message-IDs for one notification)", "refunds issued twice"]
    results["passed"] = (all(results[name] == 0 for name in zero) and not results["chains broken"]
                         and not any(results["left queued"].values()))
    return results
