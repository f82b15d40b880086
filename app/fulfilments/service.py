"""Shipments and their fulfilments in the store, pushed exactly once.

Same discipline as supplier orders: one advisory lock per shipment, the attempt committed before
the call, and every push first reads the order's fulfilments so a lost answer is adopted, never
repeated (the store would refuse the second one anyway, but only after a confusing error).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app import exactly_once
from app.db import utcnow
from app.errors import AppError
from app.evidence import service as evidence
from app.external_calls import Call
from app.fulfilments import updates
from app.fulfilments.client import (
    FULFILLMENT_CREATE,
    ORDER_QUERY,
    StoreClient,
    StoreError,
    StoreTemporaryError,
)
from app.fulfilments.models import Shipment
from app.orders.models import Order, OrderLine
from app.shops import guard
from app.shops import service as shops
from app.shops.models import Shop
from app.suppliers.tables import SupplierOrderLine
from app.tracking import service as tracking

# The first push and eight retries; then the shipment is failed with the last error.
MAX_ATTEMPTS = 9
_OPEN_STATUSES = ("OPEN", "IN_PROGRESS")


class ShipmentBusy(Exception):
    """Another task is pushing this shipment; try again shortly."""


def _record(
    session: Session,
    shop: Shop,
    shipment: Shipment,
    kind: str,
    data: dict[str, Any],
    *,
    occurred_at: datetime | None = None,
) -> None:
    evidence.record(
        session,
        chain=shop.domain,
        shop_id=shop.id,
        order_id=shipment.order_id,
        kind=kind,
        source="dropguard",
        occurred_at=occurred_at,
        data={"shipment_id": shipment.id, "tracking_number": shipment.tracking_number, **data},
    )


def create_shipment(
    session: Session,
    *,
    shop: Shop,
    order: Order,
    supplier_order_id: int,
    tracking_number: str,
    carrier: str | None,
    tracking_url: str | None,
    shipped_at: datetime,
) -> Shipment | None:
    """A new shipment for a tracking number, or None when that tracking number is already known."""
    if len(tracking_number) > 64:
        raise AppError("tracking number is longer than 64 characters")
    if tracking_url and (len(tracking_url) > 1024 or not tracking_url.startswith(("https://", "http://"))):
        tracking_url = None  # a link we cannot store or trust is dropped; the number is what counts
    shipment_id = session.scalar(
        insert(Shipment)
        .values(
            shop_id=shop.id,
            order_id=order.id,
            supplier_order_id=supplier_order_id,
            tracking_number=tracking_number,
            carrier=(carrier or None) and str(carrier)[:64],
            tracking_url=tracking_url,
            status="info_received",
            store_status="pending",
            store_attempts=0,
            shipped_at=shipped_at,
        )
        .on_conflict_do_nothing(index_elements=["supplier_order_id", "tracking_number"])
        .returning(Shipment.id)
    )
    if shipment_id is None:
        return None
    shipment = session.get(Shipment, shipment_id)
    _record(
        session,
        shop,
        shipment,
        "shipment.created",
        {
            "supplier_order_id": supplier_order_id,
            "carrier": shipment.carrier,
            "tracking_url": shipment.tracking_url,
        },
        occurred_at=shipped_at,
    )
    # Number check (an invalid one is flagged before any customer sees it), estimate, aggregator.
    tracking.on_shipment_created(session, shop, order, shipment)
    return shipment


def announceable(shipment: Shipment) -> bool:
    """Whether the shipped message may go out (False while the tracking number is flagged invalid)."""
    return tracking.announceable(shipment)


@dataclass
class _Attempt:
    shipment_id: int
    number: int
    shop_domain: str
    access_token: str
    order_gid: str
    tracking: dict[str, str]
    # The store line items (legacy id -> quantity) this parcel carries; None = every remaining item.
    lines: dict[int, int] | None = None


@dataclass
class _Result:
    kind: str  # pushed | found | rejected | temporary
    calls: list[Call]
    fulfillment: dict[str, Any] | None = None
    error: str | None = None
    attached: bool = False  # added to an earlier parcel's fulfilment (see _call)


def _fail(session: Session, shop: Shop, shipment: Shipment, reason: str, data: dict[str, Any]) -> str:
    shipment.store_status, shipment.last_error = "failed", reason
    _record(session, shop, shipment, "fulfilment.failed", {"reason": reason, **data})
    return "failed"


def _begin(session: Session, shipment_id: int) -> _Attempt | str:
    order, shipment = exactly_once.lock_with_order(session, Shipment, shipment_id)
    if shipment is None:
        return "missing"
    if shipment.store_status != "pending":
        return shipment.store_status
    shop = session.get(Shop, shipment.shop_id)
    if skipped := guard.skipped_uninstalled(session, shop, "fulfilment", shipment.id, order_id=shipment.order_id):
        return skipped
    if shop.access_token_encrypted is None:
        return _fail(session, shop, shipment, "the shop is not installed", {"store_called": False})
    if order.status == "cancelled":
        return _fail(session, shop, shipment, "the order is cancelled", {"store_called": False})
    shipment.store_attempts += 1
    _record(session, shop, shipment, "fulfilment.attempt", {"attempt": shipment.store_attempts})
    tracking = {"number": shipment.tracking_number}
    if shipment.carrier:
        tracking["company"] = shipment.carrier
    if shipment.tracking_url:
        tracking["url"] = shipment.tracking_url
    return _Attempt(
        shipment.id,
        shipment.store_attempts,
        shop.domain,
        shops.access_token(shop),
        f"gid://shopify/Order/{order.external_id}",
        tracking,
        _parcel_lines(session, order, shipment),
    )


def _parcel_lines(session: Session, order: Order, shipment: Shipment) -> dict[int, int] | None:
    """The order lines this shipment's supplier order carries, when it carries only some of them
    (the order was split between suppliers); None when it carries them all or says nothing."""
    rows = session.execute(
        select(OrderLine.external_id, SupplierOrderLine.quantity)
        .join(SupplierOrderLine, SupplierOrderLine.order_line_id == OrderLine.id)
        .where(SupplierOrderLine.supplier_order_id == shipment.supplier_order_id)
    ).all()
    all_lines = set(session.scalars(select(OrderLine.external_id).where(OrderLine.order_id == order.id)))
    if not rows or {external_id for external_id, _ in rows} >= all_lines:
        return None
    wanted: dict[int, int] = {}
    for external_id, quantity in rows:
        wanted[external_id] = wanted.get(external_id, 0) + quantity
    return wanted


def _legacy_id(gid: Any) -> int | None:
    tail = str(gid or "").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _line_items_by_fulfillment_order(
    open_orders: list[dict[str, Any]], lines: dict[int, int] | None
) -> list[dict[str, Any]]:
    """fulfillmentCreate's lineItemsByFulfillmentOrder: every remaining item, or only this parcel's."""
    if lines is None:
        return [{"fulfillmentOrderId": node["id"]} for node in open_orders]
    wanted, groups = dict(lines), []
    for node in open_orders:
        items = []
        for item in (node.get("lineItems") or {}).get("nodes", []):
            line_id = _legacy_id((item.get("lineItem") or {}).get("id"))
            quantity = min(int(item.get("remainingQuantity") or 0), wanted.get(line_id, 0))
            if quantity > 0:
                wanted[line_id] -= quantity
                items.append({"id": item["id"], "quantity": quantity})
        if items:
            groups.append({"fulfillmentOrderId": node["id"], "fulfillmentOrderLineItems": items})
    return groups


def _numbers(fulfillment: dict[str, Any]) -> set[str]:
    info = fulfillment.get("trackingInfo") or []
    infos = info if isinstance(info, list) else [info]
    return {str(item.get("number")) for item in infos if isinstance(item, dict) and item.get("number")}


def _open_orders(order: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = ((order.get("fulfillmentOrders") or {}).get("nodes")) or []
    return [
        node
        for node in nodes
        if node.get("status") in _OPEN_STATUSES
        and any(
            int(item.get("remainingQuantity") or 0) > 0
            for item in (node.get("lineItems") or {}).get("nodes", [])
        )
    ]


def _call(attempt: _Attempt, transport: httpx.BaseTransport | None) -> _Result:
    calls: list[Call] = []
    try:
        with StoreClient(
            shop_domain=attempt.shop_domain, access_token=attempt.access_token, transport=transport
        ) as client:
            calls = client.calls
            order = client.graphql(ORDER_QUERY, {"id": attempt.order_gid}).get("order")
            if not order:
                return _Result("rejected", calls, error=f"order {attempt.order_gid} not found in the store")
            # A push whose answer was lost left its fulfilment behind: adopt it.
            for fulfillment in order.get("fulfillments") or []:
                if attempt.tracking["number"] in _numbers(fulfillment):
                    return _Result("found", calls, fulfillment=fulfillment)
            groups = _line_items_by_fulfillment_order(_open_orders(order), attempt.lines)
            if not groups:
                # A later parcel whose items an earlier parcel already fulfilled (suppliers say which
                # order lines a supplier order carries, not which items travel in which of its
                # parcels): its number is added to that fulfilment's tracking (Shopify shows all).
                attached = updates.attach_number(client, order, attempt.tracking)
                if attached is not None:
                    return _Result("pushed", calls, fulfillment=attached, attached=True)
                return _Result(
                    "rejected", calls, error="no open fulfillment order (fulfilled or closed in the store)"
                )
            variables = {
                "fulfillment": {
                    "lineItemsByFulfillmentOrder": groups,
                    "trackingInfo": attempt.tracking,
                    # The customer hears from us (the shipped notification), not twice.
                    "notifyCustomer": False,
                }
            }
            created = client.graphql(FULFILLMENT_CREATE, variables).get("fulfillmentCreate") or {}
            errors = created.get("userErrors") or []
            if errors or not created.get("fulfillment"):
                message = (
                    "; ".join(str(error.get("message")) for error in errors) or "no fulfillment returned"
                )
                return _Result("rejected", calls, error=message[:500])
            return _Result("pushed", calls, fulfillment=created["fulfillment"])
    except StoreTemporaryError as error:
        return _Result("temporary", calls, error=error.message)
    except StoreError as error:
        return _Result("rejected", calls, error=error.message)


def _finish(session: Session, attempt: _Attempt, result: _Result) -> str:
    _, shipment = exactly_once.lock_with_order(session, Shipment, attempt.shipment_id)
    shop = session.get(Shop, shipment.shop_id)
    calls = [call.as_data() for call in result.calls]
    if result.kind in ("pushed", "found"):
        fulfillment_id = str(result.fulfillment["id"])
        if result.kind == "found":
            _record(
                session,
                shop,
                shipment,
                "fulfilment.found_existing",
                {"fulfillment_id": fulfillment_id, "attempt": attempt.number},
            )
        shipment.store_status, shipment.store_fulfillment_id = "pushed", fulfillment_id
        shipment.pushed_at, shipment.last_error = utcnow(), None
        _record(
            session,
            shop,
            shipment,
            "fulfilment.pushed",
            {
                "fulfillment_id": fulfillment_id,
                "adopted": result.kind == "found",
                "attached": result.attached,
                "carrier": shipment.carrier,
                "attempt": attempt.number,
                "calls": calls,
            },
        )
        return "pushed"
    if result.kind == "rejected":
        return _fail(
            session,
            shop,
            shipment,
            result.error or "refused by the store",
            {"attempt": attempt.number, "calls": calls},
        )
    shipment.last_error = result.error
    _record(
        session,
        shop,
        shipment,
        "fulfilment.call_failed",
        {"error": result.error, "attempt": attempt.number, "calls": calls},
    )
    if attempt.number >= MAX_ATTEMPTS:
        return _fail(
            session,
            shop,
            shipment,
            f"gave up after {attempt.number} attempts: {result.error}",
            {"attempt": attempt.number},
        )
    return "retry"


def push_to_store(shipment_id: int, *, transport: httpx.BaseTransport | None = None) -> str:
    """Create the store fulfilment for one shipment, once. Owns its transactions.

    Raises ShipmentBusy while another task pushes it, StoreTemporaryError to be retried.
    """
    outcome, result = exactly_once.carry_out(
        exactly_once.STORE_FULFILMENT, shipment_id, begin=lambda session: _begin(session, shipment_id),
        call=lambda attempt: _call(attempt, transport), finish=_finish,
        busy=lambda: ShipmentBusy(f"shipment {shipment_id} is being pushed by another task"),
    )
    if outcome == "retry":
        raise StoreTemporaryError(result.error or "temporary store error")
    return outcome
