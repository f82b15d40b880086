"""A shop's history generated through the real paths: order webhooks' processing, supplier
placement (over protocol A to an in-test supplier that answers at a chosen time), signed supplier
callbacks and carrier webhooks posted to our routes and applied by their tasks, Shopify dispute
webhooks, and claims through the resolution service. Nothing is typed into insight tables; the
insight refresh tasks are run in-process afterwards, the way the analytics queue would."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.db import get_sessionmaker
from app.insights import aggregates
from app.orders.models import Order
from app.orders.service import apply_snapshot
from app.resolutions import service as resolutions
from app.resolutions.models import Resolution
from app.shops.models import Shop
from app.suppliers import mapping
from app.suppliers import service as suppliers
from app.suppliers.models import Supplier, SupplierOrder
from app.suppliers.tasks import process_callback
from app.tracking.tasks import process_delivery as process_carrier_delivery
from app.webhooks.tasks import process_delivery as process_store_delivery
from tests.factories import order_payload
from tests.resolutions.helpers import STORED_PHOTO
from tests.suppliers.helpers import FakeSupplier, hold_outbox, signed_callback
from tests.tracking.helpers import fresh_number, seventeentrack_webhook
from tests.webhooks.helpers import record_held

ADDRESSES = {
    "US": {"address1": "12 Analytical Row", "city": "Springfield", "zip": "62704", "province_code": "IL",
           "country_code": "US", "phone": "+12175550123"},
    "DE": {"address1": "Unter den Linden 5", "city": "Berlin", "zip": "10117", "province_code": None,
           "country_code": "DE", "phone": "+49 30 901820"},
}


class TimedSupplier(FakeSupplier):
    """Protocol A in memory, answering that the order was created at `created_at`."""

    def __init__(self, created_at: datetime) -> None:
        super().__init__()
        self.created_at = created_at

    def _apply(self, request: httpx.Request, path: str, body: bytes) -> httpx.Response:
        response = super()._apply(request, path, body)
        if request.method == "POST" and path == "/orders" and response.status_code == 201:
            order = {**json.loads(response.content), "created_at": self.created_at.isoformat()}
            self.orders[-1] = order
            return httpx.Response(201, json=order)
        return response


class History:
    def __init__(self, db: Session, client, shop: Shop) -> None:
        self.db, self.client, self.shop = db, client, shop
        self.order_ids: list[int] = []

    # -- configuration -----------------------------------------------------------------------
    def supplier(self, name: str) -> Supplier:
        supplier = Supplier(shop_id=self.shop.id, name=name, protocol="generic", is_default=False)
        self.db.add(supplier)
        self.db.commit()
        return supplier

    def map_products(self, rows: list[tuple[int, str, str]]) -> None:
        """(variant id, supplier name, unit cost) through the mapping CSV import."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["variant_id", "supplier", "supplier_sku", "unit_cost", "currency"])
        for variant_id, supplier_name, cost in rows:
            writer.writerow([variant_id, supplier_name, f"SUP-{variant_id}", cost, "USD"])
        report = mapping.import_csv(self.db, self.shop, out.getvalue().encode(), filename="map.csv")
        assert report.rejected == 0, report.problems
        self.db.commit()

    # -- the order's life --------------------------------------------------------------------
    def order(self, *, placed_at: datetime, country: str = "US", product: int = 1, price: str = "40.00",
              title: str | None = None) -> Order:
        payload = order_payload(country=country)
        payload["created_at"] = placed_at.isoformat()
        payload["updated_at"] = (placed_at + timedelta(minutes=1)).isoformat()
        payload["total_price"] = price
        payload["shipping_address"] = {**payload["shipping_address"], **ADDRESSES[country]}
        payload["line_items"] = [{
            "id": payload["id"] * 10, "product_id": 7000 + product, "variant_id": 8000 + product,
            "sku": f"SKU-{product}", "title": title or f"Product {product}", "variant_title": "Default",
            "quantity": 1, "price": price,
        }]
        order, _ = apply_snapshot(self.db, self.shop, "orders/paid", payload)
        suppliers.plan_for_order(self.db, order)
        hold_outbox(self.db)
        self.db.commit()
        self.order_ids.append(order.id)
        return order

    def supplier_order(self, order: Order) -> SupplierOrder:
        with get_sessionmaker()() as session:
            return session.scalars(select(SupplierOrder).where(SupplierOrder.order_id == order.id)
                                   .order_by(SupplierOrder.id)).first()

    def place(self, order: Order, at: datetime) -> SupplierOrder:
        so = self.supplier_order(order)
        assert suppliers.place(so.id, transport=TimedSupplier(at).transport()) == "placed"
        return self.supplier_order(order)

    def _callback(self, so: SupplierOrder, kind: str, at: datetime, **order: Any) -> None:
        payload = {"event_id": str(uuid.uuid4()), "type": kind, "occurred_at": at.isoformat(),
                   "order": {"id": so.external_id or "SUP-1", "reference": so.idempotency_key,
                             "status": kind.split(".")[1], **order}}
        body, headers = signed_callback(payload)
        response = self.client.post("/webhooks/suppliers/generic", content=body, headers=headers)
        assert response.status_code == 200, response.text
        assert process_callback.run(response.json()["delivery_id"]) in ("processed", "skipped")

    def confirm(self, order: Order, at: datetime) -> None:
        self._callback(self.supplier_order(order), "order.confirmed", at)

    def ship(self, order: Order, at: datetime, carrier: str = "China Post") -> str:
        number = fresh_number()
        self._callback(self.supplier_order(order), "order.shipped", at, tracking_number=number, carrier=carrier,
                       shipped_at=at.isoformat())
        return number

    def scans(self, number: str, steps: list[tuple[str, datetime]]) -> None:
        body, headers = seventeentrack_webhook(number, [(name, at.replace(microsecond=0)) for name, at in steps])
        response = self.client.post("/webhooks/carriers/17track", content=body, headers=headers)
        assert response.status_code == 200, response.text
        process_carrier_delivery.run(response.json()["delivery_id"])

    def dispute(self, order: Order, *, reason: str, amount: str, at: datetime) -> None:
        payload = {"id": uuid.uuid4().int % 10**12, "order_id": order.external_id, "status": "needs_response",
                   "type": "chargeback", "reason": reason, "amount": amount, "currency": order.currency,
                   "initiated_at": at.isoformat()}
        delivery_id = record_held(self.shop.domain, "disputes/create", payload)
        assert process_store_delivery.run(delivery_id) == "processed"

    def claim(self, order: Order, reason: str, *, accept: str | None = None, deny: bool = False,
              message: str = "It is not right") -> Resolution:
        with get_sessionmaker()() as session:
            shop = session.get(Shop, self.shop.id)
            live = session.get(Order, order.id)
            # A photo, as the policy asks for problems with the item itself.
            resolution = resolutions.report(session, shop, live, reason=reason, message=message,
                                            photos=[STORED_PHOTO], photo_names=["photo.png"], locale="en",
                                            ip="203.0.113.7", user_agent="test")
            if accept:
                resolutions.accept(session, shop, live, resolution, remedy=accept, ip=None, user_agent=None)
            if deny:
                if resolution.status == "offered":
                    resolutions.ask_shop(session, shop, live, resolution)
                resolutions.decide(session, shop, resolution, approve=False, remedy=None, note="No")
            hold_outbox(session)
            session.commit()
            return resolution

    # -- the analytics queue, in-process -----------------------------------------------------
    def refresh(self, order_ids: list[int] | None = None) -> None:
        for order_id in order_ids or self.order_ids:
            with get_sessionmaker()() as session:
                aggregates.refresh_order(session, order_id)
                session.commit()


def pending_refreshes(order_id: int) -> int:
    with get_sessionmaker()() as session:
        return session.scalar(text(
            "SELECT count(*) FROM insights_pending_refreshes WHERE order_id = :i"
        ), {"i": order_id})


def money(value: str) -> int:
    return int(Decimal(value) * 100)
