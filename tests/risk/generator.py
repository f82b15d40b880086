"""One shop's year of orders with outcomes drawn from a latent model, fed through the real signed
webhooks (the HTTP route verifies each one; the test then applies the inbox in-process).

The latent model (what the risk model has to find, none of it told to it):
- fraud rings: parcel-forwarder addresses, throwaway e-mails with digits, an IP and a billing
  country abroad; they end in chargebacks ("fraudulent") weeks later;
- destinations that lose parcels: refunds and "not received" disputes;
- products that come back "not as described": refunds;
- serial refunders: a few customers who are refunded on most of their orders;
- a small base rate of ordinary refunds, and noise (travellers ordering from abroad, gifts billed
  to another name) so that no signal is clean.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from ipaddress import ip_address
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from app.db import get_engine, get_sessionmaker, utcnow
from app.risk import ipcountry
from app.webhooks.models import WebhookDelivery
from app.webhooks.tasks import process_delivery
from tests.factories import signed_headers

COUNTRIES = ("US", "US", "US", "US", "US", "GB", "GB", "FR", "DE", "CA", "AU", "ES", "IT", "BR", "MX", "IN")
LOSSY = ("BR", "MX", "IN")
FRAUD_IP_COUNTRIES = ("NG", "RU", "VN", "ID")
FIRST = ("Ada", "Alan", "Grace", "Linus", "Marie", "Nina", "Omar", "Priya", "Sofia", "Yuki", "Lea", "Hugo")
LAST = ("Lovelace", "Turing", "Hopper", "Curie", "Khan", "Rossi", "Martin", "Dubois", "Silva", "Tanaka")
FORWARDERS = ("Shipito, 1010 Forwarding Way", "MyUS Suite 4411", "Stackry 3 Whitney Rd", "Planet Express Unit 12")


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


@dataclass
class Customer:
    id: int
    first: str
    last: str
    email: str
    country: str
    serial: bool = False
    po_box: bool = False


@dataclass
class PlannedOrder:
    id: int
    number: int
    created_at: datetime
    customer: Customer
    payload: dict[str, Any]
    fraud: bool
    products: list[int]
    outcome: tuple[str, datetime, str] | None = None  # (refund | dispute | cancel, when, reason)


@dataclass
class Year:
    orders: list[PlannedOrder] = field(default_factory=list)


class IpPicker:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.cache: dict[str, list[tuple[int, int]]] = {}

    def __call__(self, country: str) -> str:
        ranges = self.cache.setdefault(country, ipcountry.ranges_of(country)[:200])
        start, end = self.rng.choice(ranges)
        return str(ip_address(self.rng.randint(start, end)))


def plan_year(seed: int, *, orders: int, now: datetime) -> Year:
    rng = random.Random(seed)
    pick_ip = IpPicker(rng)
    products = list(range(9100, 9120))
    nad = set(products[:4])
    prices = {p: rng.choice((12, 19, 24, 29, 35, 45, 59, 79)) for p in products}
    customers = []
    for i in range(int(orders * 0.7)):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        digits = rng.randint(1000, 99999) if rng.random() < 0.35 else ""
        customers.append(Customer(id=5_000_000 + i, first=first, last=last, country=rng.choice(COUNTRIES),
                                  email=f"{first.lower()}.{last.lower()}{digits}@example.com",
                                  po_box=rng.random() < 0.2))
    serials = rng.sample(customers, 10)
    for customer in serials:
        customer.serial = True
    start = now - timedelta(days=365)
    year = Year()
    for n in range(orders):
        created = start + timedelta(seconds=rng.uniform(0, 364 * 86400))
        fraud = rng.random() < 0.06
        if fraud:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            digits = rng.randint(1000, 99999999)
            customer = Customer(id=7_000_000 + n, first=first, last=last, country="US",
                                email=f"{rng.choice('xkqz')}{digits}@{rng.choice(('mailinator.com', 'yopmail.com'))}")
        elif rng.random() < 0.08:
            customer = rng.choice(serials)
        else:
            customer = rng.choice(customers)
        country = customer.country
        line_products = rng.sample(products, rng.choices((1, 2, 3), weights=(70, 22, 8))[0])
        lines = [{"id": 10**12 + n * 10 + i, "product_id": p, "variant_id": p + 500, "sku": f"SKU-{p}",
                  "title": f"Product {p}", "quantity": rng.choices((1, 2, 3), weights=(80, 15, 5))[0],
                  "price": f"{prices[p]}.00"} for i, p in enumerate(line_products)]
        total = sum(int(line["price"].split(".")[0]) * line["quantity"] for line in lines)
        address = {"first_name": customer.first, "last_name": customer.last, "address1": f"{rng.randint(1, 300)} High St",
                   "city": "Town", "zip": "10001", "province_code": None, "country_code": country}
        billing = dict(address)
        ip_country = country
        if fraud:
            address["address1"] = rng.choice(FORWARDERS)
            billing = {"first_name": rng.choice(FIRST), "last_name": rng.choice(LAST),
                       "country_code": rng.choice(("GB", "CA", "FR"))}
            ip_country = rng.choice(FRAUD_IP_COUNTRIES)
            total = int(total * rng.uniform(1.5, 3.0))
        else:
            # What generic rules distrust but this shop's good customers often do: order from
            # abroad (travellers, VPNs), send gifts billed to someone else, use a post box (a rural
            # clientele), have e-mail addresses full of digits, buy in bulk.
            if rng.random() < 0.15:
                ip_country = rng.choice(COUNTRIES)
            if rng.random() < 0.12:
                billing = {**billing, "first_name": rng.choice(FIRST)}
            if customer.po_box:
                address["address1"] = f"PO Box {customer.id % 9000 + 10}"
            if rng.random() < 0.12:
                for line in lines:
                    line["quantity"] = rng.randint(4, 8)
                total = sum(int(line["price"].split(".")[0]) * line["quantity"] for line in lines)
        ip = pick_ip(ip_country)
        order_id = 10**13 + n
        payload = {
            "id": order_id, "admin_graphql_api_id": f"gid://shopify/Order/{order_id}", "name": f"#{20000 + n}",
            "order_number": 20000 + n, "email": customer.email, "contact_email": customer.email,
            "created_at": created.isoformat(), "processed_at": created.isoformat(),
            "updated_at": created.isoformat(), "currency": "USD", "total_price": f"{total}.00",
            "financial_status": "pending", "fulfillment_status": None, "cancelled_at": None,
            "customer_locale": "en", "browser_ip": ip,
            "client_details": {"browser_ip": ip, "accept_language": "en-US", "user_agent": "Mozilla/5.0"},
            "customer": {"id": customer.id, "email": customer.email, "first_name": customer.first,
                         "last_name": customer.last},
            "shipping_address": address, "billing_address": billing, "line_items": lines,
        }
        planned = PlannedOrder(id=order_id, number=20000 + n, created_at=created, customer=customer,
                               payload=payload, fraud=fraud, products=line_products)
        z = (math.log(0.04 / 0.96) + 4.5 * fraud + 3.2 * (country in LOSSY)
             + 2.8 * bool(nad & set(line_products)) + 4.0 * customer.serial + rng.gauss(0, 0.3))
        if rng.random() < _sigmoid(z):
            if fraud:
                kind, reason, delay = ("dispute", "fraudulent", rng.uniform(18, 50))
                if rng.random() < 0.2:
                    kind, delay = "cancel", rng.uniform(0.1, 2)
            elif country in LOSSY:
                kind, reason, delay = rng.choice((("refund", "not_received", rng.uniform(25, 45)),
                                                  ("dispute", "product_not_received", rng.uniform(30, 55))))
            elif nad & set(line_products):
                kind, reason, delay = ("refund", "not_as_described", rng.uniform(12, 35))
            else:
                kind, reason, delay = ("refund", "customer", rng.uniform(5, 40))
            planned.outcome = (kind, created + timedelta(days=delay), reason)
        year.orders.append(planned)
    year.orders.sort(key=lambda o: o.created_at)
    return year


def _refund_deliveries(order: PlannedOrder, when: datetime, reason: str, refund_id: int) -> list[tuple[str, dict]]:
    snapshot = {**order.payload, "financial_status": "refunded", "updated_at": when.isoformat()}
    refund = {
        "id": refund_id, "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}", "order_id": order.id,
        "created_at": when.isoformat(), "processed_at": when.isoformat(), "note": reason, "restock": False,
        "refund_line_items": [],
        "transactions": [{"id": refund_id + 1, "order_id": order.id, "kind": "refund", "status": "success",
                          "amount": order.payload["total_price"], "currency": "USD", "gateway": "shopify_payments",
                          "created_at": when.isoformat()}],
    }
    return [("orders/updated", snapshot), ("refunds/create", refund)]


def deliveries_for(year: Year, *, until: datetime | None = None) -> list[tuple[datetime, str, dict]]:
    """Every webhook the store sends over the year, in the order it sends them."""
    found: list[tuple[datetime, str, dict]] = []
    for order in year.orders:
        found.append((order.created_at, "orders/create", order.payload))
        if order.outcome is None:
            continue
        kind, when, reason = order.outcome
        if kind == "refund":
            for topic, body in _refund_deliveries(order, when, reason, order.id + 7 * 10**13):
                found.append((when, topic, body))
        elif kind == "dispute":
            found.append((when, "disputes/create", {
                "id": order.id + 3 * 10**13, "order_id": order.id, "type": "chargeback", "currency": "USD",
                "amount": order.payload["total_price"], "reason": reason, "network_reason_code": "10.4",
                "status": "needs_response", "initiated_at": when.isoformat(),
                "evidence_due_by": (when + timedelta(days=14)).isoformat(), "finalized_on": None}))
        else:
            found.append((when, "orders/cancelled", {
                **order.payload, "financial_status": "refunded", "cancelled_at": when.isoformat(),
                "cancel_reason": "fraud", "updated_at": when.isoformat()}))
    found.sort(key=lambda item: item[0])
    return [item for item in found if until is None or item[0] <= until]


def feed(client: TestClient, shop_domain: str, deliveries: list[tuple[datetime, str, dict]]) -> int:
    """POST each delivery, signed, to the real webhook route; then apply the inbox in order, as the
    worker would (in-process: no worker of another test races it). Returns how many were applied."""
    with get_engine().begin() as connection:
        first_outbox = connection.execute(text("SELECT coalesce(max(id), 0) FROM outbox")).scalar_one()
    for _, topic, payload in deliveries:
        body = json.dumps(payload).encode()
        headers = signed_headers(body, shop_domain=shop_domain, topic=topic, event_id=str(uuid.uuid4()))
        response = client.post("/webhooks/shopify", content=body, headers=headers)
        assert response.status_code == 200, response.text
    with get_engine().begin() as connection:
        # The inbox is applied here; nothing it wrote may reach a worker of a later test module.
        connection.execute(text("UPDATE outbox SET dispatched_at = now() WHERE id > :id AND dispatched_at IS NULL"),
                           {"id": first_outbox})
    with get_sessionmaker()() as session:
        rows = session.execute(select(
            WebhookDelivery.id, func.coalesce(WebhookDelivery.payload["order_id"].astext, WebhookDelivery.payload["id"].astext),
        ).where(WebhookDelivery.shop_domain == shop_domain, WebhookDelivery.status == "queued")
            .order_by(WebhookDelivery.id)).all()
    # One order's deliveries in the order they came (the store's own order per order).
    by_order: dict[str, list[int]] = {}
    for delivery_id, order_key in rows:
        by_order.setdefault(order_key, []).append(delivery_id)

    def apply(ids: list[int]) -> int:
        return sum(process_delivery.run(delivery_id) == "processed" for delivery_id in ids)

    applied = sum(apply(ids) for ids in by_order.values())
    with get_engine().begin() as connection:
        connection.execute(text("UPDATE outbox SET dispatched_at = now() WHERE id > :id AND dispatched_at IS NULL"),
                           {"id": first_outbox})
    return applied


def now() -> datetime:
    return utcnow()
