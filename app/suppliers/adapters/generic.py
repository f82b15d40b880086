"""The sandbox's generic signed JSON protocol (protocols.md A) behind the adapter interface."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from app.config import get_settings
from app.suppliers import signing
from app.suppliers.adapters.base import OrderRequest, WebhookUpdate
from app.suppliers.client import GenericSupplierClient
from app.suppliers.client import SupplierRejected as GenericRejected
from app.suppliers.client import SupplierTemporaryError as GenericTemporary
from app.suppliers.protocols import (
    OrderSnapshot,
    Parcel,
    PlacedOrder,
    StockLevel,
    SupplierError,
    SupplierInvalidAddress,
    SupplierOrderState,
    SupplierOutOfStock,
    SupplierRejected,
    SupplierTransientError,
)

S = SupplierOrderState
STATES = {"received": S.RECEIVED, "confirmed": S.CONFIRMED, "shipped": S.SHIPPED, "cancelled": S.CANCELLED}


def snapshot(order: Mapping[str, Any]) -> OrderSnapshot:
    status = str(order.get("status") or "")
    parcels = ()
    if order.get("tracking_number"):
        parcels = (Parcel(tracking_number=str(order["tracking_number"]), carrier=order.get("carrier"),
                          tracking_url=order.get("tracking_url")),)
    return OrderSnapshot(external_id=str(order.get("id") or ""), raw_status=status,
                         state=STATES.get(status, S.ISSUE), reference=order.get("reference"),
                         parcels=parcels, raw=dict(order))


def _translate(error: Exception) -> SupplierError:
    if isinstance(error, GenericTemporary):
        return SupplierTransientError(error.message)
    if isinstance(error, GenericRejected):
        kind = SupplierOutOfStock if error.code == "out_of_stock" else (
            SupplierInvalidAddress if "address" in error.message.lower() or "ship_to" in error.message else SupplierRejected)
        return kind(error.message, code=error.code, http_status=error.status)
    raise error


class GenericAdapter:
    protocol = "generic"
    finds_by_reference = True
    dedupes_reference = False
    # Answers get_stock, so the inventory poll asks it (app/inventory/polling.py).
    polls_stock = False
    has_order_webhooks = True

    def __init__(self, client: GenericSupplierClient, *, webhook_secret: str) -> None:
        self._client, self._webhook_secret = client, webhook_secret
        self.calls = client.calls

    def __enter__(self) -> GenericAdapter:
        return self

    def __exit__(self, *_: object) -> None:
        self._client.__exit__()

    def _do(self, action: Callable[..., Any], *args: Any) -> Any:
        try:
            return action(*args)
        except (GenericTemporary, GenericRejected) as error:
            raise _translate(error) from None

    def place_order(self, request: OrderRequest) -> PlacedOrder:
        a = request.address
        body = {
            "reference": request.reference,
            "shop": request.shop_domain,
            "lines": [{"sku": line.supplier_sku, "title": line.title, "quantity": line.quantity}
                      for line in request.lines],
            "ship_to": {"name": a.name, "address1": a.address1, "address2": a.address2, "city": a.city,
                        "province_code": a.province_code, "zip": a.zip, "country_code": a.country_code,
                        "phone": a.phone},
            "callback_url": request.callback_url,
        }
        order = self._do(self._client.create_order, body)
        found = snapshot(order)
        return PlacedOrder(reference=request.reference, external_ids=(found.external_id,),
                           raw_status=found.raw_status, state=found.state, raw=order)

    def find_order_by_reference(self, reference: str) -> list[OrderSnapshot]:
        orders = self._do(self._client.find_orders, reference)
        # A cancelled duplicate must never hide the live one.
        return sorted((snapshot(o) for o in orders), key=lambda s: s.state == S.CANCELLED)

    def get_order(self, external_id: str) -> OrderSnapshot | None:
        try:
            return snapshot(self._client.get_order(external_id))
        except GenericRejected as error:
            if error.status == 404:
                return None
            raise _translate(error) from None
        except GenericTemporary as error:
            raise _translate(error) from None

    def cancel_order(self, external_id: str) -> None:
        self._do(self._client.cancel_order, external_id)

    def get_tracking(self, external_id: str) -> list[Parcel]:
        order = self.get_order(external_id)
        return list(order.parcels) if order else []

    def get_stock(self, supplier_sku: str, *, ship_to_country: str = "US") -> list[StockLevel]:
        raise SupplierRejected("the generic protocol has no stock query", code="stock_unsupported")

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        return signing.verify(body, headers.get("x-timestamp"), headers.get("x-signature"), self._webhook_secret)

    def parse_webhook(self, body: bytes) -> WebhookUpdate:
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, ValueError) as error:
            raise ValueError(f"body is not JSON: {error}") from None
        order = payload.get("order") if isinstance(payload, dict) else None
        if not isinstance(order, dict) or not payload.get("event_id") or not payload.get("type"):
            raise ValueError("a generic callback needs event_id, type and an order object")
        found = snapshot(order)
        return WebhookUpdate(event_id=str(payload["event_id"]), topic=str(payload["type"]),
                             reference=found.reference, external_id=found.external_id or None,
                             state=found.state.value, raw_status=found.raw_status,
                             parcel=found.parcels[0] if found.parcels else None, payload=payload)


def build(own: Mapping[str, Any], secrets: Mapping[str, str], *, timeout: float,
          transport: httpx.BaseTransport | None) -> GenericAdapter:
    """`own` is Supplier.settings; `secrets` its decrypted credentials (api_secret), if any."""
    settings = get_settings()
    key = own.get("api_key") or settings.supplier_api_key
    api_secret = secrets.get("api_secret") or settings.supplier_api_secret
    client = GenericSupplierClient(base_url=own.get("base_url") or settings.supplier_api_url,
                                   api_key=key, api_secret=api_secret, timeout=timeout, transport=transport)
    return GenericAdapter(client, webhook_secret=api_secret)
