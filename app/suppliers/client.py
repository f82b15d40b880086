"""Talking to suppliers: the generic signed JSON protocol (protocols A), one client per supplier.

Every call made is kept on the client (method, path, status, duration) so that the service can
write it to the ledger together with what it meant; nothing here touches the database.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx

from app import http_clients
from app.config import get_settings
from app.external_calls import Call
from app.metrics import EXTERNAL_CALLS
from app.suppliers.models import Supplier
from app.suppliers.signing import signed_headers

# Statuses after which the same request may succeed later; every other 4xx is a refusal.
_RETRYABLE_4XX = frozenset({408, 425, 429})


class SupplierError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SupplierTemporaryError(SupplierError):
    """Timeout, transport error, 5xx, 429: the request may or may not have been applied."""


class SupplierRejected(SupplierError):
    """The supplier refused the request (4xx); sending it again would be refused again."""

    def __init__(self, message: str, *, status: int, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class GenericSupplierClient:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        api_secret: str,
        timeout: float,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.api_key, self.api_secret = api_key, api_secret
        self.calls: list[Call] = []
        self._http = http_clients.client(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            follow_redirects=False,
        )

    def __enter__(self) -> GenericSupplierClient:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        raw = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        headers = signed_headers(raw, secret=self.api_secret, api_key=self.api_key)
        if body is not None:
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        call = Call(method=method, path=path, status=None, duration_ms=0)
        self.calls.append(call)
        try:
            response = self._http.request(method, path, content=raw or None, headers=headers)
            call.status = response.status_code
        except httpx.TimeoutException as error:
            call.error = f"timeout: {type(error).__name__}"
            raise SupplierTemporaryError(f"{method} {path}: {call.error}") from None
        except httpx.TransportError as error:
            call.error = f"transport: {type(error).__name__}: {error}"[:300]
            raise SupplierTemporaryError(f"{method} {path}: {call.error}") from None
        finally:
            call.duration_ms = round((time.monotonic() - started) * 1000)
            EXTERNAL_CALLS.labels("supplier", _outcome(call)).inc()
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code >= 500 or response.status_code in _RETRYABLE_4XX:
            call.error = _reason(answer) or response.reason_phrase
            raise SupplierTemporaryError(f"{method} {path}: HTTP {response.status_code} {call.error}")
        if response.status_code >= 400:
            code = answer.get("error") if isinstance(answer, dict) else None
            call.error = _reason(answer) or response.reason_phrase
            raise SupplierRejected(call.error, status=response.status_code, code=code)
        if not isinstance(answer, dict):
            # A 2xx we cannot read may still have been applied: treat it like a lost answer.
            call.error = "unreadable answer"
            raise SupplierTemporaryError(
                f"{method} {path}: HTTP {response.status_code} with an unreadable body"
            )
        return answer

    def create_order(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = self._request("POST", "/orders", body)
        if not answer.get("id"):
            raise SupplierTemporaryError("POST /orders answered without an order id")
        return answer

    def find_orders(self, reference: str) -> list[dict[str, Any]]:
        answer = self._request("GET", "/orders?" + urlencode({"reference": reference}))
        orders = answer.get("orders")
        if not isinstance(orders, list):
            raise SupplierTemporaryError("GET /orders answered without an orders list")
        return [order for order in orders if isinstance(order, dict) and order.get("reference") == reference]

    def get_order(self, external_id: str) -> dict[str, Any]:
        return self._request("GET", f"/orders/{external_id}")

    def cancel_order(self, external_id: str) -> dict[str, Any]:
        return self._request("POST", f"/orders/{external_id}/cancel", {})


def _reason(answer: Any) -> str | None:
    if not isinstance(answer, dict) or not answer.get("error"):
        return None
    reason = str(answer["error"])
    if answer.get("sku"):
        reason += f" (sku {answer['sku']})"
    return reason[:500]


def _outcome(call: Call) -> str:
    if call.status is None:
        return "timeout" if call.error and call.error.startswith("timeout") else "error"
    return f"{call.status // 100}xx"


def client_for(supplier: Supplier, *, transport: httpx.BaseTransport | None = None) -> GenericSupplierClient:
    """The client for a supplier's protocol. A supplier may shorten or lengthen its own timeout."""
    if supplier.protocol != "generic":
        raise SupplierRejected(f"unsupported supplier protocol {supplier.protocol!r}", status=400)
    settings = get_settings()
    timeout = float((supplier.settings or {}).get("timeout_seconds") or settings.supplier_timeout_seconds)
    return GenericSupplierClient(
        base_url=settings.supplier_api_url,
        api_key=settings.supplier_api_key,
        api_secret=settings.supplier_api_secret,
        timeout=timeout,
        transport=transport,
    )
