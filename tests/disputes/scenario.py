"""Building a dispute's ledger from webhooks: the store's (signed, through /webhooks/shopify) and the
carrier's (17TRACK), each processed by its task's function."""

from __future__ import annotations

import random
from datetime import timedelta

from app.db import get_sessionmaker, utcnow
from app.orders.models import DeliveryAddress, Order
from app.tracking.tasks import process_delivery as process_carrier
from app.webhooks.tasks import process_delivery
from tests.disputes.helpers import hold
from tests.tracking.helpers import journey, seventeentrack_webhook, shipment_for

DELIVERED = ["info_received", "picked_up", "departed_origin", "customs", "arrived_destination", "out_for_delivery",
             "delivered"]


def _processed(delivery_id: int) -> str:
    outcome = process_delivery.run(delivery_id)
    with get_sessionmaker()() as session:
        hold(session)
        session.commit()
    return outcome


def store_webhook(post_webhook, shop, topic: str, payload: dict) -> str:
    response = post_webhook(shop.domain, topic, payload)
    assert response.status_code == 200, response.text
    return _processed(response.json()["delivery_id"])


def carrier_scans(client, number: str, steps) -> None:
    body, headers = seventeentrack_webhook(number, steps)
    response = client.post("/webhooks/carriers/17track", content=body, headers=headers)
    assert response.status_code == 200, response.text
    process_carrier.run(response.json()["delivery_id"])


def dispute_payload(order: Order, *, reason: str, code: str | None, amount: str, status: str = "needs_response",
                    external_id: int | None = None, kind: str = "chargeback") -> dict:
    now = utcnow()
    return {"id": external_id or random.randint(10**11, 10**12), "order_id": order.external_id, "type": kind,
            "amount": amount, "currency": "USD", "reason": reason, "network_reason_code": code, "status": status,
            "evidence_due_by": (now + timedelta(days=18)).replace(microsecond=0).isoformat(),
            "evidence_sent_on": None, "finalized_on": None, "initiated_at": now.replace(microsecond=0).isoformat()}


def refund_payload(order: Order, amount: str) -> dict:
    refund_id = random.randint(10**11, 10**12)
    at = utcnow().replace(microsecond=0).isoformat()
    return {"id": refund_id, "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}", "order_id": order.external_id,
            "created_at": at, "processed_at": at, "note": "Partial refund for the delay", "refund_line_items": [],
            "transactions": [{"kind": "refund", "status": "success", "amount": amount, "currency": "USD"}]}




def delivered_with_partial_refund(db, shop, client, post_webhook, *, refund: str = "10.00") -> tuple[Order, object, dict]:
    """A shipped order whose carrier scans end in a delivery at the order's city, a partial refund,
    then a not-received chargeback (13.1) for what remained paid."""
    shipped = utcnow() - timedelta(days=9)
    order, shipment = shipment_for(db, shop, shipped_at=shipped)
    db.get(DeliveryAddress, order.id).city = "Chicago"  # where the carrier's delivery scan is
    db.commit()
    carrier_scans(client, shipment.tracking_number, journey(shipped, DELIVERED))
    assert store_webhook(post_webhook, shop, "refunds/create", refund_payload(order, refund)) == "processed"
    payload = dispute_payload(order, reason="product_not_received", code="13.1", amount="29.80")
    assert store_webhook(post_webhook, shop, "disputes/create", payload) == "processed"
    return order, shipment, payload


def store_order_delivered(db, shop, client) -> tuple[Order, object, dict]:
    """An order that exists in the store emulator (so its disputes can be answered there), shipped
    through its supplier order, with carrier scans ending in a delivery at the order's city."""
    from app.fulfilments import service as fulfilments
    from app.suppliers.service import plan_for_order
    from tests.refunds.helpers import store_order
    from tests.suppliers.helpers import hold_outbox, supplier_orders

    order, store = store_order(db, shop)
    plan_for_order(db, order)
    hold_outbox(db)
    db.commit()
    (so,) = supplier_orders(order.id)
    shipped = utcnow() - timedelta(days=9)
    order = db.get(Order, order.id)
    from tests.tracking.helpers import fresh_number

    shipment = fulfilments.create_shipment(db, shop=shop, order=order, supplier_order_id=so.id,
                                           tracking_number=fresh_number(), carrier="China Post", tracking_url=None,
                                           shipped_at=shipped)
    order.status = "shipped"
    db.get(DeliveryAddress, order.id).city = "Chicago"
    hold_outbox(db)
    db.commit()
    carrier_scans(client, shipment.tracking_number, journey(shipped, DELIVERED))
    return order, shipment, store
