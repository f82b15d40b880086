"""Carrying stock to the store: the catalogue read, inventorySetQuantities in batches of 250, and
unit costs with inventoryItemUpdate(cost), several per request.

Each set is a compare-and-set: `changeFromQuantity` is the store quantity we last saw or set. A
stale one (a sale, a merchant's edit) refuses the batch; we re-read those items and send again.
The batch's `@idempotent` key is derived from its content, so a retry after a lost answer is
answered from the store's memory instead of being applied twice.

Cost: every answer carries the shop's leaky bucket (throttleStatus). Before each call we wait
until the bucket holds the call's cost plus a reserve kept for other work (fulfilment pushes), so
a steady sync is never THROTTLED, and each call carries as much as Shopify allows (250
quantities per mutation, the largest catalogue page under the 1,000-point single-query cap).

Costs: inventoryItemUpdate takes one item, so up to COST_BATCH of them travel as aliased fields of
one request (10 points each). A cost is written when the supplier's unit cost differs from the one
we last wrote; setting an absolute value twice changes nothing, so a retry needs no key.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app import exactly_once
from app.db import session_scope, utcnow
from app.evidence import service as evidence
from app.inventory import service
from app.inventory.models import InventoryItem
from app.metrics import INVENTORY_SYNC_LAG
from app.shops import guard
from app.shops.admin_client import AdminClient
from app.shops.models import Shop
from app.suppliers import catalogue_gaps

MAX_QUANTITIES = 250
# Shopify's cost rules: 1 per object (item, variant, level, quantities), 2 per connection. The
# largest page under the 1,000-point single-query cap is then (1000 - 2) // 4 = 249 items.
CATALOGUE_PAGE = 249
CONFLICT_RETRIES = 3
# Share of the bucket left for everything else the app does in the store meanwhile.
RESERVE_SHARE = 0.1

SET_QUANTITIES = """
mutation($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
  }
}
"""
LOCATIONS = "query { locations(first: 5) { nodes { id name isActive } } }"
# 40 mutations of 10 points plus their objects: about half the 1,000-point single-query cap.
COST_BATCH = 40
COST_PER_UPDATE = 12
# Costs cost 10 points an item, so a first sync of a large catalogue takes a while: each publish
# writes at most this many requests of them, after the quantities, and the beat's next publish
# continues. Stock stays fresh while costs catch up.
COST_REQUESTS_PER_RUN = 5


def cost_updates(count: int) -> str:
    """One request setting the unit cost of `count` items (aliases c0, c1, ...)."""
    variables = ", ".join(f"$id{i}: ID!, $cost{i}: Decimal!" for i in range(count))
    fields = "\n".join(
        f"  c{i}: inventoryItemUpdate(id: $id{i}, input: {{cost: $cost{i}}}) "
        "{ inventoryItem { id unitCost { amount } } userErrors { field message } }"
        for i in range(count)
    )
    return f"mutation({variables}) {{\n{fields}\n}}"
CATALOGUE = """
query($first: Int!, $after: String, $location: ID!) {
  inventoryItems(first: $first, after: $after) {
    nodes {
      id sku variant { id price }
      inventoryLevel(locationId: $location) { quantities(names: ["available"]) { name quantity } }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""
LEVELS = """
query($first: Int!, $query: String!, $location: ID!) {
  inventoryItems(first: $first, query: $query) {
    nodes { id inventoryLevel(locationId: $location) { quantities(names: ["available"]) { name quantity } } }
  }
}
"""


class InventorySyncError(Exception):
    """The store cannot take stock as expected (no location); the sync stops and says why."""


@dataclass
class Budget:
    """The shop's leaky bucket as the last answer described it, and what we spent."""

    sleep: Callable[[float], None] = time.sleep
    available: float | None = None
    maximum: float = 0.0
    rate: float = 0.0
    seen_at: float = 0.0
    calls: int = 0
    requested: int = 0
    actual: int = 0
    waited_s: float = 0.0

    def note(self, answer: dict[str, Any]) -> None:
        cost = (answer.get("extensions") or {}).get("cost") or {}
        status = cost.get("throttleStatus") or {}
        self.calls += 1
        self.requested += int(cost.get("requestedQueryCost") or 0)
        self.actual += int(cost.get("actualQueryCost") or 0)
        if status.get("currentlyAvailable") is not None and status.get("restoreRate"):
            self.available, self.rate = float(status["currentlyAvailable"]), float(status["restoreRate"])
            self.maximum, self.seen_at = float(status.get("maximumAvailable") or 0), time.monotonic()

    def wait_for(self, cost: float) -> None:
        if self.available is None or not self.rate:
            return
        reserve = min(self.maximum * RESERVE_SHARE, max(self.maximum - cost, 0))
        now_available = min(self.maximum, self.available + (time.monotonic() - self.seen_at) * self.rate)
        if now_available < cost + reserve:
            pause = (cost + reserve - now_available) / self.rate
            self.sleep(pause)
            self.waited_s += pause


@dataclass
class Report:
    items: int = 0  # store quantities set
    costs: int = 0  # unit costs written
    unchanged: int = 0  # already right in the store: no call needed
    failed: int = 0
    mutations: int = 0
    reads: int = 0
    conflicts: int = 0
    budget: Budget = field(default_factory=Budget)
    busy: bool = False
    skipped_shop_uninstalled: bool = False

    def as_data(self) -> dict[str, Any]:
        return {"items": self.items, "costs": self.costs, "unchanged": self.unchanged, "failed": self.failed,
                "mutations": self.mutations, "reads": self.reads, "conflicts": self.conflicts,
                "calls": self.budget.calls, "requested_cost": self.budget.requested,
                "actual_cost": self.budget.actual, "waited_s": round(self.budget.waited_s, 2),
                **({"status": guard.SKIPPED} if self.skipped_shop_uninstalled else {})}


@dataclass
class Planned:
    id: int
    inventory_item_id: str
    location_id: str
    store_quantity: int | None
    supplier_quantity: int | None
    target: int
    changed_at: datetime | None


def _legacy(gid: str) -> str:
    return gid.rsplit("/", 1)[-1].split("?")[0]


def _quantity(node: dict[str, Any]) -> int | None:
    level = node.get("inventoryLevel") or {}
    for entry in level.get("quantities") or []:
        if entry.get("name") == "available":
            return int(entry["quantity"])
    return None


def _client(shop: Shop, transport: httpx.BaseTransport | None) -> AdminClient:
    return AdminClient.for_shop(shop, transport=transport, record_mutations=False)


def _call(client: AdminClient, budget: Budget, query: str, variables: dict[str, Any], cost: float) -> dict[str, Any]:
    budget.wait_for(cost)
    answer = client.execute(query, variables)
    budget.note(answer)
    return answer.get("data") or {}


def _location(client: AdminClient, budget: Budget, shop: Shop) -> str:
    chosen = (shop.settings or {}).get("inventory_location_id")
    if chosen:
        return str(chosen)
    nodes = _call(client, budget, LOCATIONS, {}, 12)["locations"]["nodes"]
    active = [n for n in nodes if n.get("isActive")] or nodes
    if not active:
        raise InventorySyncError("the store has no location to hold stock")
    return active[0]["id"]


def refresh_catalogue(shop_id: int, *, transport: httpx.BaseTransport | None = None) -> Report:
    """Read every inventory item of the shop's location (ids, SKU, variant, price, quantity) and
    link it to what suppliers said. Run at install and when mappings change; pages are paced."""
    report = Report()
    with session_scope() as session:
        shop = session.get(Shop, shop_id)
    with _client(shop, transport) as client:
        location = _location(client, report.budget, shop)
        after = None
        while True:
            data = _call(client, report.budget, CATALOGUE,
                         {"first": CATALOGUE_PAGE, "after": after, "location": location}, 4 * CATALOGUE_PAGE + 2)
            report.reads += 1
            page = data["inventoryItems"]
            with session_scope() as session:
                _store_page(session, session.get(Shop, shop_id), location, page["nodes"])
            report.items += len(page["nodes"])
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
    with session_scope() as session:
        if service.has_pending(session, shop_id):
            service.request_publish(session, shop_id)
        # The catalogue is now known: variants no supplier would fill are flagged before an order.
        catalogue_gaps.note_unmapped(session, session.get(Shop, shop_id))
    return report


def _store_page(session: Session, shop: Shop, location: str, nodes: list[dict[str, Any]]) -> None:
    rows = [
        {"shop_id": shop.id, "inventory_item_id": node["id"], "location_id": location,
         "variant_id": int(_legacy(node["variant"]["id"])) if node.get("variant") else None,
         "sku": node.get("sku"), "price": (node.get("variant") or {}).get("price"), "store_quantity": _quantity(node)}
        for node in nodes
    ]
    if not rows:
        return
    statement = insert(InventoryItem).values(rows)
    session.execute(statement.on_conflict_do_update(
        index_elements=["shop_id", "inventory_item_id", "location_id"],
        set_={"variant_id": statement.excluded.variant_id, "sku": statement.excluded.sku,
              "price": statement.excluded.price, "store_quantity": statement.excluded.store_quantity},
    ))
    items = list(session.scalars(
        select(InventoryItem).where(
            InventoryItem.shop_id == shop.id, InventoryItem.location_id == location,
            InventoryItem.inventory_item_id.in_([r["inventory_item_id"] for r in rows]),
        ).order_by(InventoryItem.id).with_for_update()
    ))
    service.recompute(session, shop, items)


def publish(shop_id: int, *, transport: httpx.BaseTransport | None = None) -> Report:
    """Set the store quantity of every item marked for it, 250 per mutation, within the budget."""
    report = Report()
    with exactly_once.advisory_lock(exactly_once.INVENTORY_PUBLISH, shop_id) as acquired:
        if not acquired:
            report.busy = True  # another publisher runs for this shop; it or the sweep takes ours
            return report
        service.publish_started(shop_id)
        with session_scope() as session:
            shop = session.get(Shop, shop_id)
            if shop is None or guard.skipped_uninstalled(session, shop, "inventory_publish", shop_id):
                report.skipped_shop_uninstalled = True
                return report
            buffer = service.safety_buffer(shop)
        after_id = 0
        with _client(shop, transport) as client:
            while True:
                with session_scope() as session:
                    batch = session.scalars(
                        select(InventoryItem)
                        .where(InventoryItem.shop_id == shop_id, InventoryItem.needs_publish, InventoryItem.id > after_id)
                        .order_by(InventoryItem.id)
                        .limit(MAX_QUANTITIES)
                    ).all()
                    plan = [
                        Planned(i.id, i.inventory_item_id, i.location_id, i.store_quantity, i.supplier_quantity,
                                service.target_quantity(i.supplier_quantity, buffer) or 0, i.supplier_changed_at)
                        for i in batch
                    ]
                if not plan:
                    break
                after_id = plan[-1].id
                _publish_batch(client, report, shop, plan)
            _publish_costs(client, report, shop)
    return report


def _cost_batch(session: Session, shop_id: int, after_id: int) -> list[tuple[int, str, Decimal]]:
    rows = session.execute(
        select(InventoryItem.id, InventoryItem.inventory_item_id, func.round(InventoryItem.unit_cost, 2))
        .where(InventoryItem.shop_id == shop_id, service.cost_pending(), InventoryItem.id > after_id)
        .order_by(InventoryItem.id).limit(COST_BATCH)
    ).all()
    # One inventory item may sit at several locations: its cost is the item's, written once.
    seen: set[str] = set()
    return [(row_id, gid, cost) for row_id, gid, cost in rows if not (gid in seen or seen.add(gid))]


def _publish_costs(client: AdminClient, report: Report, shop: Shop) -> None:
    """Write the suppliers' unit costs to the store (what Shopify's margin reports use)."""
    after_id = 0
    for _ in range(COST_REQUESTS_PER_RUN):
        with session_scope() as session:
            batch = _cost_batch(session, shop.id, after_id)
        if not batch:
            return
        after_id = batch[-1][0]
        variables = {}
        for i, (_, gid, cost) in enumerate(batch):
            variables[f"id{i}"], variables[f"cost{i}"] = gid, str(cost)
        data = _call(client, report.budget, cost_updates(len(batch)), variables, COST_PER_UPDATE * len(batch))
        report.mutations += 1
        written, refused = [], {}
        for i, (_, gid, cost) in enumerate(batch):
            payload = data.get(f"c{i}") or {}
            errors = payload.get("userErrors") or []
            if errors or not payload.get("inventoryItem"):
                refused[gid] = "; ".join(str(e.get("message")) for e in errors)[:300] or "no item returned"
            else:
                written.append((gid, cost))
        report.costs += len(written)
        report.failed += len(refused)
        with session_scope() as session:
            for gid, cost in written:
                session.execute(update(InventoryItem).where(
                    InventoryItem.shop_id == shop.id, InventoryItem.inventory_item_id == gid).values(store_cost=cost))
            for gid, reason in refused.items():
                # Not asked again until the supplier's cost changes: store_cost takes the wanted value.
                session.execute(update(InventoryItem).where(
                    InventoryItem.shop_id == shop.id, InventoryItem.inventory_item_id == gid)
                    .values(store_cost=func.round(InventoryItem.unit_cost, 2), last_error=f"cost: {reason}"))
            evidence.record(
                session, chain=shop.domain, shop_id=shop.id, kind="inventory.costs_published", source="dropguard",
                data={"written": len(written), "refused": len(refused), "currency": shop.currency,
                      "errors": sorted(set(refused.values()))[:5]},
            )


def _reread(client: AdminClient, report: Report, plan: list[Planned]) -> None:
    """The store's current quantities of these items (one read per location)."""
    for location in {p.location_id for p in plan}:
        here = [p for p in plan if p.location_id == location]
        query = " OR ".join(f"id:{_legacy(p.inventory_item_id)}" for p in here)
        data = _call(client, report.budget, LEVELS,
                     {"first": len(here), "query": query, "location": location}, 3 * len(here) + 2)
        report.reads += 1
        current = {node["id"]: _quantity(node) for node in data["inventoryItems"]["nodes"]}
        for p in here:
            p.store_quantity = current.get(p.inventory_item_id)


def _key(shop: Shop, plan: list[Planned]) -> str:
    content = ";".join(f"{p.inventory_item_id}@{p.location_id}:{p.store_quantity}>{p.target}" for p in plan)
    return str(uuid.UUID(hashlib.sha256(f"{shop.id}|{content}".encode()).hexdigest()[:32]))


def _publish_batch(client: AdminClient, report: Report, shop: Shop, plan: list[Planned]) -> None:
    conflicts, attempts, sent = 0, 0, 0
    failed: list[tuple[Planned, str]] = []
    if any(p.store_quantity is None for p in plan):
        _reread(client, report, [p for p in plan if p.store_quantity is None])
    failed += [(p, "the item is not stocked at this location") for p in plan if p.store_quantity is None]
    plan = [p for p in plan if p.store_quantity is not None]
    key = None
    while True:
        send = [p for p in plan if p.target != p.store_quantity]
        if not send:
            break
        attempts += 1
        key = _key(shop, send)
        variables = {"key": key, "input": {
            "name": "available", "reason": "correction",
            "referenceDocumentUri": f"dropguard://inventory-sync/{shop.id}",
            "quantities": [{"inventoryItemId": p.inventory_item_id, "locationId": p.location_id,
                            "quantity": p.target, "changeFromQuantity": p.store_quantity} for p in send],
        }}
        payload = _call(client, report.budget, SET_QUANTITIES, variables, 10)["inventorySetQuantities"]
        report.mutations += 1
        errors = payload.get("userErrors") or []
        if not errors:
            for p in send:
                p.store_quantity = p.target
            sent = len(send)
            break
        stale, refused = _sort_errors(errors, send)
        if not stale and not refused:  # a refusal of the whole batch: nothing was applied
            refused = [(p, "; ".join(str(e.get("message")) for e in errors)[:300]) for p in send]
        if stale and attempts > CONFLICT_RETRIES:
            refused += [(p, "the store quantity kept changing") for p in stale]
            stale = []
        failed += refused
        refused_ids = {p.id for p, _ in refused}
        plan = [p for p in plan if p.id not in refused_ids]
        if stale:
            # Someone changed these in the store since we looked: look again, then set again.
            conflicts += len(stale)
            _reread(client, report, stale)
    report.conflicts += conflicts
    report.items += sent
    report.unchanged += len(plan) - sent
    report.failed += len(failed)
    _record(shop, plan, failed, key, conflicts, attempts)


def _sort_errors(errors: list[dict[str, Any]], send: list[Planned]) -> tuple[list[Planned], list[tuple[Planned, str]]]:
    stale, refused = [], []
    for error in errors:
        where = error.get("field") or []
        index = int(where[2]) if len(where) > 2 and str(where[2]).isdigit() else None
        if index is None or index >= len(send):
            continue
        if error.get("code") == "CHANGE_FROM_QUANTITY_STALE":
            stale.append(send[index])
        else:
            refused.append((send[index], str(error.get("message"))[:300]))
    return stale, refused


def _record(shop: Shop, done: list[Planned], failed: list[tuple[Planned, str]], key: str | None,
            conflicts: int, attempts: int) -> None:
    now = utcnow()
    by_id = {p.id: p for p in done}
    errors = {p.id: reason for p, reason in failed}
    with session_scope() as session:
        rows = session.scalars(
            select(InventoryItem).where(InventoryItem.id.in_(list(by_id) + list(errors))).order_by(InventoryItem.id)
            .with_for_update()
        ).all()
        lags = []
        for row in rows:
            if row.id in errors:
                row.needs_publish, row.last_error = False, errors[row.id]
                continue
            p = by_id[row.id]
            row.store_quantity = row.published_quantity = p.target
            row.last_error = None
            if row.supplier_quantity == p.supplier_quantity:
                # Nothing new arrived meanwhile: the supplier's change is now in the store.
                row.needs_publish = False
                if p.changed_at is not None:
                    lag = (now - p.changed_at).total_seconds()
                    row.last_lag_ms, row.published_at = round(lag * 1000), now
                    lags.append(lag)
                row.supplier_changed_at = None
        for lag in lags:
            INVENTORY_SYNC_LAG.observe(lag)
        evidence.record(
            session, chain=shop.domain, shop_id=shop.id, kind="inventory.published", source="dropguard",
            data={"items": len(done), "failed": len(failed), "conflicts": conflicts, "attempts": attempts,
                  "idempotency_key": key, "max_lag_s": round(max(lags), 3) if lags else None,
                  "errors": sorted({reason for _, reason in failed})[:5]},
        )
