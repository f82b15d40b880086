"""One interface for every supplier protocol: what the ordering, polling and sync code calls.

Adapters wrap the protocol clients (app/suppliers/client.py for "generic",
app/suppliers/protocols/{aliexpress,cj}.py) and speak only in the shared value types of
app.suppliers.protocols (PlacedOrder, OrderSnapshot, Parcel, StockLevel) and its typed errors
(SupplierError and subclasses; `error.sent` says whether the request may have been applied).
They never touch the database: every outside call is kept in `adapter.calls` so the caller can
write it to the ledger together with what it meant.

The capability flags drive the exactly-once design of the caller:
- `finds_by_reference`: find_order_by_reference works (generic, CJ). AliExpress has no lookup
  by out_order_id: a create whose answer was lost is reconciled, never blindly re-sent.
- `dedupes_reference`: the supplier itself refuses a second order with our reference (CJ).
- `has_order_webhooks`: status arrives by webhook (generic, CJ); otherwise poll (AliExpress).
Payment happens inside place_order where the protocol asks for it: CJ payType=2 (pay from the
account balance: cart, confirm and payment in one call), AliExpress try_to_pay; generic needs none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from app.external_calls import Call
from app.suppliers.protocols import Address, OrderSnapshot, Parcel, PlacedOrder, StockLevel

__all__ = [
    "Address",
    "Call",
    "OrderLineRequest",
    "OrderRequest",
    "OrderSnapshot",
    "Parcel",
    "PlacedOrder",
    "StockLevel",
    "SupplierAdapter",
    "WebhookUpdate",
]


@dataclass(frozen=True)
class OrderLineRequest:
    supplier_sku: str  # generic: the SKU; AliExpress: product_id; CJ: vid
    quantity: int
    title: str = ""
    variant: str | None = None  # AliExpress sku_attr
    unit_cost: Decimal | None = None
    currency: str | None = None


@dataclass(frozen=True)
class OrderRequest:
    reference: str  # our idempotency key, the same on every attempt
    shop_domain: str
    address: Address  # already normalised (app.suppliers.address)
    lines: tuple[OrderLineRequest, ...]
    shipping_method: str | None = None  # AliExpress logistics_service_name, CJ logisticName
    callback_url: str | None = None  # generic only; CJ registers its callback per account
    currency: str | None = None


@dataclass(frozen=True)
class WebhookUpdate:
    """One supplier message, protocol-neutral: what happened to which of our supplier orders."""

    event_id: str  # dedupe key (CJ messageId, generic event_id)
    topic: str  # e.g. "ORDER", "LOGISTIC", "order.shipped"
    reference: str | None  # our idempotency key when the supplier echoes it
    external_id: str | None
    state: str | None  # a SupplierOrderState value, or None when the message says nothing about it
    raw_status: str | None = None
    parcel: Parcel | None = None
    payload: Mapping[str, Any] = field(default_factory=dict, repr=False)


@runtime_checkable
class SupplierAdapter(Protocol):
    protocol: str
    finds_by_reference: bool
    dedupes_reference: bool
    has_order_webhooks: bool
    calls: list[Call]

    def __enter__(self) -> SupplierAdapter: ...

    def __exit__(self, *exc: object) -> None: ...

    def place_order(self, request: OrderRequest) -> PlacedOrder:
        """Create the order once. Raises SupplierOutOfStock / SupplierInvalidAddress /
        SupplierRejected (refused, do not resend), SupplierDuplicateOrder (look it up),
        SupplierTransientError / SupplierRateLimited (ask first when `error.sent`)."""
        ...

    def find_order_by_reference(self, reference: str) -> list[OrderSnapshot]:
        """Orders the supplier holds under our reference; [] when none. Raises
        SupplierRejected(code="lookup_unsupported") when `finds_by_reference` is False."""
        ...

    def get_order(self, external_id: str) -> OrderSnapshot | None: ...

    def cancel_order(self, external_id: str) -> None: ...

    def get_tracking(self, external_id: str) -> list[Parcel]: ...

    def get_stock(self, supplier_sku: str, *, ship_to_country: str = "US") -> list[StockLevel]: ...

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> str | None:
        """None when authentic, else the reason (answer 401, store nothing)."""
        ...

    def parse_webhook(self, body: bytes) -> WebhookUpdate:
        """Raises ValueError for a body that is not a message of this protocol (answer 400)."""
        ...
