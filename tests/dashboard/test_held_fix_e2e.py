"""End to end with the real web server, relay and Celery worker: an order paid in the store with a
phone the supplier cannot use is held; the merchant edits the phone on the order page (twice, at
once, as a double click would); the store's order carries the new phone; the supplier receives
the order exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from app.db import get_sessionmaker
from app.evidence.models import EvidenceEvent
from app.orders.models import DeliveryAddress, Order
from app.suppliers.models import SupplierOrder
from app.suppliers.tables import OrderFlag
from tests.factories import session_token
from tests.fixtures import wait_for
from tests.suppliers.e2e import emulator_orders, live_url, store_shop

pytestmark = pytest.mark.e2e

ADDRESS = {"first_name": "Ada", "last_name": "Lovelace", "address1": "12 Analytical Row", "city": "Springfield",
           "province_code": "IL", "zip": "62704", "country_code": "US", "phone": "555-01"}


def _store_order(domain: str) -> dict:
    partial = {"email": "ada.lovelace@example.com",
               "customer": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada.lovelace@example.com"},
               "shipping_address": ADDRESS, "billing_address": ADDRESS,
               "line_items": [{"title": "Lamp", "sku": "SKU-1", "price": "39.00", "quantity": 1,
                               "product_id": 7001, "variant_id": 8001}]}
    response = httpx.post(f"{live_url()}/sandbox/shopify/_control/orders",
                          json={"shop": domain, "order": partial, "paid": True}, timeout=30)
    response.raise_for_status()
    return response.json()["order"]


def _count(model, *conditions) -> int:
    with get_sessionmaker()() as session:
        return session.scalar(select(func.count()).select_from(model).where(*conditions))


def test_held_for_phone_edit_phone_store_updated_placed_once(db, live_server, celery_worker):
    shop = store_shop(db)
    store_order = _store_order(shop.domain)

    def ours():
        with get_sessionmaker()() as session:
            return session.scalar(select(Order).where(Order.shop_id == shop.id, Order.external_id == store_order["id"]))

    order = wait_for(ours, timeout=30, message="the order here")
    flag = wait_for(lambda: _count(OrderFlag, OrderFlag.order_id == order.id, OrderFlag.kind == "address",
                                   OrderFlag.resolved_at.is_(None)), timeout=30, message="the address hold")
    assert flag == 1 and _count(SupplierOrder, SupplierOrder.order_id == order.id) == 0

    page = httpx.get(f"{live_url()}/admin/orders/{order.id}",
                     params={"id_token": session_token(shop.domain), "shop": shop.domain}, timeout=10).text
    assert "This order is held" in page and "is not a valid number for US" in page

    def fix(_):
        return httpx.post(f"{live_url()}/admin/orders/{order.id}/address",
                          data={"id_token": session_token(shop.domain), "phone": "(217) 555-0123"},
                          timeout=30, follow_redirects=False)

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(fix, range(2)))
    assert sorted(a.status_code for a in answers) == [303, 303], [a.text[:300] for a in answers]
    assert all("Address+fixed" in a.headers["location"] for a in answers), [a.headers["location"] for a in answers]

    # The store's order has the new phone, in E.164, and the rest of the address unchanged.
    stored = httpx.get(f"{live_url()}/sandbox/shopify/_control/orders/{store_order['id']}", timeout=10).json()
    assert stored["order"]["shipping_address"]["phone"] == "+12175550123"
    assert stored["order"]["shipping_address"]["address1"] == "12 Analytical Row"

    placed = wait_for(lambda: _placed(order.id), timeout=60, message="the supplier order placed")
    assert len(emulator_orders(placed.idempotency_key)) == 1
    with get_sessionmaker()() as session:
        assert session.get(DeliveryAddress, order.id).phone == "+12175550123"
        assert session.scalar(select(func.count()).select_from(SupplierOrder)
                              .where(SupplierOrder.order_id == order.id)) == 1
        kinds = list(session.scalars(select(EvidenceEvent.kind).where(EvidenceEvent.order_id == order.id)
                                     .order_by(EvidenceEvent.seq)))
    assert kinds.count("order.address_updated") == 1  # the second edit changed nothing
    assert "store.mutation_succeeded" in kinds and "order.flag_resolved.address" in kinds
    assert kinds.index("store.mutation_succeeded") < kinds.index("order.address_updated") < kinds.index(
        "supplier_order.placed")
    # The store's orders/updated webhook (the new phone) came back and changed nothing more.
    wait_for(lambda: _count(EvidenceEvent, EvidenceEvent.order_id == order.id,
                            EvidenceEvent.kind == "order.snapshot_applied") >= 2, timeout=30,
             message="the store's orders/updated applied")
    assert _count(SupplierOrder, SupplierOrder.order_id == order.id) == 1


def _placed(order_id: int) -> SupplierOrder | None:
    with get_sessionmaker()() as session:
        return session.scalar(select(SupplierOrder).where(SupplierOrder.order_id == order_id,
                                                          SupplierOrder.status == "placed"))
