"""The store's Admin GraphQL API (protocols B), with errors sorted into retry-later and refused."""

from __future__ import annotations

import time
from typing import Any

import httpx

from app.config import get_settings
from app.metrics import EXTERNAL_CALLS
from app.suppliers.client import Call

TIMEOUT_SECONDS = 10.0

ORDER_QUERY = """
query($id: ID!) {
  order(id: $id) {
    id
    name
    fulfillmentOrders(first: 10) {
      nodes { id status lineItems(first: 50) { nodes { id remainingQuantity totalQuantity } } }
    }
    fulfillments(first: 20) { id status trackingInfo { company number url } }
  }
}
"""

FULFILLMENT_CREATE = """
mutation($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status trackingInfo { company number url } }
    userErrors { field message }
  }
}
"""


class StoreError(Exception):
    """The store refused the request (bad token, unknown order, invalid query)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StoreTemporaryError(StoreError):
    """Timeout, transport error, 5xx, 429 or THROTTLED: the same request may work later."""


class StoreClient:
    def __init__(self, *, shop_domain: str, access_token: str, transport: httpx.BaseTransport | None = None):
        settings = get_settings()
        self.path = f"/admin/api/{settings.shopify_api_version}/graphql.json"
        self.calls: list[Call] = []
        self._http = httpx.Client(
            base_url=settings.admin_base(shop_domain),
            headers={"X-Shopify-Access-Token": access_token, "Content-Type": "application/json"},
            timeout=httpx.Timeout(TIMEOUT_SECONDS, connect=5.0),
            transport=transport,
        )

    def __enter__(self) -> StoreClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        call = Call(method="POST", path=self.path, status=None, duration_ms=0)
        self.calls.append(call)
        started = time.monotonic()
        try:
            response = self._http.post(self.path, json={"query": query, "variables": variables})
            call.status = response.status_code
        except httpx.TransportError as error:
            call.error = f"{'timeout' if isinstance(error, httpx.TimeoutException) else 'transport'}: {type(error).__name__}"
            raise StoreTemporaryError(f"store call failed: {call.error}") from None
        finally:
            call.duration_ms = round((time.monotonic() - started) * 1000)
            EXTERNAL_CALLS.labels("store", f"{call.status // 100}xx" if call.status else "error").inc()
        if response.status_code == 429 or response.status_code >= 500:
            call.error = f"HTTP {response.status_code}"
            raise StoreTemporaryError(f"store answered HTTP {response.status_code}")
        if response.status_code >= 400:
            call.error = f"HTTP {response.status_code}"
            raise StoreError(f"store refused the call: HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            call.error = "unreadable answer"
            raise StoreTemporaryError("store answered with an unreadable body") from None
        errors = answer.get("errors") if isinstance(answer, dict) else None
        if errors:
            codes = {str((e.get("extensions") or {}).get("code")) for e in errors if isinstance(e, dict)}
            message = "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict))[:500]
            call.error = message or "GraphQL errors"
            if "THROTTLED" in codes:
                raise StoreTemporaryError(f"store throttled the call: {message}")
            raise StoreError(f"store GraphQL errors: {message}")
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, dict):
            call.error = "no data"
            raise StoreTemporaryError("store answered without data")
        return data
