"""Every reason family's evidence pack, end to end from the webhooks that fill the ledger: the store's
order, refund and dispute webhooks and the carrier's scans, through the real routes and tasks.
Elements present cite ledger events; missing ones name why and what would fix it; refunds already
given are always shown; the narrative states only what the pack holds."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from app.db import get_sessionmaker, utcnow
from app.disputes import narrative, packs
from app.disputes.models import Dispute
from app.orders.models import DeliveryAddress, Order
from tests.disputes.helpers import hold
from tests.disputes.scenario import DELIVERED, carrier_scans, dispute_payload, refund_payload, store_webhook
from tests.factories import order_payload
from tests.tracking.helpers import journey, shipment_for


def pack_of(shop, external_id) -> tuple[packs.Pack, str]:
    with get_sessionmaker()() as session:
        dispute = session.scalar(select(Dispute).where(Dispute.shop_id == shop.id,
                                                       Dispute.external_id == str(external_id)))
        pack = packs.build(session, dispute)
        text = narrative.generate(pack)
        for element in pack.elements:  # read everything while the session is open
            element.as_json()
        return pack, text


def test_partial_refund_then_not_received_chargeback_with_delivery_scans_then_won(db, shop, client, post_webhook):
    shipped = utcnow() - timedelta(days=9)
    order, shipment = shipment_for(db, shop, shipped_at=shipped)
    db.get(DeliveryAddress, order.id).city = "Chicago"  # where the carrier's delivery scan is
    db.commit()
    steps = journey(shipped, DELIVERED)
    carrier_scans(client, shipment.tracking_number, steps)
    assert store_webhook(post_webhook, shop, "refunds/create", refund_payload(order, "10.00")) == "processed"
    payload = dispute_payload(order, reason="product_not_received", code="13.1", amount="29.80")
    assert store_webhook(post_webhook, shop, "disputes/create", payload) == "processed"

    pack, text = pack_of(shop, payload["id"])
    assert pack.family == "not_received" and pack.complete, [e.as_json() for e in pack.missing]
    tracking = pack.element("carrier_tracking")
    assert tracking.present and shipment.tracking_number in tracking.summary and "China Post" in tracking.summary
    scans = pack.element("scan_timeline")
    assert scans.present and len(scans.cites) == len(DELIVERED) and len(pack.scans) == len(DELIVERED)
    assert [s.place for s in pack.scans][-1] == "Chicago, US" and pack.scans[0].place == "Shenzhen, CN"
    assert "Chicago" in pack.element("delivery_scan").summary
    assert pack.element("address_match").present and "city" in pack.element("address_match").summary
    refunds = pack.element("refunds")
    assert refunds.present and "Refunded 10.00 USD" in refunds.summary and "29.80 USD remained paid" in refunds.summary
    assert pack.refunded == Decimal("10.00")
    # Every cited event is one of this order's ledger events.
    assert {e.order_id for e in pack.cited} == {order.id}
    assert "delivered" in text and shipment.tracking_number in text and "Refunded 10.00 USD" in text
    assert "No message" not in text  # missing elements are not claims

    payload.update(status="won", finalized_on=utcnow().replace(microsecond=0).isoformat())
    assert store_webhook(post_webhook, shop, "disputes/update", payload) == "processed"
    with get_sessionmaker()() as session:
        dispute = session.scalar(select(Dispute).where(Dispute.external_id == str(payload["id"])))
        assert (dispute.status, dispute.outcome, [h["status"] for h in dispute.status_history]) == (
            "won", "won", ["needs_response", "won"])


def test_not_received_without_delivery_names_what_is_missing(db, shop, client, post_webhook):
    shipped = utcnow() - timedelta(days=5)
    order, shipment = shipment_for(db, shop, shipped_at=shipped)
    carrier_scans(client, shipment.tracking_number, journey(shipped, DELIVERED[:3]))
    payload = dispute_payload(order, reason="product_not_received", code="4855", amount="39.80")
    assert store_webhook(post_webhook, shop, "disputes/create", payload) == "processed"

    pack, text = pack_of(shop, payload["id"])
    assert pack.family == "not_received" and not pack.complete
    assert {e.key for e in pack.missing} == {"delivery_scan", "address_match"}
    delivery = pack.element("delivery_scan")
    assert delivery.missing_reason == "No delivery scan is recorded for any shipment of this order."
    assert delivery.fix and pack.element("scan_timeline").present
    assert pack.element("refunds").summary == "No refund has been given for this order."
    assert "reports the order as delivered" not in text and "handed to the carrier" in text


def test_not_as_described_without_claim_names_listing_photos_and_policy(db, shop, client, post_webhook):
    order, shipment = shipment_for(db, shop, shipped_at=utcnow() - timedelta(days=12))
    payload = dispute_payload(order, reason="product_unacceptable", code="13.3", amount="39.80")
    assert store_webhook(post_webhook, shop, "disputes/create", payload) == "processed"
    pack, text = pack_of(shop, payload["id"])
    assert pack.family == "not_as_described" and not pack.complete
    missing = {e.key: e.missing_reason for e in pack.missing}
    assert set(missing) >= {"listing", "claim_photos", "return_policy"}
    assert "description and images" in missing["listing"]
    assert "Product 0" in pack.element("listing").summary  # the titles it does keep


def _customer_order(db, shop, customer_id: int, days_ago: int) -> Order:
    from app.orders.service import apply_snapshot

    payload = order_payload(updated_at=utcnow() - timedelta(days=days_ago))
    payload["customer"]["id"] = customer_id
    payload["browser_ip"] = "203.0.113.7"
    payload["billing_address"] = dict(payload["shipping_address"])
    order, _ = apply_snapshot(db, shop, "orders/paid", payload)
    hold(db)
    db.commit()
    return order


def test_fraud_pack_checks_ce3_readiness_with_stripes_required_actions(db, shop, post_webhook):
    customer = random.randint(10**9, 10**10)
    first = _customer_order(db, shop, customer, 300)
    _customer_order(db, shop, customer, 200)
    order = _customer_order(db, shop, customer, 2)
    payload = dispute_payload(order, reason="fraudulent", code="10.4", amount="39.80")
    assert store_webhook(post_webhook, shop, "disputes/create", payload) == "processed"
    pack, _ = pack_of(shop, payload["id"])
    assert pack.family == "fraud"
    assert pack.element("avs_cvv").missing_reason.startswith("The store's payment details (AVS and CVV")
    assert pack.element("ip_device").present and pack.element("billing_shipping").present
    ce3 = pack.element("ce3")
    # Two prior undisputed orders qualify; no IP/device match can be shown.
    assert [row[0] for row in ce3.rows] == ["missing_customer_identifiers"]
    assert "requires_action" in ce3.summary and first.name in ce3.summary

    # A dispute on one of the priors takes it out of the window's undisputed orders.
    prior = dispute_payload(first, reason="fraudulent", code="10.4", amount="39.80", status="lost")
    assert store_webhook(post_webhook, shop, "disputes/create", prior) == "processed"
    pack, _ = pack_of(shop, payload["id"])
    assert "missing_prior_undisputed_transactions" in [row[0] for row in pack.element("ce3").rows]


def test_credit_not_processed_shows_the_refund_records(db, shop, post_webhook):
    order = _customer_order(db, shop, random.randint(10**9, 10**10), 20)
    assert store_webhook(post_webhook, shop, "refunds/create", refund_payload(order, "39.80")) == "processed"
    payload = dispute_payload(order, reason="credit_not_processed", code="13.6", amount="39.80")
    assert store_webhook(post_webhook, shop, "disputes/create", payload) == "processed"
    pack, text = pack_of(shop, payload["id"])
    assert pack.family == "credit_not_processed"
    assert pack.element("refund_records").present and "39.80 USD refunded" in pack.element("refund_records").summary
    assert "A refund was processed." in text
    assert not pack.element("return_policy").present  # named missing: no policy accepted is on record


def test_general_pack_and_an_inquiry(db, shop, post_webhook):
    order = _customer_order(db, shop, random.randint(10**9, 10**10), 3)
    payload = dispute_payload(order, reason="general", code=f"Z{uuid.uuid4().hex[:3].upper()}", amount="39.80",
                              kind="inquiry")
    assert store_webhook(post_webhook, shop, "disputes/create", payload) == "processed"
    pack, text = pack_of(shop, payload["id"])
    assert pack.family == "general" and pack.dispute.kind == "inquiry"
    assert [e.key for e in pack.elements] == ["order", "carrier_tracking", "delivery_scan", "messages", "claims",
                                              "refunds"]
    assert text.startswith(f"Response to the inquiry {payload['id']} (General")
