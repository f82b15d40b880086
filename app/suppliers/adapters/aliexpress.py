"""AliExpress DS behind the adapter interface.

AliExpress has no order webhook (status and tracking are polled: suppliers.poll_order) and no
lookup by out_order_id, so `finds_by_reference` is False: the ordering service never re-sends a
create whose answer may have been lost; it parks it for reconciliation (app.suppliers.ordering).
Payment happens in the create (ds_extend_request.payment.try_to_pay).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

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
    SupplierAuthError,
    SupplierNotFound,
    SupplierRejected,
)
from app.suppliers.protocols.aliexpress import GATEWAY, AliExpressClient

T = TypeVar("T")


class AliExpressAdapter:
    protocol = "aliexpress"
    finds_by_reference = False
    dedupes_reference = False
    # Answers get_stock, so the inventory poll asks it (app/inventory/polling.py).
    polls_stock = True
    has_order_webhooks = False

    def __init__(self, client: AliExpressClient, calls: list[Call], *, try_to_pay: bool, pay_currency: str,
                 tokens: RedisTokenStore | None = None, refresh_token: str | None = None) -> None:
        self._client, self.calls = client, calls
        self._try_to_pay, self._pay_currency = try_to_pay, pay_currency
        self._tokens, self._refresh_token = tokens, refresh_token
        stored = tokens.load() if tokens else None
        if stored is not None:  # a renewal by any worker wins over the configured token
            client.access_token, self._refresh_token = stored.access_token, stored.refresh_token

    def _authorised(self, action: Callable[[], T]) -> T:
        """Run a call; when the gateway says the access token is no longer valid, renew it once
        with the refresh token and run it again. The gateway refused before doing any work, so
        this is safe even for a create."""
        try:
            return action()
        except SupplierAuthError as error:
            if error.code != "IllegalAccessToken" or not self._refresh_token or self._tokens is None:
                raise
        grant = self._client.refresh_token(self._refresh_token)
        self._tokens.save(grant)
        self._refresh_token = grant.refresh_token
        return action()

    def __enter__(self) -> AliExpressAdapter:
        return self

    def __exit__(self, *_: object) -> None:
        self._client._http.close()

    def place_order(self, request: OrderRequest) -> PlacedOrder:
        lines = [LineItem(supplier_sku=line.supplier_sku, quantity=line.quantity, variant=line.variant,
                          memo=request.reference) for line in request.lines]
        return self._authorised(lambda: self._client.create_order(
            out_order_id=request.reference, address=request.address, lines=lines,
            logistics_service=request.shipping_method, pay_currency=self._pay_currency, try_to_pay=self._try_to_pay))

    def find_order_by_reference(self, reference: str) -> list[OrderSnapshot]:
        raise SupplierRejected("AliExpress offers no lookup by out_order_id", code="lookup_unsupported")

    def get_order(self, external_id: str) -> OrderSnapshot | None:
        try:
            return self._authorised(lambda: self._client.get_order(external_id))
        except SupplierNotFound:
            return None

    def cancel_order(self, external_id: str) -> None:
        # The DS API has no cancel call: the buyer cancels in the AliExpress account.
        raise SupplierRejected("AliExpress DS orders are cancelled from the AliExpress buyer account",
                               code="cancel_unsupported")

    def get_tracking(self, external_id: str) -> list[Parcel]:
        return self._authorised(lambda: self._client.get_tracking(external_id))

    def get_stock(self, supplier_sku: str, *, ship_to_country: str = "US") -> list[StockLevel]:
        return self._authorised(lambda: self._client.get_stock(supplier_sku, ship_to_country=ship_to_country))

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        return "AliExpress sends no order webhooks"

    def parse_webhook(self, body: bytes) -> WebhookUpdate:
        raise ValueError("AliExpress sends no order webhooks")


def base_url(own: Mapping[str, Any]) -> str:
    settings = get_settings()
    if own.get("base_url") or settings.aliexpress_api_url:
        return own.get("base_url") or settings.aliexpress_api_url
    return settings.sandbox_base + "/aliexpress" if settings.sandbox else GATEWAY


def build(own: Mapping[str, Any], secrets: Mapping[str, str], *, timeout: float,
          transport: httpx.BaseTransport | None) -> AliExpressAdapter:
    """`own` is Supplier.settings; `secrets` its decrypted app_secret / access_token / refresh_token."""
    settings = get_settings()
    calls: list[Call] = []
    app_key = own.get("app_key") or settings.aliexpress_app_key
    client = AliExpressClient(
        app_key,
        secrets.get("app_secret") or settings.aliexpress_app_secret,
        secrets.get("access_token") or settings.aliexpress_access_token,
        base_url=base_url(own),
        http=http_client(calls, timeout, transport),
    )
    return AliExpressAdapter(client, calls, try_to_pay=bool(own.get("try_to_pay", True)),
                             pay_currency=str(own.get("pay_currency") or "USD"),
                             tokens=RedisTokenStore("aliexpress", app_key),
                             refresh_token=secrets.get("refresh_token") or settings.aliexpress_refresh_token)
