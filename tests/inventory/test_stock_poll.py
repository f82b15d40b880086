"""Stock polled from a supplier without stock webhooks (the sandbox CJ API), through its circuit."""

from __future__ import annotations

from app.db import get_sessionmaker
from app.inventory import polling, publish
from app.suppliers import resilience
from app.suppliers.models import Supplier
from tests.inventory.helpers import items, levels, seed
from tests.suppliers.e2e import store_shop
from tests.suppliers.helpers import hold_outbox
from tests.suppliers.protocol_helpers import cj_supplier, control, map_sku

VID = "CJ-SANDBOX-VID-0002"


def test_polled_stock_reaches_the_store_and_a_down_supplier_is_not_polled(db, live_server):
    shop = store_shop(db)
    seed(shop, [{"sku": "CJ-MUG", "price": "19.00", "available": 0}])
    publish.refresh_catalogue(shop.id)
    with get_sessionmaker()() as session:
        supplier, _ = cj_supplier(session, shop)
        map_sku(session, shop, supplier, "CJ-MUG", VID)
        supplier_id = supplier.id
    control("cj", "/stock", {"vid": VID, "stock": 40})

    assert polling.poll_supplier(supplier_id) == 1
    assert items(shop)["CJ-MUG"].supplier_quantity == 40
    with get_sessionmaker()() as session:
        hold_outbox(session)  # publish in-process below, not by a live worker
        session.commit()
    publish.publish(shop.id)
    assert levels(shop)["CJ-MUG"] == 40

    # The supplier goes down: its circuit opens and polls stop calling it until the cool-down.
    with get_sessionmaker()() as session:
        supplier = session.get(Supplier, supplier_id)
        supplier.settings = {**supplier.settings, "breaker_threshold": 1, "breaker_cooldown_seconds": 60}
        session.commit()
    resilience.record_call(supplier, ok=False)
    assert resilience.circuit(supplier_id)["state"] == "open"
    control("cj", "/stock", {"vid": VID, "stock": 2})
    assert polling.poll_supplier(supplier_id) == 0
    assert items(shop)["CJ-MUG"].supplier_quantity == 40
    assert polling.polled_suppliers().count(supplier_id) == 1
