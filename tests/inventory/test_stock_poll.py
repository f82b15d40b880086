"""Stock polled from a supplier without stock webhooks (the sandbox CJ API), through its circuit."""

from __future__ import annotations

from app.db import get_sessionmaker
from app.inventory import polling, publish
from app.suppliers import resilience
from app.suppliers.models import Supplier
from tests.inventory.helpers import items, levels, seed
from tests.suppliers.e2e import store_shop
from tests.suppliers.helpers import hold_outbox
from tests.suppliers.protocol_helpers import ae_supplier, cj_supplier, control, map_sku

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


def test_aliexpress_variants_show_their_own_stock_not_the_products_total(db, live_server):
    shop = store_shop(db)
    seed(shop, [{"sku": "STAND-BLK", "price": "19.00", "available": 0},
                {"sku": "STAND-WHT", "price": "19.00", "available": 0},
                {"sku": "STAND-ANY", "price": "19.00", "available": 0}])
    publish.refresh_catalogue(shop.id)
    product = "1005001000000001"
    with get_sessionmaker()() as session:
        supplier = ae_supplier(session, shop)
        map_sku(session, shop, supplier, "STAND-BLK", product, variant="14:193#Black")
        map_sku(session, shop, supplier, "STAND-WHT", product, variant="14:200004889#White")
        map_sku(session, shop, supplier, "STAND-ANY", product)  # no variant named: the product's total
        supplier_id = supplier.id
    control("aliexpress", "/stock", {"product_id": product, "sku_attr": "14:193#Black", "stock": 99})
    control("aliexpress", "/stock", {"product_id": product, "sku_attr": "14:200004889#White", "stock": 5})

    assert polling.poll_supplier(supplier_id) == 1
    found = items(shop)
    assert (found["STAND-BLK"].supplier_quantity, found["STAND-WHT"].supplier_quantity) == (99, 5)
    assert found["STAND-ANY"].supplier_quantity == 104
    with get_sessionmaker()() as session:
        hold_outbox(session)
        session.commit()
    publish.publish(shop.id)
    assert levels(shop)["STAND-WHT"] == 5
