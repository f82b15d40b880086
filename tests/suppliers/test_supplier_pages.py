"""The suppliers, product-mapping and review pages: what they show, what their forms do, and
that shop A's session token never reads or changes shop B's suppliers, mappings or flags."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from app.shops.models import Shop
from app.suppliers import service
from app.suppliers.models import Supplier
from app.suppliers.tables import OrderFlag, VariantMapping
from tests.factories import session_token
from tests.suppliers.helpers import hold_outbox, paid_order, supplier_orders

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


@dataclass
class Tenant:
    shop: Shop
    supplier: Supplier
    flag: OrderFlag
    order_id: int

    @property
    def token(self) -> str:
        return session_token(self.shop.domain)


def _tenant(db, make_shop, tag: str) -> Tenant:
    shop = make_shop()
    shop.settings = {"ordering": {"policy": "manual"}}
    supplier = Supplier(shop_id=shop.id, name=f"Supplier-{tag}", protocol="generic")
    db.add(supplier)
    db.flush()
    db.add(VariantMapping(shop_id=shop.id, supplier_id=supplier.id, match_key="s:SKU-0", sku="SKU-0",
                          supplier_sku=f"SUPSKU-{tag}", priority=1))
    db.commit()
    order = paid_order(db, shop, lines=2)  # SKU-1 stays unmapped (the default supplier takes it)
    service.plan_for_order(db, order)
    db.commit()
    flag = db.scalar(select(OrderFlag).where(OrderFlag.order_id == order.id))
    return Tenant(shop, supplier, flag, order.id)


@pytest.fixture
def tenants(db, make_shop) -> tuple[Tenant, Tenant]:
    return _tenant(db, make_shop, "mine"), _tenant(db, make_shop, "theirs")


def test_suppliers_page_lists_only_the_callers_suppliers(client, tenants):
    mine, theirs = tenants
    page = client.get(f"/admin/suppliers?id_token={mine.token}&shop={theirs.shop.domain}")
    assert page.status_code == 200, page.text
    assert "Supplier-mine" in page.text and "Supplier-theirs" not in page.text
    assert f'data-supplier-id="{mine.supplier.id}"' in page.text


def test_mapping_page_and_upload_touch_only_the_callers_shop(client, db, tenants):
    mine, theirs = tenants
    page = client.get(f"/admin/mapping?id_token={mine.token}&shop={theirs.shop.domain}")
    assert page.status_code == 200
    assert "SUPSKU-mine" in page.text and "SUPSKU-theirs" not in page.text
    assert 'data-unmapped-sku="SKU-1"' in page.text
    csv = b"sku,supplier,supplier_sku,priority\nSKU-1,Supplier-mine,NEW-1,1\nSKU-2,Supplier-theirs,NEW-2,1\n"
    posted = client.post(f"/admin/mapping/import?shop={theirs.shop.domain}", data={"id_token": mine.token},
                         files={"file": ("map.csv", csv, "text/csv")}, follow_redirects=False)
    assert posted.status_code == 303, posted.text
    # The other shop's supplier name means nothing here: that row is reported, not imported.
    db.expire_all()
    assert db.scalars(select(VariantMapping.supplier_sku).where(VariantMapping.shop_id == theirs.shop.id)).all() == [
        "SUPSKU-theirs"]
    mine_skus = set(db.scalars(select(VariantMapping.supplier_sku).where(VariantMapping.shop_id == mine.shop.id)))
    assert mine_skus == {"SUPSKU-mine", "NEW-1"}
    report = client.get(f"/admin/mapping?id_token={mine.token}")
    assert re.search(r'class="problem"><td>3</td><td class="mono">supplier</td>', report.text)
    assert 'data-unmapped-sku="SKU-1"' not in report.text
    theirs_page = client.get(f"/admin/mapping?id_token={theirs.token}")
    assert "map.csv" not in theirs_page.text


def test_review_page_and_actions_reach_only_the_callers_flags(client, db, tenants):
    mine, theirs = tenants
    page = client.get(f"/admin/review?id_token={mine.token}&shop={theirs.shop.domain}")
    assert f'data-flag-id="{mine.flag.id}"' in page.text and f'data-flag-id="{theirs.flag.id}"' not in page.text
    for action in ("release", "adopt", "resend", "dismiss"):
        foreign = client.post(f"/admin/review/{theirs.flag.id}/{action}", data={"id_token": mine.token,
                                                                                "external_ids": "1"})
        assert foreign.status_code == 404, action
    db.expire_all()
    assert db.get(OrderFlag, theirs.flag.id).resolved_at is None and supplier_orders(theirs.order_id) == []
    own = client.post(f"/admin/review/{mine.flag.id}/release", data={"id_token": mine.token}, follow_redirects=False)
    assert own.status_code == 303 and "notice=Sent+to+2" in own.headers["location"]
    hold_outbox(db)
    db.commit()
    assert len(supplier_orders(mine.order_id)) == 2  # SKU-0 to its mapped supplier, SKU-1 to the default
    assert supplier_orders(theirs.order_id) == []


@pytest.mark.parametrize("path", ["/admin/suppliers", "/admin/mapping", "/admin/review"])
def test_supplier_pages_need_a_session_token(client, tenants, path):
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": f"Basic {tenants[0].token}"}).status_code == 401


def test_supplier_posts_need_a_session_token(client, tenants):
    mine, _ = tenants
    assert client.post(f"/admin/review/{mine.flag.id}/release", data={}).status_code == 401
    assert client.post("/admin/mapping/import", files={"file": ("m.csv", b"x", "text/csv")}).status_code == 401
    cross = client.post(f"/admin/review/{mine.flag.id}/release", data={"id_token": mine.token},
                        headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
