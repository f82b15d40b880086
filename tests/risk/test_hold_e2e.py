"""End to end with the real web server, relay and Celery worker: an order paid in the store is
scored on the paid path, held above the shop's risk threshold with its reasons, written into the
store's risk card exactly once per score version (even when the worker is killed after the store
applied the card), re-scored when the customer complains, released by the merchant (a decision
that becomes an outcome fact), while a calm order goes straight to the supplier."""

from __future__ import annotations

import os
import signal
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.config import get_settings
from app.db import get_sessionmaker
from app.evidence.models import EvidenceEvent
from app.orders.models import Order
from app.resolutions import service as resolutions
from app.risk import cards, outcomes
from app.risk.models import RiskCard, RiskOutcome, RiskScore
from app.shops.models import Shop
from app.suppliers import ordering
from app.suppliers.models import SupplierOrder
from app.suppliers.tables import OrderFlag
from tests.fixtures import wait_for
from tests.suppliers.e2e import live_url, store_shop, worker_children_calling_live_server

pytestmark = pytest.mark.e2e

RISKY_ADDRESS = {"first_name": "Sam", "last_name": "Stone", "address1": "Shipito, 1010 Forwarding Way",
                 "city": "Torrance", "province_code": "CA", "zip": "90501", "country_code": "US"}


def _store_order(domain: str, *, risky: bool) -> dict[str, Any]:
    address = RISKY_ADDRESS if risky else {**RISKY_ADDRESS, "first_name": "Ada", "last_name": "Lovelace",
                                           "address1": "12 Analytical Row", "city": "Springfield",
                                           "province_code": "IL", "zip": "62704"}
    email = "zq88120934@mailinator.com" if risky else "ada.lovelace@example.com"
    partial = {
        "email": email, "customer": {"first_name": address["first_name"], "last_name": address["last_name"],
                                     "email": email},
        "shipping_address": address,
        "billing_address": ({"first_name": "Max", "last_name": "Other", "country_code": "GB"} if risky
                            else address),
        "line_items": [{"title": "Lamp", "sku": "SKU-1", "price": "39.00", "quantity": 1, "product_id": 7001,
                        "variant_id": 8001}],
    }
    response = httpx.post(f"{live_url()}/sandbox/shopify/_control/orders",
                          json={"shop": domain, "order": partial, "paid": True}, timeout=30)
    response.raise_for_status()
    return response.json()["order"]


def _assessments(store_order_id: int) -> list[dict[str, Any]]:
    response = httpx.get(f"{live_url()}/sandbox/shopify/_control/orders/{store_order_id}", timeout=10)
    response.raise_for_status()
    return response.json()["order"].get("risk_assessments") or []


def _ours(shop_id: int, external_id: int) -> Order | None:
    with get_sessionmaker()() as session:
        return session.scalar(select(Order).where(Order.shop_id == shop_id, Order.external_id == external_id))


def _card_states(order_id: int) -> list[str]:
    with get_sessionmaker()() as session:
        return list(session.scalars(select(RiskCard.state).where(RiskCard.order_id == order_id).order_by(RiskCard.id)))


@pytest.fixture
def risky_shop(db, live_server, celery_worker):
    shop = store_shop(db)
    shop = db.get(Shop, shop.id)
    shop.scopes = get_settings().shopify_scopes  # as an OAuth install grants them: write_orders included
    shop.settings = {"ordering": {"policy": "review", "risk_threshold": 0.5}}
    db.commit()
    yield shop
    httpx.post(f"{live_url()}/sandbox/shopify/_control/risk/hang", json={"seconds": 0.01, "count": 1}, timeout=10)


def test_risky_order_is_held_with_reasons_carded_once_rescored_and_released(db, risky_shop):
    shop = risky_shop
    calm_store = _store_order(shop.domain, risky=False)
    risky_store = _store_order(shop.domain, risky=True)

    risky = wait_for(lambda: _ours(shop.id, risky_store["id"]), timeout=30, message="the risky order here")
    flag = wait_for(lambda: db.scalar(select(OrderFlag).where(OrderFlag.order_id == risky.id,
                                                               OrderFlag.kind == "review")),
                    timeout=30, message="the review hold")
    assert "parcel forwarder" in flag.reason and "at or above your 50% threshold" in flag.reason
    assert "Suggested: Confirm the shipping address with the customer before sending" in flag.reason
    assert flag.data["risk_level"] == "high" and "forwarder" in flag.data["risk_reasons"]
    calm = wait_for(lambda: _ours(shop.id, calm_store["id"]), timeout=30, message="the calm order here")

    def placed(order_id: int):
        with get_sessionmaker()() as session:
            return session.scalar(select(SupplierOrder).where(SupplierOrder.order_id == order_id,
                                                              SupplierOrder.status == "placed"))

    wait_for(lambda: placed(calm.id), timeout=40, message="the calm order at the supplier")
    with get_sessionmaker()() as session:
        assert session.scalar(select(func.count()).select_from(SupplierOrder)
                              .where(SupplierOrder.order_id == risky.id)) == 0
        assert session.get(RiskScore, calm.id).level == "low"

    # The store's risk card: our level and reasons, once.
    wait_for(lambda: _card_states(risky.id) == ["published"], timeout=40, message="the risk card")
    (card,) = _assessments(risky_store["id"])
    assert card["risk_level"] == "HIGH" and card["provider"] == "Dropguard"
    descriptions = [fact["description"] for fact in card["facts"]]
    assert descriptions[0].startswith("Dropguard: ") and "score " in descriptions[0]
    assert "The shipping address is a parcel forwarder" in descriptions
    assert {fact["sentiment"] for fact in card["facts"][1:]} <= {"NEGATIVE", "POSITIVE"}

    # The customer complains: the worker scores the order again, with the complaint as a reason,
    # and the new score version gets its own card.
    with get_sessionmaker()() as session:
        order = session.get(Order, risky.id)
        order.placed_at -= timedelta(days=30)  # overdue: a "not received" claim is possible
        resolutions.report(session, session.get(Shop, shop.id), order, reason="not_received", message="Where is it?",
                           photos=[], photo_names=[], locale="en", ip=None, user_agent=None)
        session.commit()

    def rescored():
        with get_sessionmaker()() as session:
            score = session.get(RiskScore, risky.id)
            return score if score.trigger == "rescore:complaint" else None

    score = wait_for(rescored, timeout=40, message="the re-score after the complaint")
    assert "complaint" in [r["key"] for r in score.reasons]
    wait_for(lambda: _card_states(risky.id) == ["published", "published"], timeout=40, message="the second card")
    assert len(_assessments(risky_store["id"])) == 2

    # The merchant releases it: the supplier order goes out, and the decision is an outcome fact.
    with get_sessionmaker()() as session:
        ordering.release(session, session.get(Order, risky.id), by="merchant")
        session.commit()
    wait_for(lambda: placed(risky.id), timeout=40, message="the released order at the supplier")
    with get_sessionmaker()() as session:
        outcomes.collect(session, session.get(Shop, shop.id))
        session.commit()
        decision = session.scalar(select(RiskOutcome).where(RiskOutcome.order_id == risky.id,
                                                            RiskOutcome.kind == "merchant_decision"))
        assert (decision.reason, decision.bad) == ("released", False)
        ledger = session.scalars(select(EvidenceEvent.kind).where(EvidenceEvent.order_id == risky.id)).all()
    assert "risk.scored" in ledger and "risk.card_published" in ledger and "risk.merchant_decision" in ledger


def test_worker_killed_after_the_store_applied_the_card_writes_it_once(db, risky_shop):
    shop = risky_shop
    # The store applies the next card and then sits on its answer; the worker waiting for it dies.
    httpx.post(f"{live_url()}/sandbox/shopify/_control/risk/hang", json={"seconds": 25, "count": 1},
               timeout=10).raise_for_status()
    risky_store = _store_order(shop.domain, risky=True)
    wait_for(lambda: _assessments(risky_store["id"]), timeout=40, message="the card applied at the store")
    order = _ours(shop.id, risky_store["id"])
    assert _card_states(order.id) == ["attempted"]
    children = wait_for(worker_children_calling_live_server, timeout=10, message="the pool child in the call")
    for child in children:
        os.kill(child.pid, signal.SIGKILL)
    wait_for(lambda: _card_states(order.id) == ["published"], timeout=60, message="the card adopted after the kill")
    assert len(_assessments(risky_store["id"])) == 1
    with get_sessionmaker()() as session:
        card = session.scalar(select(RiskCard).where(RiskCard.order_id == order.id))
        published = session.scalar(select(EvidenceEvent).where(EvidenceEvent.order_id == order.id,
                                                               EvidenceEvent.kind == "risk.card_published"))
        attempts = session.scalar(select(func.count()).select_from(EvidenceEvent).where(
            EvidenceEvent.order_id == order.id, EvidenceEvent.kind == "store.mutation_attempted"))
    assert card.attempts == 2 and published.data["adopted"] is True
    assert attempts == 1  # the retry asked the store first and did not call the mutation again
    assert cards.marker(card.digest) in _assessments(risky_store["id"])[0]["facts"][0]["description"]
