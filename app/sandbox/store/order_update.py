"""orderUpdate for the store emulator: the shipping address and phone of an order, as Shopify takes
them (Admin API 2026-07, `orderUpdate(input: OrderInput!)`).

As on Shopify: the given address fields replace the order's (fields left out are kept), an unknown
order (or another shop's) is a userError "Order does not exist", a country code that is not ISO
3166 alpha-2 or a phone Shopify cannot read is a userError on that field; a change advances the
order's updated_at and sends `orders/updated`. The same input twice changes nothing the second time
(no webhook), so a retried call is harmless.
"""

from __future__ import annotations

from typing import Any

import phonenumbers
import pycountry
from graphql import GraphQLError, GraphQLResolveInfo

from app.db import utcnow
from app.sandbox.store import fulfil, orders, state, webhooks

SDL = """
input MailingAddressInput {
  firstName: String lastName: String company: String address1: String address2: String city: String
  provinceCode: String zip: String countryCode: String phone: String
}
input OrderInput { id: ID! shippingAddress: MailingAddressInput phone: String email: String note: String }
type OrderUpdatePayload { order: Order userErrors: [UserError!]! }
extend type Mutation { orderUpdate(input: OrderInput!): OrderUpdatePayload }
"""

# GraphQL input name -> the order document's (REST) name.
_ADDRESS_FIELDS = {
    "firstName": "first_name", "lastName": "last_name", "company": "company", "address1": "address1",
    "address2": "address2", "city": "city", "provinceCode": "province_code", "zip": "zip",
    "countryCode": "country_code", "phone": "phone",
}


def _error(field: list[str], message: str) -> dict[str, Any]:
    return {"field": field, "message": message}


def _problems(given: dict[str, Any], country: str | None) -> list[dict[str, Any]]:
    address = given.get("shippingAddress") or {}
    found = []
    code = address.get("countryCode")
    if code is not None and pycountry.countries.get(alpha_2=str(code).upper()) is None:
        found.append(_error(["shippingAddress", "countryCode"], "Country is invalid"))
    for field, value in (("shippingAddress", address.get("phone")), ("phone", given.get("phone"))):
        if not value:
            continue
        try:
            parsed = phonenumbers.parse(str(value), (str(code or country or "")).upper() or None)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is None or not phonenumbers.is_possible_number(parsed):
            path = ["shippingAddress", "phone"] if field == "shippingAddress" else ["phone"]
            found.append(_error(path, "Phone is invalid"))
    return found


def update(shop: dict[str, Any], given: dict[str, Any]) -> tuple[dict[str, Any], list]:
    order_id = fulfil.parse_gid(given.get("id"), "Order")
    if order_id is None:
        raise GraphQLError(f"Invalid global id '{given.get('id')}'")
    not_found = {"order": None, "userErrors": [_error(["id"], "Order does not exist")]}

    def change(document: dict[str, Any], _pipe) -> dict[str, Any]:
        if document["shop"] != shop["domain"]:
            return {"user_errors": not_found["userErrors"]}
        order = document["order"]
        current = order.get("shipping_address") or {}
        if problems := _problems(given, current.get("country_code")):
            return {"user_errors": problems}
        before = {"shipping_address": dict(current), "phone": order.get("phone"), "email": order.get("email"),
                  "note": order.get("note")}
        if given.get("shippingAddress") is not None:
            address = dict(current)
            for name, value in given["shippingAddress"].items():
                address[_ADDRESS_FIELDS[name]] = value.upper() if name == "countryCode" and value else value
            order["shipping_address"] = orders.address(address)
        for name in ("phone", "email", "note"):
            if given.get(name) is not None:
                order[name] = given[name]
        after = {"shipping_address": order.get("shipping_address") or {}, "phone": order.get("phone"),
                 "email": order.get("email"), "note": order.get("note")}
        if after == before:
            return {"changed": False, "order": order}
        orders.touch(order, utcnow())
        return {"write": True, "changed": True, "order": order}

    result = state.update_order(order_id, change)
    if result is None:
        return not_found, []
    if result.get("user_errors"):
        return {"order": None, "userErrors": result["user_errors"]}, []
    document = state.get_order(order_id)
    deliveries = [webhooks.webhook(shop, "orders/updated", result["order"])] if result.get("changed") else []
    from app.sandbox.store.schema import order_view  # the schema module imports this one

    return {"order": order_view(document), "userErrors": []}, deliveries


def _resolve_update(info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    payload, deliveries = update(info.context["shop"], input)
    info.context["deliveries"].extend(deliveries)
    return payload


ROOT = {"orderUpdate": _resolve_update}
