"""Who a privacy request is about: the customer rows, their orders and the strings that name them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from app.orders.models import Customer, DeliveryAddress, Order
from app.shops.models import Shop
from app.webhooks.models import WebhookDelivery

# Strings at least this long are distinctive enough to look for in free text across the shop's
# rows; shorter ones (a first name, a city) are only removed where they are known to be this
# customer's (their rows, their webhook payloads), so that another customer's "Paris" survives.
IDENTIFYING_MIN_LENGTH = 5


@dataclass
class Subject:
    customers: list[Customer] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    # Every personal string known for this customer (names, e-mail, phone, address lines, city…).
    strings: set[str] = field(default_factory=set)
    # The distinctive ones: e-mail addresses, phone numbers, full names, street lines.
    identifying: set[str] = field(default_factory=set)

    @property
    def customer_ids(self) -> list[int]:
        return [c.id for c in self.customers]

    @property
    def order_ids(self) -> list[int]:
        return [o.id for o in self.orders]

    @property
    def order_external_ids(self) -> list[int]:
        return [o.external_id for o in self.orders]

    @property
    def customer_external_ids(self) -> list[str]:
        return [c.external_id for c in self.customers]

    def pattern(self) -> str | None:
        """A PostgreSQL regular expression matching any identifying string (case-insensitive)."""
        return _alternation(self.identifying)

    def json_pattern(self) -> str | None:
        """The same, as the strings appear inside a jsonb value's text form (JSON-escaped)."""
        return _alternation({json.dumps(s, ensure_ascii=False)[1:-1] for s in self.identifying})


def _alternation(strings: set[str]) -> str | None:
    if not strings:
        return None
    # Longest first, so that "Ada Lovelace" is replaced whole rather than after "Ada".
    return "|".join(re.escape(s) for s in sorted(strings, key=lambda s: (-len(s), s)))


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text_value = str(value).strip()
    return text_value or None


def _add(subject: Subject, *values: Any, identifying: bool = False) -> None:
    for value in values:
        cleaned = _clean(value)
        if cleaned is None:
            continue
        subject.strings.add(cleaned)
        if identifying and len(cleaned) >= IDENTIFYING_MIN_LENGTH:
            subject.identifying.add(cleaned)


def _order_ids_from(payload: dict[str, Any], key: str) -> list[int]:
    values = payload.get(key) or []
    if not isinstance(values, list):
        return []
    return [int(v) for v in values if isinstance(v, int) or (isinstance(v, str) and v.isdigit())][:10_000]


def find(session: Session, shop: Shop, payload: dict[str, Any]) -> Subject:
    """The customer named by a customers/data_request or customers/redact payload, and their orders."""
    raw = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    external_id = _clean(raw.get("id"))
    email = _clean(raw.get("email"))
    phone = _clean(raw.get("phone"))
    conditions = []
    if external_id:
        conditions.append(Customer.external_id == external_id[:64])
    if email:
        conditions.append(func.lower(Customer.email) == email.lower())
    subject = Subject()
    if conditions:
        subject.customers = list(
            session.scalars(
                select(Customer).where(Customer.shop_id == shop.id, or_(*conditions)).order_by(Customer.id)
            )
        )
    order_externals = _order_ids_from(payload, "orders_to_redact") + _order_ids_from(
        payload, "orders_requested"
    )
    order_conditions = []
    if subject.customers:
        order_conditions.append(Order.customer_id.in_(subject.customer_ids))
    if order_externals:
        order_conditions.append(Order.external_id.in_(order_externals))
    if order_conditions:
        subject.orders = list(
            session.scalars(
                select(Order).where(Order.shop_id == shop.id, or_(*order_conditions)).order_by(Order.id)
            )
        )
    _add(subject, email, phone, identifying=True)
    for customer in subject.customers:
        _add(subject, customer.email, customer.phone, identifying=True)
        full = " ".join(filter(None, [_clean(customer.first_name), _clean(customer.last_name)]))
        _add(subject, full, identifying=True)
        _add(subject, customer.first_name, customer.last_name)
    if subject.orders:
        for address in session.scalars(
            select(DeliveryAddress).where(
                DeliveryAddress.shop_id == shop.id, DeliveryAddress.order_id.in_(subject.order_ids)
            )
        ):
            _add(subject, address.name, address.phone, address.address1, address.address2, identifying=True)
            _add(subject, address.company, address.city, address.zip)
            if address.name:
                _add(subject, *address.name.split())
    return subject


def deliveries(
    session: Session, shop: Shop, subject: Subject, *, extra_ids: list[int] | None = None
) -> list[int]:
    """The store's webhook deliveries that name this customer: their orders, their id, their strings."""
    payload_text = cast(WebhookDelivery.payload, String)
    conditions = []
    if subject.order_external_ids:
        order_ids = [str(i) for i in subject.order_external_ids]
        conditions.append(
            WebhookDelivery.payload["id"].astext.in_(order_ids) & WebhookDelivery.topic.like("orders/%")
        )
        conditions.append(WebhookDelivery.payload["order_id"].astext.in_(order_ids))
    if subject.customer_external_ids:
        conditions.append(WebhookDelivery.payload["customer"]["id"].astext.in_(subject.customer_external_ids))
    pattern = subject.json_pattern()
    if pattern:
        conditions.append(payload_text.op("~*")(pattern))
    if extra_ids:
        conditions.append(WebhookDelivery.id.in_(extra_ids))
    if not conditions:
        return []
    return list(
        session.scalars(
            select(WebhookDelivery.id)
            .where(
                or_(WebhookDelivery.shop_id == shop.id, WebhookDelivery.shop_domain == shop.domain),
                WebhookDelivery.source == "shopify",
                or_(*conditions),
            )
            .order_by(WebhookDelivery.id)
        )
    )
