"""REST-shaped orders and fulfilments, as Shopify's webhooks deliver them (API 2026-07 fields)."""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pycountry

# VAT is included in shelf prices in these countries; Shopify then reports the included part.
INCLUDED_VAT = {"GB": "0.20", "FR": "0.20", "DE": "0.19", "ES": "0.21", "IT": "0.22", "NL": "0.21",
                "BE": "0.21", "IE": "0.23", "AU": "0.10"}
# Keys of the partial order the builder interprets; every other key is copied as given.
INTERPRETED = {"line_items", "customer", "shipping_address", "billing_address", "locale", "shipping_lines"}
# Identity fields stay the emulator's: the stored document is keyed by them.
PROTECTED = {"id", "admin_graphql_api_id", "name", "number", "order_number", "fulfillments"}
CENT = Decimal("0.01")


def money(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def money_set(amount: str, currency: str) -> dict[str, Any]:
    pair = {"amount": amount, "currency_code": currency}
    return {"shop_money": pair, "presentment_money": dict(pair)}


def timestamp(moment: datetime) -> str:
    # Shopify serialises times to the second with an offset.
    return moment.replace(microsecond=0).isoformat()


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def _address(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    if not raw:
        return None
    country_code = (raw.get("country_code") or "").upper() or None
    country = pycountry.countries.get(alpha_2=country_code) if country_code else None
    province_code = raw.get("province_code")
    subdivision = pycountry.subdivisions.get(code=f"{country_code}-{province_code}") if province_code else None
    first, last = raw.get("first_name"), raw.get("last_name")
    return {
        "first_name": first,
        "last_name": last,
        "name": raw.get("name") or " ".join(filter(None, [first, last])) or None,
        "company": raw.get("company"),
        "address1": raw.get("address1"),
        "address2": raw.get("address2"),
        "city": raw.get("city"),
        "zip": raw.get("zip"),
        "province": raw.get("province") or (subdivision.name if subdivision else None),
        "province_code": province_code,
        "country": raw.get("country") or (country.name if country else None),
        "country_code": country_code,
        "phone": raw.get("phone"),
        "latitude": raw.get("latitude"),
        "longitude": raw.get("longitude"),
    }


# orderUpdate (order_update.py) normalises an edited address the same way.
address = _address


def _line(raw: dict[str, Any], line_id: int, currency: str) -> dict[str, Any]:
    quantity = int(raw.get("quantity") or 1)
    price = money(Decimal(str(raw.get("price") or "0")))
    title = str(raw.get("title") or "Item")
    variant_title = raw.get("variant_title")
    return {
        "id": line_id,
        "admin_graphql_api_id": gid("LineItem", line_id),
        "variant_id": raw.get("variant_id"),
        "product_id": raw.get("product_id"),
        "sku": raw.get("sku"),
        "title": title,
        "variant_title": variant_title,
        "name": f"{title} - {variant_title}" if variant_title else title,
        "vendor": raw.get("vendor"),
        "quantity": quantity,
        "current_quantity": quantity,
        "fulfillable_quantity": quantity,
        "fulfillment_service": "manual",
        "fulfillment_status": None,
        "price": price,
        "price_set": money_set(price, currency),
        "grams": int(raw.get("grams") or 0),
        "requires_shipping": raw.get("requires_shipping", True),
        "taxable": True,
        "gift_card": False,
        "product_exists": True,
        "properties": raw.get("properties") or [],
        "tax_lines": [],
        "discount_allocations": [],
        "duties": [],
        "total_discount": "0.00",
        "total_discount_set": money_set("0.00", currency),
    }


def _customer(raw: dict[str, Any], customer_id: int, email: str | None, address: dict | None, now: str) -> dict:
    return {
        "id": raw.get("id") or customer_id,
        "admin_graphql_api_id": gid("Customer", raw.get("id") or customer_id),
        "email": raw.get("email") or email,
        "first_name": raw.get("first_name"),
        "last_name": raw.get("last_name"),
        "phone": raw.get("phone"),
        "state": "enabled",
        "verified_email": raw.get("verified_email", True),
        "tags": "",
        "note": None,
        "currency": raw.get("currency"),
        "created_at": raw.get("created_at") or now,
        "updated_at": now,
        "email_marketing_consent": {"state": "not_subscribed", "opt_in_level": "single_opt_in"},
        "default_address": {**address, "default": True} if address else None,
    }


def build_order(
    partial: dict[str, Any], *, shop: dict[str, Any], number: int, ids: Iterator[int], paid: bool,
    now: datetime,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A complete REST order (and its one fulfilment order) from the fields a test or the
    simulator cares about; totals are computed from the lines."""
    order_id = next(ids)
    currency = str(partial.get("currency") or shop.get("currency") or "USD").upper()
    created = timestamp(now)
    lines = [_line(raw, next(ids), currency) for raw in partial.get("line_items") or []]
    shipping_address = _address(partial.get("shipping_address"))
    billing_address = _address(partial.get("billing_address")) or shipping_address
    shipping_lines = [
        {
            "id": next(ids), "code": raw.get("code") or raw.get("title") or "Standard",
            "title": raw.get("title") or "Standard", "price": money(Decimal(str(raw.get("price") or "0"))),
            "discounted_price": money(Decimal(str(raw.get("price") or "0"))), "source": "shopify",
            "carrier_identifier": None, "tax_lines": [],
        }
        for raw in partial.get("shipping_lines") or []
    ]
    subtotal = sum((Decimal(line["price"]) * line["quantity"] for line in lines), Decimal(0))
    shipping = sum((Decimal(line["price"]) for line in shipping_lines), Decimal(0))
    country = (shipping_address or {}).get("country_code")
    vat = Decimal(INCLUDED_VAT.get(country or "", "0"))
    total = subtotal + shipping
    tax = total - total / (1 + vat) if vat else Decimal(0)
    email = partial.get("email") or (partial.get("customer") or {}).get("email")
    customer_id = next(ids)
    token = secrets.token_hex(16)
    locale = partial.get("customer_locale") or partial.get("locale") or "en"
    status_key = secrets.token_hex(16)
    order: dict[str, Any] = {
        "id": order_id,
        "admin_graphql_api_id": gid("Order", order_id),
        "app_id": 580111,
        "name": f"#{number}",
        "number": number - 1000,
        "order_number": number,
        "confirmation_number": "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(9)),
        "token": token,
        "email": email,
        "contact_email": email,
        "phone": partial.get("phone"),
        "created_at": created,
        "updated_at": created,
        "processed_at": created,
        "cancelled_at": None,
        "cancel_reason": None,
        "closed_at": None,
        "currency": currency,
        "presentment_currency": currency,
        "subtotal_price": money(subtotal),
        "total_line_items_price": money(subtotal),
        "total_shipping_price_set": money_set(money(shipping), currency),
        "total_discounts": "0.00",
        "total_tax": money(tax),
        "taxes_included": bool(vat),
        "total_price": money(total),
        "current_total_price": money(total),
        "total_outstanding": "0.00" if paid else money(total),
        "total_weight": sum(line["grams"] * line["quantity"] for line in lines),
        "financial_status": "paid" if paid else "pending",
        "fulfillment_status": None,
        "test": False,
        "tags": "",
        "note": None,
        "note_attributes": [],
        "tax_lines": [],
        "discount_codes": [],
        "discount_applications": [],
        "source_name": "web",
        "landing_site": "/",
        "referring_site": None,
        "browser_ip": partial.get("browser_ip"),
        "client_details": partial.get("client_details"),
        "customer_locale": locale,
        "buyer_accepts_marketing": False,
        "payment_gateway_names": ["shopify_payments"] if paid else ["manual"],
        "order_status_url": f"https://{shop['domain']}/{shop['id']}/orders/{token}/authenticate?key={status_key}",
        "customer": _customer(partial.get("customer") or {}, customer_id, email, shipping_address, created),
        "billing_address": billing_address,
        "shipping_address": shipping_address,
        "line_items": lines,
        "shipping_lines": shipping_lines,
        "fulfillments": [],
        "refunds": [],
    }
    for field in ("subtotal_price", "total_line_items_price", "total_discounts", "total_tax", "total_price"):
        order[f"{field}_set"] = money_set(order[field], currency)
    order.update({k: v for k, v in partial.items() if k not in INTERPRETED | PROTECTED})
    fulfillment_order = {
        "id": next(ids),
        "status": "open",
        "created_at": created,
        "line_items": [
            {"id": next(ids), "line_item_id": line["id"], "total_quantity": line["quantity"],
             "remaining_quantity": line["quantity"]}
            for line in lines
        ],
    }
    return order, [fulfillment_order]


def touch(order: dict[str, Any], now: datetime) -> None:
    """Advance updated_at, strictly: newer snapshots must compare newer even within one second."""
    previous = datetime.fromisoformat(order["updated_at"])
    moment = now.replace(microsecond=0)
    if moment <= previous:
        moment = previous + timedelta(seconds=1)
    order["updated_at"] = moment.isoformat()


def fulfillment_rest(
    order: dict[str, Any], fulfillment_id: int, sequence: int, lines: list[tuple[dict[str, Any], int]],
    tracking: dict[str, Any], notify: bool, now: datetime,
) -> dict[str, Any]:
    numbers = [n for n in ([tracking.get("number")] + list(tracking.get("numbers") or [])) if n]
    urls = [u for u in ([tracking.get("url")] + list(tracking.get("urls") or [])) if u]
    created = timestamp(now)
    return {
        "id": fulfillment_id,
        "admin_graphql_api_id": gid("Fulfillment", fulfillment_id),
        "order_id": order["id"],
        "name": f"{order['name']}.{sequence}",
        "status": "success",
        "service": "manual",
        "shipment_status": None,
        "location_id": None,
        "tracking_company": tracking.get("company"),
        "tracking_number": numbers[0] if numbers else None,
        "tracking_numbers": numbers,
        "tracking_url": urls[0] if urls else None,
        "tracking_urls": urls,
        "notify_customer": notify,
        "origin_address": None,
        "receipt": {},
        "created_at": created,
        "updated_at": created,
        "email": order.get("email"),
        "destination": order.get("shipping_address"),
        "line_items": [{**line, "quantity": quantity, "fulfillment_status": "fulfilled"} for line, quantity in lines],
    }
