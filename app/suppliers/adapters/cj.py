"""CJdropshipping API v2 behind the adapter interface.

CJ refuses a second order with our orderNumber and reads orders back by it, so a lost create is
found with find_order_by_reference before anything is re-sent. The access token is shared by
every worker through Redis (getAccessToken allows one call per 5 minutes), encrypted at rest.
Orders are paid from the CJ balance in the create (payType=2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from app.config import get_settings
from app.external_calls import Call
from app.suppliers.adapters.base import OrderRequest, WebhookUpdate
from app.suppliers.adapters.recording import http_client
from app.suppliers.adapters.tokens import RedisTokenStore
from app.suppliers.protocols import (
    LineItem,
    OrderSnapshot,
    Parcel,
    PlacedOrder,
    StockLevel,
)
from app.suppliers.protocols.cj import API_BASE, CJClient
from app.suppliers.protocols.cj_webhooks import SIGN_HEADER, parse_webhook, verify_webhook

DEFAULT_LOGISTIC = "CJPacket Ordinary"


def to_update(body: bytes | Mapping[str, Any]) -> WebhookUpdate:
    message = parse_webhook(body)
    if message.order is not None:
        order = message.order
        return WebhookUpdate(event_id=message.message_id, topic=message.type, reference=order.order_number,
                             external_id=order.cj_order_id or None, state=order.state.value,
                             raw_status=order.raw_status, parcel=order.parcel, payload=message.params)
    if message.logistic is not None:
        logistic = message.logistic
        return WebhookUpdate(
            event_id=message.message_id, topic=message.type,
            reference=logistic.order_numbers[0] if logistic.order_numbers else None,
            external_id=logistic.cj_order_id or None, state=logistic.state.value if logistic.state else None,
            raw_status=str(logistic.tracking_status) if logistic.tracking_status is not None else None,
            parcel=logistic.parcel, payload=message.params)
    return WebhookUpdate(event_id=message.message_id, topic=message.type, reference=None, external_id=None,
                         state=None, payload=message.params)


class CJAdapter:
    protocol = "cj"
    finds_by_reference = True
    dedupes_reference = True
    # Answers get_stock, so the inventory poll asks it (app/inventory/polling.py).
    polls_stock = True
    has_order_webhooks = True

    def __init__(self, client: CJClient, calls: list[Call], *, open_id: str | None, logistic: str,
                 from_country: str, pay_from_balance: bool) -> None:
        self._client, self.calls, self._open_id = client, calls, open_id
        self._logistic, self._from, self._pay = logistic, from_country, pay_from_balance

    def __enter__(self) -> CJAdapter:
        return self

    def __exit__(self, *_: object) -> None:
        self._client._http.close()

    def place_order(self, request: OrderRequest) -> PlacedOrder:
        lines = [LineItem(supplier_sku=line.supplier_sku, quantity=line.quantity) for line in request.lines]
        return self._client.create_order(order_number=request.reference, address=request.address, lines=lines,
                                         logistic_name=request.shipping_method or self._logistic,
                                         from_country_code=self._from, pay_type=2 if self._pay else None)

    def find_order_by_reference(self, reference: str) -> list[OrderSnapshot]:
        found = self._client.find_order(reference)
        return [found] if found else []

    def get_order(self, external_id: str) -> OrderSnapshot | None:
        return self._client.get_order(external_id)

    def cancel_order(self, external_id: str) -> None:
        self._client.cancel_order(external_id)

    def get_tracking(self, external_id: str) -> list[Parcel]:
        order = self._client.get_order(external_id)
        parcels = []
        for parcel in order.parcels if order else ():
            parcels.append(self._client.get_tracking(parcel.tracking_number) or parcel)
        return parcels

    def get_stock(self, supplier_sku: str, *, ship_to_country: str = "US") -> list[StockLevel]:
        return [self._client.get_stock(supplier_sku)]

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        if not self._open_id:
            return "no CJ openId configured for this account"
        if not verify_webhook(body, headers.get(SIGN_HEADER), self._open_id):
            return "missing sign header" if not headers.get(SIGN_HEADER) else "signature does not match"
        return None

    def parse_webhook(self, body: bytes) -> WebhookUpdate:
        return to_update(body)


def base_url(own: Mapping[str, Any]) -> str:
    settings = get_settings()
    if own.get("base_url") or settings.cj_api_url:
        return own.get("base_url") or settings.cj_api_url
    return settings.sandbox_base + "/cj" if settings.sandbox else API_BASE


def build(own: Mapping[str, Any], secrets: Mapping[str, str], *, timeout: float,
          transport: httpx.BaseTransport | None) -> CJAdapter:
    """`own` is Supplier.settings; `secrets` its decrypted api_key."""
    settings = get_settings()
    api_key = secrets.get("api_key") or settings.cj_api_key
    calls: list[Call] = []
    client = CJClient(api_key, token_store=RedisTokenStore("cj", api_key), base_url=base_url(own),
                      http=http_client(calls, timeout, transport))
    open_id = own.get("open_id") or (settings.cj_open_id if not secrets.get("api_key") else None)
    return CJAdapter(client, calls, open_id=str(open_id) if open_id else None,
                     logistic=str(own.get("logistic_name") or DEFAULT_LOGISTIC),
                     from_country=str(own.get("from_country_code") or "CN"),
                     pay_from_balance=bool(own.get("pay_from_balance", True)))
