"""Catalogue variants no supplier would fill are listed (and evidenced once) before any order."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.evidence.models import EvidenceEvent
from app.inventory.models import InventoryItem
from app.suppliers.catalogue_gaps import EVENT, note_unmapped
from app.suppliers.models import Supplier
from app.suppliers.tables import VariantMapping
from tests.factories import session_token
from tests.suppliers.protocol_helpers import no_default_supplier

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def _events(db, shop) -> list[dict]:
    return list(db.scalars(select(EvidenceEvent.data).where(EvidenceEvent.shop_id == shop.id,
                                                            EvidenceEvent.kind == EVENT)))


def test_catalogue_variant_is_unmapped_before_any_order_until_mapped(client, db, make_shop):
    shop = make_shop()
    no_default_supplier(db, shop)
    supplier = Supplier(shop_id=shop.id, name="Gap supplier", protocol="generic")
    db.add(supplier)
    for location in ("gid://shopify/Location/1", "gid://shopify/Location/2"):  # one variant, two rows
        db.add(InventoryItem(shop_id=shop.id, inventory_item_id="gid://shopify/InventoryItem/77",
                             location_id=location, variant_id=7007, sku="CAT-GAP"))
    db.add(InventoryItem(shop_id=shop.id, inventory_item_id="gid://shopify/InventoryItem/78",
                         location_id="gid://shopify/Location/1", variant_id=7008, sku="CAT-OK"))
    db.flush()
    db.add(VariantMapping(shop_id=shop.id, supplier_id=supplier.id, match_key="v:7008", variant_id=7008,
                          supplier_sku="SUP-OK", priority=1))
    db.commit()

    assert note_unmapped(db, shop) == 1
    assert note_unmapped(db, shop) == 0  # once per variant, not once per look
    db.commit()
    assert _events(db, shop) == [{"key": "v:7007", "variant_id": 7007, "sku": "CAT-GAP"}]

    token = session_token(shop.domain)
    page = client.get(f"/admin/mapping?id_token={token}")
    assert page.status_code == 200
    assert 'data-unmapped-sku="CAT-GAP"' in page.text and 'data-unmapped-sku="CAT-OK"' not in page.text
    assert 'data-unmapped-count="1"' in page.text

    db.add(VariantMapping(shop_id=shop.id, supplier_id=supplier.id, match_key="s:CAT-GAP", sku="CAT-GAP",
                          supplier_sku="SUP-GAP", priority=1))
    db.commit()
    page = client.get(f"/admin/mapping?id_token={token}")
    assert 'data-unmapped-sku="CAT-GAP"' not in page.text and "data-unmapped-count" not in page.text


def test_a_default_supplier_takes_catalogue_variants_by_sku(db, make_shop):
    shop = make_shop()
    db.add(Supplier(shop_id=shop.id, name="Default", protocol="generic", is_default=True))
    db.add(InventoryItem(shop_id=shop.id, inventory_item_id="gid://shopify/InventoryItem/79",
                         location_id="gid://shopify/Location/1", variant_id=7009, sku="CAT-DEFAULT"))
    db.commit()
    assert note_unmapped(db, shop) == 0
    assert _events(db, shop) == []
