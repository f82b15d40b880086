"""Inventory in the store emulator's Admin GraphQL: items, levels, locations, inventorySetQuantities.

Shapes and names follow Shopify's Admin API (2026-07): from 2026-04 inventorySetQuantities needs
`changeFromQuantity` on every quantity (explicit null opts out) and the `@idempotent` directive.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo
from graphql.execution.values import get_directive_values

from app.sandbox.store import inventory
from app.sandbox.store.fulfil import parse_gid

SDL = """
extend type QueryRoot {
  inventoryItems(first: Int, last: Int, after: String, before: String, reverse: Boolean, query: String): InventoryItemConnection!
  inventoryItem(id: ID!): InventoryItem
  locations(first: Int, after: String): LocationConnection!
}

extend type Mutation {
  inventorySetQuantities(input: InventorySetQuantitiesInput!): InventorySetQuantitiesPayload
  inventoryItemUpdate(id: ID!, input: InventoryItemInput!): InventoryItemUpdatePayload
}
input InventoryItemInput { cost: Decimal tracked: Boolean sku: String }
type InventoryItemUpdatePayload { inventoryItem: InventoryItem userErrors: [UserError!]! }

scalar Money

type Location { id: ID! name: String! isActive: Boolean! }
type LocationEdge { cursor: String! node: Location! }
type LocationConnection { nodes: [Location!]! edges: [LocationEdge!]! pageInfo: PageInfo! }

type ProductVariant { id: ID! sku: String price: Money! }

type InventoryItem {
  id: ID!
  legacyResourceId: UnsignedInt64!
  sku: String
  tracked: Boolean!
  unitCost: MoneyV2
  variant: ProductVariant!
  inventoryLevel(locationId: ID!): InventoryLevel
}
type InventoryItemEdge { cursor: String! node: InventoryItem! }
type InventoryItemConnection { nodes: [InventoryItem!]! edges: [InventoryItemEdge!]! pageInfo: PageInfo! }

type InventoryQuantity { name: String! quantity: Int! }
type InventoryLevel { id: ID! location: Location! quantities(names: [String!]!): [InventoryQuantity!]! }

input InventoryQuantityInput {
  inventoryItemId: ID!
  locationId: ID!
  quantity: Int!
  changeFromQuantity: Int
  compareQuantity: Int
}
input InventorySetQuantitiesInput {
  name: String!
  reason: String!
  referenceDocumentUri: String
  ignoreCompareQuantity: Boolean
  quantities: [InventoryQuantityInput!]!
}

type InventoryChange { name: String! delta: Int! quantityAfterChange: Int item: InventoryItem location: Location }
type InventoryAdjustmentGroup { id: ID! createdAt: DateTime! reason: String! referenceDocumentUri: String changes: [InventoryChange!]! }
enum InventorySetQuantitiesUserErrorCode {
  CHANGE_FROM_QUANTITY_STALE CHANGE_FROM_QUANTITY_REQUIRED INVALID_INVENTORY_ITEM INVALID_LOCATION
  INVALID_NAME INVALID_REASON INVALID_QUANTITY_NEGATIVE INVALID_INPUT
}
type InventorySetQuantitiesUserError { field: [String!] message: String! code: InventorySetQuantitiesUserErrorCode }
type InventorySetQuantitiesPayload { inventoryAdjustmentGroup: InventoryAdjustmentGroup userErrors: [InventorySetQuantitiesUserError!]! }
"""

MAX_PAGE = 250


def _domain(info: GraphQLResolveInfo) -> str:
    return info.context["shop"]["domain"]


def _location(where: dict[str, Any]) -> dict[str, Any]:
    return {"id": inventory.location_gid(where["id"]), "name": where["name"], "isActive": True}


def _item(domain: str, item: dict[str, Any], known: dict[int, int | None] | None = None) -> dict[str, Any]:
    def level(info: GraphQLResolveInfo, locationId: str) -> dict[str, Any] | None:  # noqa: N803 - GraphQL name
        where = inventory.location(domain)
        if parse_gid(locationId, "Location") != where["id"]:
            return None
        quantity = (known or {}).get(item["id"])
        if known is None or item["id"] not in known:
            quantity = inventory.quantities(domain, where["id"], [item["id"]])[item["id"]]
        if quantity is None:
            return None
        return {
            "id": inventory.level_gid(item["id"], where["id"]),
            "location": _location(where),
            "quantities": lambda info, names: [
                {"name": name, "quantity": quantity} for name in names if name in inventory.NAMES
            ],
        }

    return {
        "id": inventory.item_gid(item["id"]),
        "legacyResourceId": str(item["id"]),
        "sku": item.get("sku"),
        "tracked": item.get("tracked", True),
        "unitCost": {"amount": item["cost"], "currencyCode": item.get("currency") or "USD"}
        if item.get("cost") is not None else None,
        "variant": {"id": f"gid://shopify/ProductVariant/{item['variant_id']}", "sku": item.get("sku"),
                    "price": item.get("price", "0.00")},
        "inventoryLevel": level,
    }


def _filter(query: str | None) -> tuple[set[int], set[str]]:
    """Shopify search syntax, the part the app uses: `id:1 OR id:2`, `sku:ABC OR sku:DEF`."""
    ids: set[int] = set()
    skus: set[str] = set()
    for term in (query or "").split(" OR "):
        field, _, value = term.strip().partition(":")
        value = value.strip().strip("'\"")
        if field == "id" and value.isdigit():
            ids.add(int(value))
        elif field == "sku" and value:
            skus.add(value)
        elif term.strip():
            raise GraphQLError(f"Unsupported search term '{term.strip()}'", extensions={"code": "BAD_REQUEST"})
    return ids, skus


def _resolve_items(info: GraphQLResolveInfo, first: int | None = None, after: str | None = None,
                   query: str | None = None, **_: Any) -> dict[str, Any]:
    if first is None:
        raise GraphQLError("you must provide first", extensions={"code": "BAD_REQUEST"})
    if first > MAX_PAGE:
        raise GraphQLError(f"The maximum page size is {MAX_PAGE}.", extensions={"code": "BAD_REQUEST"})
    domain = _domain(info)
    start = int(after) if after and after.isdigit() else None
    if after and not after.isdigit():
        raise GraphQLError("Invalid cursor.", extensions={"code": "BAD_REQUEST"})
    ids, skus = _filter(query)
    if ids or skus:
        wanted = sorted(ids | set(inventory.item_ids_for_skus(domain, skus, 25_000) if skus else ()))
        wanted = [i for i in wanted if start is None or i > start]
        page = inventory.get_items(domain, wanted[: first + 1])
    else:
        page = inventory.items_after(domain, start, first + 1)
    more, page = len(page) > first, page[:first]
    where = inventory.location(domain)
    known = inventory.quantities(domain, where["id"], [item["id"] for item in page])
    nodes = [_item(domain, item, known) for item in page]
    cursors = [str(item["id"]) for item in page]
    return {
        "nodes": nodes,
        "edges": [{"cursor": c, "node": n} for c, n in zip(cursors, nodes, strict=True)],
        "pageInfo": {"hasNextPage": more, "hasPreviousPage": start is not None,
                     "startCursor": cursors[0] if cursors else None, "endCursor": cursors[-1] if cursors else None},
    }


def _resolve_item(info: GraphQLResolveInfo, id: str) -> dict[str, Any] | None:  # noqa: A002
    item_id = parse_gid(id, "InventoryItem")
    if item_id is None:
        raise GraphQLError(f"Invalid global id '{id}'")
    found = inventory.get_items(_domain(info), [item_id])
    return _item(_domain(info), found[0]) if found else None


def _resolve_locations(info: GraphQLResolveInfo, first: int | None = None, **_: Any) -> dict[str, Any]:
    node = _location(inventory.location(_domain(info)))
    nodes = [node][: first if first is not None else 1]
    return {"nodes": nodes, "edges": [{"cursor": "1", "node": n} for n in nodes],
            "pageInfo": {"hasNextPage": False, "hasPreviousPage": False,
                         "startCursor": "1" if nodes else None, "endCursor": "1" if nodes else None}}


def _resolve_set(info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    directive = get_directive_values(info.schema.get_directive("idempotent"), info.field_nodes[0],
                                     info.variable_values)
    if not directive:
        raise GraphQLError("The @idempotent directive is required for this mutation.",
                           extensions={"code": "BAD_REQUEST"})
    domain = _domain(info)
    result = inventory.set_quantities(domain, input, directive["key"])
    group = result["group"]
    where = inventory.location(domain)
    return {
        "inventoryAdjustmentGroup": None if group is None else {
            "id": f"gid://shopify/InventoryAdjustmentGroup/{group['id']}",
            "createdAt": group["created_at"], "reason": group["reason"],
            "referenceDocumentUri": group["reference"],
            "changes": [
                {"name": change["name"], "delta": change["delta"], "quantityAfterChange": change["after"],
                 "item": {"id": inventory.item_gid(change["item_id"])}, "location": _location(where)}
                for change in group["changes"]
            ],
        },
        "userErrors": result["user_errors"],
    }


def _resolve_update(info: GraphQLResolveInfo, id: str, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    """inventoryItemUpdate: the item's unit cost (in the shop's currency), tracking and SKU."""
    domain = _domain(info)
    item_id = parse_gid(id, "InventoryItem")
    if item_id is None:
        raise GraphQLError(f"Invalid global id '{id}'")
    if "cost" in input and input["cost"] is not None and Decimal(str(input["cost"])) < 0:
        return {"inventoryItem": None, "userErrors": [{"field": ["input", "cost"], "message": "Cost must be positive"}]}
    updated = inventory.update_item(domain, item_id, {
        **({"cost": str(Decimal(str(input["cost"])).quantize(Decimal("0.01"))) if input["cost"] is not None else None,
            "currency": info.context["shop"]["currency"]} if "cost" in input else {}),
        **{name: input[name] for name in ("tracked", "sku") if name in input},
    })
    if updated is None:
        return {"inventoryItem": None, "userErrors": [{"field": ["id"], "message": "Inventory item does not exist"}]}
    return {"inventoryItem": _item(domain, updated), "userErrors": []}


ROOT = {
    "inventoryItemUpdate": _resolve_update,
    "inventoryItems": _resolve_items,
    "inventoryItem": _resolve_item,
    "locations": _resolve_locations,
    "inventorySetQuantities": _resolve_set,
}
