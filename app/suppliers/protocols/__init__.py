"""Real supplier protocols (AliExpress DS, CJdropshipping): shared value types, states and errors.

The modules in this package are pure protocol code: they sign, build and parse requests and talk
HTTP through an httpx client handed to them. They never touch the database, Redis or settings;
credentials, base URLs and token storage come from their callers, so the sandbox and production
differ only in configuration.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import httpx
import phonenumbers
import pycountry


class SupplierOrderState(StrEnum):
    """Where a supplier order stands, in our words; each protocol maps its own statuses onto it."""

    RECEIVED = "received"  # the supplier has it, not yet paid / past its risk checks
    CONFIRMED = "confirmed"  # paid and accepted, waiting to ship
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    ISSUE = "issue"  # needs a person: dispute, frozen, cancel requested, unknown status


# ---- value types ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    """A normalised delivery address (the shape of orders.DeliveryAddress plus derived names)."""

    name: str
    address1: str
    city: str
    country_code: str
    address2: str | None = None
    company: str | None = None
    province: str | None = None
    province_code: str | None = None
    zip: str | None = None
    phone: str | None = None
    email: str | None = None

    @classmethod
    def from_record(cls, record: Any, *, email: str | None = None) -> Address:
        """Build from any object with DeliveryAddress's attributes (duck-typed: no model import)."""
        country = (getattr(record, "country_code", None) or "").upper()
        province_code = getattr(record, "province_code", None) or None
        return cls(
            name=getattr(record, "name", None) or "",
            company=getattr(record, "company", None),
            address1=getattr(record, "address1", None) or "",
            address2=getattr(record, "address2", None),
            city=getattr(record, "city", None) or "",
            province=province_name(country, province_code),
            province_code=province_code,
            zip=getattr(record, "zip", None),
            country_code=country,
            phone=getattr(record, "phone", None),
            email=email,
        )

    @property
    def country_name(self) -> str:
        country = pycountry.countries.get(alpha_2=self.country_code) if self.country_code else None
        return country.name if country else self.country_code

    def phone_parts(self) -> tuple[str, str]:
        """(calling code such as "+1", national number); ("", digits) when it cannot be parsed."""
        if not self.phone:
            return "", ""
        try:
            parsed = phonenumbers.parse(self.phone, self.country_code or None)
        except phonenumbers.NumberParseException:
            return "", "".join(ch for ch in self.phone if ch.isdigit())
        return f"+{parsed.country_code}", str(parsed.national_number)


def province_name(country_code: str, province_code: str | None) -> str | None:
    """Suppliers want the province's name ("New Jersey"); stores send its code ("NJ")."""
    if not province_code:
        return None
    subdivision = pycountry.subdivisions.get(code=f"{country_code}-{province_code}".upper())
    return subdivision.name if subdivision else province_code


@dataclass(frozen=True)
class LineItem:
    """One product line to order: the supplier's product/variant id, never our SKU."""

    supplier_sku: str  # AliExpress product_id, CJ vid
    quantity: int
    variant: str | None = None  # AliExpress sku_attr; unused by CJ (the vid is the variant)
    memo: str | None = None


@dataclass(frozen=True)
class TrackingEvent:
    occurred_at: datetime | None
    description: str
    location: str | None = None
    raw_status: str | None = None


@dataclass(frozen=True)
class Parcel:
    tracking_number: str
    carrier: str | None = None
    tracking_url: str | None = None
    # The normalised shipment status (facts 2.4: pending, in_transit, out_for_delivery, ...), if known.
    shipment_status: str | None = None
    events: tuple[TrackingEvent, ...] = ()


@dataclass(frozen=True)
class PlacedOrder:
    reference: str  # our idempotency key, as sent
    external_ids: tuple[str, ...]  # one storefront order may split into several supplier orders
    raw_status: str | None
    state: SupplierOrderState
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class OrderSnapshot:
    external_id: str
    raw_status: str
    state: SupplierOrderState
    reference: str | None = None
    parcels: tuple[Parcel, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class StockLevel:
    supplier_sku: str
    available: int
    variant: str | None = None
    price: Decimal | None = None
    currency: str | None = None


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str | None
    access_expires_at: datetime | None
    refresh_expires_at: datetime | None
    account_id: str | None = None  # CJ openId (also the webhook signing key); AliExpress user id


# ---- typed errors --------------------------------------------------------------------------------


class SupplierError(Exception):
    """A supplier call failed. `code` is the supplier's own raw error code, kept verbatim."""

    kind = "rejected"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        raw: Any = None,
        sent: bool = True,
    ) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.raw = raw
        # False only when the request certainly never reached the supplier (connect failure), so
        # a create may be re-sent without asking first; True means "ask before retrying".
        self.sent = sent


class SupplierRejected(SupplierError):
    """A permanent business refusal that fits no narrower class."""


class SupplierAuthError(SupplierError):
    kind = "auth"


class SupplierRateLimited(SupplierError):
    kind = "rate_limited"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class SupplierOutOfStock(SupplierError):
    kind = "out_of_stock"


class SupplierInvalidAddress(SupplierError):
    kind = "invalid_address"


class SupplierNotFound(SupplierError):
    kind = "not_found"


class SupplierDuplicateOrder(SupplierError):
    """The supplier already holds an order with our reference: look it up, do not re-send."""

    kind = "duplicate"


class SupplierTransientError(SupplierError):
    """5xx, timeouts, broken connections, unreadable answers: try again later (asking first)."""

    kind = "transient"
    retryable = True


# ---- HTTP plumbing shared by the clients -----------------------------------------------------------


def send(http: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One HTTP exchange with transport failures and 5xx turned into SupplierTransientError."""
    try:
        response = http.request(method, url, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
        raise SupplierTransientError(f"cannot connect: {error}", sent=False) from error
    except httpx.TransportError as error:  # read/write timeouts, dropped connections
        raise SupplierTransientError(f"no answer: {error!r}") from error
    if response.status_code >= 500:
        raise SupplierTransientError(
            f"HTTP {response.status_code}", http_status=response.status_code, raw=response.text[:500]
        )
    return response


def read_json(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SupplierTransientError(
            f"answer is not JSON (HTTP {response.status_code})",
            http_status=response.status_code,
            raw=response.text[:500],
        ) from error
    if not isinstance(payload, dict):
        raise SupplierTransientError("answer is not a JSON object", http_status=response.status_code)
    return payload


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value else None
    except ValueError:
        return None
