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


def test_cj_duplicate_paid_webhooks_one_order_then_cj_webhooks_ship_it(db, sandbox):
    shop = store_shop(db)
    no_default_supplier(db, shop)
    supplier, _ = cj_supplier(db, shop)
    map_sku(db, shop, supplier, "SKU-0", "CJ-SANDBOX-VID-0001")
    event = str(uuid.uuid4())
    responses = _post_paid(sandbox, shop.domain, order_payload(), [event] * 8 + [str(uuid.uuid4()) for _ in range(3)])
    assert all(r.status_code == 200 for r in responses)
    so = _supplier_order(shop.id, ("confirmed",))
    assert so.attempts == 1 and len(cj_orders(so.idempotency_key)) == 1
    (cj,) = cj_orders(so.idempotency_key)
    control("cj", f"/orders/{cj['orderId']}/advance", {"to": "SHIPPED"})
    shipped = _supplier_order(shop.id, ("shipped",))
    with get_sessionmaker()() as session:
        (shipment,) = session.scalars(select(Shipment).where(Shipment.supplier_order_id == shipped.id)).all()
    assert shipment.tracking_number == cj_orders(so.idempotency_key)[0]["trackNumber"]
    assert len(cj_orders(so.idempotency_key)) == 1


def test_worker_killed_during_an_aliexpress_create_never_resends(db, sandbox):
    shop = store_shop(db, supplier_timeout=None)
    no_default_supplier(db, shop)
    map_sku(db, shop, ae_supplier(db, shop), "SKU-0", "1005001000000001", variant="14:193#Black")
    control("aliexpress", "/behaviour", {"latency_ms": 4000})  # the create is received, then slow
    _post_paid(sandbox, shop.domain, order_payload(), [str(uuid.uuid4())])
    (child,) = wait_for(worker_children_calling_live_server, timeout=20, message="the pool child in the call")
    os.kill(child.pid, signal.SIGKILL)
    calm("aliexpress")
    so = _supplier_order(shop.id, ("reconciling",), timeout=60)
    assert so.attempts == 1
    wait_for(lambda: ae_orders(so.idempotency_key), timeout=10, message="the order at AliExpress")
    assert len(ae_orders(so.idempotency_key)) == 1
