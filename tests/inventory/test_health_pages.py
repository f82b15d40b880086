"""Supplier health and inventory pages: what they show, and only to the shop's own session token."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.db import get_sessionmaker, utcnow
from app.inventory.models import InventoryItem
from app.suppliers import resilience
from app.suppliers.health_models import SupplierSlaBreach
from app.suppliers.models import Supplier, SupplierOrder
from tests.factories import session_token
from tests.suppliers.helpers import planned

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def _tenant(db, make_shop, name: str, *, down: bool):
    shop = make_shop()
    order, so = planned(db, shop)
    with get_sessionmaker()() as session:
        supplier = session.scalar(select(Supplier).where(Supplier.shop_id == shop.id))
        supplier.name = f"{name} Supplies"
        supplier.settings = {"breaker_threshold": 2}
        row = session.get(SupplierOrder, so.id)
        row.status, row.placed_at = "placed", utcnow() - timedelta(days=2)
        session.add(SupplierSlaBreach(shop_id=shop.id, supplier_id=supplier.id, supplier_order_id=so.id,
                                      order_id=order.id, condition="confirm", due_at=row.placed_at + timedelta(hours=24),
                                      detected_at=utcnow()))
        session.add(InventoryItem(shop_id=shop.id, inventory_item_id=f"gid://shopify/InventoryItem/{shop.id}77",
                                  location_id="gid://shopify/Location/1", sku=f"{name}-SKU", price=Decimal("20.00"),
                                  unit_cost=Decimal("18.00"), supplier_quantity=5, store_quantity=5,
                                  published_quantity=5, published_at=utcnow(), last_lag_ms=1500,
                                  margin_alert_at=utcnow()))
        session.commit()
        resilience.reset(supplier.id)
        if down:
            for _ in range(2):
                resilience.record_call(supplier, ok=False)
            resilience.hold(session, session.get(SupplierOrder, so.id), "circuit_open")
            session.commit()
    return shop


@pytest.fixture
def tenants(db, make_shop):
    return _tenant(db, make_shop, "Alpha", down=True), _tenant(db, make_shop, "Bravo", down=False)


def test_supplier_health_shows_the_callers_suppliers_only(client, tenants):
    alpha, bravo = tenants
    page = client.get(f"/admin/suppliers/health?id_token={session_token(alpha.domain)}&shop={bravo.domain}")
    assert page.status_code == 200, page.text
    assert "Alpha Supplies" in page.text and "Bravo Supplies" not in page.text
    assert 'data-circuit="open"' in page.text and "Down: orders are held" in page.text
    assert "Not confirmed in time" in page.text and 'data-condition="confirm"' in page.text
    other = client.get(f"/admin/suppliers/health?id_token={session_token(bravo.domain)}")
    assert "Bravo Supplies" in other.text and "Alpha Supplies" not in other.text
    assert 'data-circuit="closed"' in other.text


def test_inventory_page_shows_lag_and_margin_alerts_of_the_callers_shop(client, tenants):
    alpha, bravo = tenants
    page = client.get(f"/admin/inventory?id_token={session_token(alpha.domain)}")
    assert page.status_code == 200, page.text
    assert "Alpha-SKU" in page.text and "Bravo-SKU" not in page.text
    assert "1.5 s" in page.text  # the sync lag of the last 24 h
    assert "10.0 %" in page.text  # 20.00 at a cost of 18.00


@pytest.mark.parametrize("path", ["/admin/suppliers/health", "/admin/inventory"])
def test_health_pages_need_a_session_token(client, path):
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer nonsense"}).status_code == 401
