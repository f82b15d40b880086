"""Admin GraphQL orders (as the import reads them) turned into the REST shape the order service
takes from webhooks, so imported and live orders go through one code path."""

from __future__ import annotations

from typing import Any

ORDERS_PAGE = """
query($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, sortKey: CREATED_AT, query: $query) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id legacyResourceId name createdAt updatedAt cancelledAt currencyCode email phone customerLocale
      displayFinancialStatus displayFulfillmentStatus
      totalPriceSet { shopMoney { amount currencyCode } }
      customer { legacyResourceId email firstName lastName phone }
      shippingAddress { firstName lastName name company address1 address2 city provinceCode zip countryCodeV2 phone }
      lineItems(first: 20) {
        nodes { id sku title variantTitle quantity currentQuantity originalUnitPriceSet { shopMoney { amount } } }
      }
      fulfillments(first: 10) { legacyResourceId status displayStatus createdAt trackingInfo { company number } }
      refunds(first: 10) { legacyResourceId createdAt note totalRefundedSet { shopMoney { amount currencyCode } } }
      disputes { id initiatedAs status }
    }
  }
}
"""
ORDERS_COUNT = "query($query: String) { ordersCount(query: $query) { count precision } }"
# 8 orders of up to 20 lines each cost about 750 points requested: under the 1000 single-query cap.
PAGE_SIZE = 8

_FULFILMENT_STATUS = {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial", "RESTOCKED": "restocked"}


def gid_number(value: str) -> int:
    return int(str(value).rsplit("/", 1)[-1].split("?")[0])


def _address(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    if not raw:
        return None
    return {"first_name": raw.get("firstName"), "last_name": raw.get("lastName"), "name": raw.get("name"),
            "company": raw.get("company"), "address1": raw.get("address1"), "address2": raw.get("address2"),
            "city": raw.get("city"), "province_code": raw.get("provinceCode"), "zip": raw.get("zip"),
            "country_code": raw.get("countryCodeV2"), "phone": raw.get("phone")}


def rest_order(node: dict[str, Any]) -> dict[str, Any]:
    customer = node.get("customer")
    return {
        "id": int(node["legacyResourceId"]),
        "admin_graphql_api_id": node["id"],
        "name": node["name"],
        "created_at": node["createdAt"],
        "updated_at": node["updatedAt"],
        "cancelled_at": node.get("cancelledAt"),
        "currency": node["currencyCode"],
        "total_price": node["totalPriceSet"]["shopMoney"]["amount"],
        "financial_status": (node.get("displayFinancialStatus") or "").lower() or None,
        "fulfillment_status": _FULFILMENT_STATUS.get(node.get("displayFulfillmentStatus") or ""),
        "email": node.get("email"),
        "phone": node.get("phone"),
        "customer_locale": node.get("customerLocale"),
        "customer": {
            "id": int(customer["legacyResourceId"]), "email": customer.get("email"),
            "first_name": customer.get("firstName"), "last_name": customer.get("lastName"),
            "phone": customer.get("phone"),
        } if customer else None,
        "shipping_address": _address(node.get("shippingAddress")),
        "line_items": [
            {"id": gid_number(line["id"]), "sku": line.get("sku"), "title": line["title"],
             "variant_title": line.get("variantTitle"), "quantity": line["quantity"],
             "current_quantity": line["currentQuantity"],
             "price": line["originalUnitPriceSet"]["shopMoney"]["amount"]}
            for line in node["lineItems"]["nodes"]
        ],
    }
