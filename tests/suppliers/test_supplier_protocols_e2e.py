"""AliExpress and CJ through the real web server, outbox relay and prefork worker: duplicate paid
webhooks, CJ's own webhooks shipping the order, and a worker killed while its AliExpress create
is in flight. The emulators' order books are the judge."""

from __future__ import annotations

import json
import os
import signal
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import select

from app.db import get_sessionmaker
from app.fulfilments.models import Shipment
from app.suppliers.models import SupplierOrder
from tests.factories import order_payload, signed_headers
from tests.fixtures import wait_for
from tests.suppliers.e2e import store_shop, worker_children_calling_live_server
from tests.suppliers.protocol_helpers import (
    ae_orders,
    ae_supplier,
    calm,
    cj_orders,
    cj_supplier,
    control,
    map_sku,
    no_default_supplier,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox(live_server, celery_worker):
    calm("aliexpress")
    calm("cj")
    yield live_server
    calm("aliexpress")
    calm("cj")


def _post_paid(url: str, domain: str, payload: dict, event_ids: list[str]) -> list[httpx.Response]:
    body = json.dumps(payload).encode()

    def post(event_id: str) -> httpx.Response:
        headers = signed_headers(body, shop_domain=domain, topic="orders/paid", event_id=event_id)
        return httpx.post(f"{url}/webhooks/shopify", content=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(max_workers=len(event_ids)) as pool:
        return list(pool.map(post, event_ids))


def _supplier_order(shop_id: int, statuses: tuple[str, ...], timeout: float = 40) -> SupplierOrder:
    def found():
        with get_sessionmaker()() as session:
            return session.scalar(select(SupplierOrder).where(SupplierOrder.shop_id == shop_id,
                                                              SupplierOrder.status.in_(statuses)))
    return wait_for(found, timeout=timeout, message=f"a supplier order in {statuses}")


STORE_ORDER = {
    "line_items": [{"title": "Phone stand", "sku": "SKU-0", "quantity": 1, "price": "19.90"}],
    "customer": {"email": "grace@example.com", "first_name": "Grace", "last_name": "Hopper"},
    "shipping_address": {"first_name": "Grace", "last_name": "Hopper", "address1": "1 Navy Yard",
                         "city": "Arlington", "province_code": "VA", "zip": "22202", "country_code": "US",
                         "phone": "+1 703 555 0100"},
    "currency": "USD",
}


def test_cj_duplicate_paid_webhooks_one_order_then_cj_webhooks_ship_it_to_the_store(db, sandbox):
    shop = store_shop(db)
    no_default_supplier(db, shop)
    supplier, _ = cj_supplier(db, shop)
    map_sku(db, shop, supplier, "SKU-0", "CJ-SANDBOX-VID-0001")
    created = httpx.post(f"{sandbox}/sandbox/shopify/_control/orders",
                         json={"shop": shop.domain, "order": STORE_ORDER, "paid": True}, timeout=30)
    assert created.status_code == 201, created.text
    # The store's paid webhook again, as retries and replays deliver it, all at once.
    responses = _post_paid(sandbox, shop.domain, created.json()["order"], [str(uuid.uuid4()) for _ in range(6)])
    assert all(r.status_code == 200 for r in responses)
    so = _supplier_order(shop.id, ("confirmed",))
    assert so.attempts == 1 and len(cj_orders(so.idempotency_key)) == 1
    (cj,) = cj_orders(so.idempotency_key)
    control("cj", f"/orders/{cj['orderId']}/advance", {"to": "SHIPPED"})  # CJ sends ORDER + LOGISTIC
    shipped = _supplier_order(shop.id, ("shipped",))

    def pushed():
        with get_sessionmaker()() as session:
            rows = session.scalars(select(Shipment).where(Shipment.supplier_order_id == shipped.id)).all()
        return rows if rows and all(row.store_status == "pushed" for row in rows) else None

    (shipment,) = wait_for(pushed, timeout=60, message="the shipment pushed to the store")
    assert shipment.tracking_number == cj_orders(so.idempotency_key)[0]["trackNumber"]
    fulfilments = httpx.get(f"{sandbox}/sandbox/shopify/_control/fulfillments", params={"shop": shop.domain},
                            timeout=10).json()
    assert len(fulfilments["fulfillments"]) == 1
    assert len(cj_orders(so.idempotency_key)) == 1


def _attempted(shop_id: int) -> bool:
    with get_sessionmaker()() as session:
        return bool(session.scalar(select(SupplierOrder.attempts).where(SupplierOrder.shop_id == shop_id)))


def test_worker_killed_during_an_aliexpress_create_never_resends(db, sandbox):
    shop = store_shop(db, supplier_timeout=None)
    no_default_supplier(db, shop)
    map_sku(db, shop, ae_supplier(db, shop), "SKU-0", "1005001000000001", variant="14:193#Black")
    control("aliexpress", "/behaviour", {"latency_ms": 4000})  # the create is received, then slow
    _post_paid(sandbox, shop.domain, order_payload(), [str(uuid.uuid4())])
    # The attempt is committed right before the call; then whichever pool children are talking to
    # the live server die (one of them is ours; any other task is redelivered, unharmed).
    _supplier_order(shop.id, ("pending",), timeout=20)
    wait_for(lambda: _attempted(shop.id), timeout=20, message="the attempt recorded")
    children = wait_for(worker_children_calling_live_server, timeout=20, message="the pool child in the call")
    for child in children:
        os.kill(child.pid, signal.SIGKILL)
    calm("aliexpress")
    so = _supplier_order(shop.id, ("reconciling",), timeout=60)
    assert so.attempts == 1
    wait_for(lambda: ae_orders(so.idempotency_key), timeout=10, message="the order at AliExpress")
    assert len(ae_orders(so.idempotency_key)) == 1
