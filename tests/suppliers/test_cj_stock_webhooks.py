"""CJ STOCK/VARIANT messages: recorded per shop buying from the signing account, applied to its stock."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from app.db import get_sessionmaker
from app.inventory.models import SupplierStock
from app.suppliers.cj_stock import stock_levels
from app.suppliers.models import Supplier
from app.suppliers.protocols.cj_webhooks import webhook_signature
from app.suppliers.tasks import process_callback
from app.webhooks.models import WebhookDelivery
from tests.suppliers.helpers import events


@pytest.fixture
def cj_supplier(shop) -> tuple[Supplier, str]:
    open_id = str(uuid.uuid4().int % 10**13)
    with get_sessionmaker()() as session:
        supplier = Supplier(shop_id=shop.id, name="CJ", protocol="cj", settings={"open_id": open_id})
        session.add(supplier)
        session.commit()
        return supplier, open_id


def _message(open_id: str, kind: str, params) -> bytes:
    envelope = {"messageId": uuid.uuid4().hex, "type": kind, "messageType": "UPDATE", "openId": int(open_id),
                "params": params}
    return json.dumps(envelope).encode()


def _post(client, open_id: str, body: bytes):
    return client.post("/webhooks/suppliers/cj", content=body,
                       headers={"Content-Type": "application/json", "sign": webhook_signature(body, open_id)})


def _stock(supplier_id: int) -> dict[str, int]:
    with get_sessionmaker()() as session:
        rows = session.scalars(select(SupplierStock).where(SupplierStock.supplier_id == supplier_id))
        return {row.supplier_sku: row.quantity for row in rows}


def test_stock_message_is_applied_to_the_shops_cj_supplier(client, db, shop, cj_supplier):
    supplier, open_id = cj_supplier
    params = {"VID-1": [{"vid": "VID-1", "areaEn": "CN", "storageNum": 5}, {"vid": "VID-1", "storageNum": "7"}],
              "VID-2": [{"vid": "VID-2", "areaEn": "US"}]}
    body = _message(open_id, "STOCK", params)
    response = _post(client, open_id, body)
    assert response.status_code == 200 and response.json()["status"] == "queued", response.text
    delivery_id = response.json()["delivery_id"]
    assert process_callback.run(delivery_id) in ("processed", "skipped")  # a live worker may be first
    with get_sessionmaker()() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        assert (delivery.status, delivery.topic, delivery.shop_id) == ("processed", "cj.STOCK", shop.id)
    assert _stock(supplier.id) == {"VID-1": 12}
    [refused] = events(shop.domain, "supplier.stock_not_applied")
    assert refused.data["applied"] == 1 and "no stock quantity" in refused.data["problems"][0]
    assert _post(client, open_id, body).json()["status"] == "duplicate"


def test_variant_message_with_a_flat_quantity_is_applied(client, db, shop, cj_supplier):
    supplier, open_id = cj_supplier
    response = _post(client, open_id, _message(open_id, "VARIANT", {"vid": "VID-9", "inventoryNum": 3}))
    process_callback.run(response.json()["delivery_id"])
    assert _stock(supplier.id) == {"VID-9": 3}
    assert events(shop.domain, "supplier.stock_not_applied") == []


@pytest.mark.parametrize(
    ("params", "levels", "problems"),
    [
        ({"vid": "A", "storageNum": -4}, {"A": 0}, 0),
        ([{"vid": "A", "totalInventoryNum": 2}, {"vid": "B", "quantity": 1}, "x"], {"A": 2, "B": 1}, 1),
        ({"A": {"storageNum": 6}}, {"A": 6}, 0),
        ({"A": [{"storageNum": True}]}, {}, 1),
        ("text", {}, 1),
    ],
    ids=["flat", "list", "grouped_object", "bool_is_not_a_number", "not_an_object"],
)
def test_stock_params_are_read_defensively(params, levels, problems):
    found, refused = stock_levels(params)
    assert found == levels and len(refused) == problems
