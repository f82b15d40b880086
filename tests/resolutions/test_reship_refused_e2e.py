"""A reship the supplier refuses, end to end with the real web server, outbox relay and prefork
Celery worker: the claim is reopened (never "completed"), the customer is offered a refund on the
status page, takes it, and the claim completes once the store confirmed the money went back."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from app.db import get_sessionmaker
from app.notifications.models import Notification
from app.orders.models import Order
from app.orders.service import apply_snapshot
from app.refunds.models import Refund
from app.resolutions import service
from app.resolutions.models import Resolution
from app.status.tokens import token_for
from app.suppliers.models import SupplierOrder
from tests.fixtures import wait_for
from tests.notifications.helpers import kinds
from tests.refunds.helpers import ORDER, control, store_refunds
from tests.suppliers.e2e import behave, reset_supplier, store_shop

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox(live_server, celery_worker):
    reset_supplier()
    behave(auto_advance=False)  # the original order is placed and stays so: this test follows the reship
    yield live_server
    reset_supplier()


def _claim(resolution_id: int) -> Resolution:
    with get_sessionmaker()() as session:
        return session.get(Resolution, resolution_id)


def test_reship_refused_by_the_supplier_reopens_the_claim_and_the_refund_completes_it(db, sandbox):
    shop = store_shop(db)
    # Orders wait for the merchant here, so the reship is the one supplier order this test follows.
    shop.settings = {**(shop.settings or {}), "ordering": {"policy": "manual"}}
    db.commit()
    sku = f"RS-{uuid.uuid4().hex[:8]}"
    order_in = {**ORDER, "line_items": [{**ORDER["line_items"][0], "sku": sku}]}
    created = httpx.post(f"{control()}/orders", json={"shop": shop.domain, "order": order_in, "paid": True}, timeout=30)
    assert created.status_code == 201, created.text
    store = created.json()["order"]
    order, _ = apply_snapshot(db, shop, "orders/paid", store)
    db.commit()
    behave(out_of_stock=[sku])  # the item has run out at the supplier

    # Overdue: the customer reports it not received and takes the reship within policy.
    with get_sessionmaker()() as session:
        live = session.get(Order, order.id)
        live.placed_at -= timedelta(days=30)
        own_shop = session.get(type(shop), shop.id)
        resolution = service.report(session, own_shop, live, reason="not_received", message="Never came",
                                    photos=[], photo_names=[], locale="en", ip=None, user_agent=None)
        service.accept(session, own_shop, live, resolution, remedy="reship", ip=None, user_agent=None)
        session.commit()
        resolution_id = resolution.id

    reopened = wait_for(lambda: (c := _claim(resolution_id)).status == "offered" and c, timeout=90,
                        message="the refused reship reopening the claim")
    assert [o["remedy"] for o in reopened.offers] == ["full_refund"] and reopened.offers[0]["auto"]
    with get_sessionmaker()() as session:
        reship = session.get(SupplierOrder, reopened.reship_supplier_order_id)
        assert reship.status == "failed" and "out_of_stock" in (reship.last_error or "")
        # The refused reship went back to its claim, not to another supplier or a stock-out choice.
        assert len(session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == order.id)).all()) == 1
    ledger = kinds(order.id, "resolution.")
    assert "resolution.reship_refused" in ledger and "resolution.reopened" in ledger
    assert "resolution.reship_confirmed" not in ledger and "resolution.refund_confirmed" not in ledger

    # The customer's page offers the refund; they take it there.
    token = token_for(order)
    page = httpx.get(f"{sandbox}/status/{token}/problem/{resolution_id}", timeout=10)
    assert "The replacement could not be sent" in page.text and 'value="full_refund"' in page.text
    taken = httpx.post(f"{sandbox}/status/{token}/problem/{resolution_id}/accept", data={"remedy": "full_refund"},
                       timeout=10, follow_redirects=False)
    assert taken.status_code == 303

    done = wait_for(lambda: (c := _claim(resolution_id)).status == "completed" and c, timeout=90,
                    message="the claim completed by the store's confirmed refund")
    assert (done.remedy, done.amount) == ("full_refund", order.total_price)
    (at_store,) = store_refunds(store["id"])
    assert Decimal(at_store["transactions"][0]["amount"]) == order.total_price
    with get_sessionmaker()() as session:
        (refund,) = session.scalars(select(Refund).where(Refund.resolution_id == resolution_id)).all()
        assert refund.status == "confirmed" and refund.external_id == str(at_store["id"])
        stages = set(session.scalars(select(Notification.stage).where(Notification.order_id == order.id)))
    assert {f"resolution_update:{resolution_id}.approved", f"resolution_update:{resolution_id}.completed",
            f"resolution_update:{resolution_id}.reopened.{reopened.reship_supplier_order_id}"} <= stages
    ledger = kinds(order.id, "resolution.")
    assert ledger.count("resolution.approved") == 2  # the reship, then the refund: each once
    assert ledger.count("resolution.refund_confirmed") == 1
