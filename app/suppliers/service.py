"""Supplier orders: planned when an order is paid, placed exactly once, cancelled with the order.

The supplier does not dedupe. Exactly once comes from our side: one advisory lock per supplier
order (never two calls at once), the attempt committed before the call, and from the second
attempt on, a lookup by our reference before anything is posted again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import session_scope, utcnow
from app.evidence import service as evidence
from app.orders.models import Customer, DeliveryAddress, Order
from app.orders.service import STATUS_RANK
from app.outbox.service import enqueue
from app.shops.models import Shop
from app.suppliers import locks, resilience
from app.suppliers.client import Call, SupplierRejected, SupplierTemporaryError, client_for
from app.suppliers.models import Supplier, SupplierOrder

PLACE_TASK = "suppliers.place_order"
CANCEL_TASK = "suppliers.cancel_order"
CALLBACK_PATH = "/webhooks/suppliers/generic"
# The first call and eight retries; after that the supplier order is failed with the last error.
MAX_ATTEMPTS = 9


class SupplierOrderBusy(Exception):
    """Another task holds this supplier order's lock; try again shortly."""


def reference_for(shop_id: int, order_id: int, supplier_id: int) -> str:
    return f"dg-{shop_id}-{order_id}-{supplier_id}"


def default_supplier(session: Session, shop_id: int) -> Supplier | None:
    return session.scalar(
        select(Supplier)
        .where(Supplier.shop_id == shop_id, Supplier.is_default)
        .order_by(Supplier.id)
        .limit(1)
    )


def record_event(
    session: Session,
    shop: Shop,
    so: SupplierOrder,
    kind: str,
    data: dict[str, Any],
    *,
    source: str = "dropguard",
    personal: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> None:
    evidence.record(
        session,
        chain=shop.domain,
        shop_id=shop.id,
        order_id=so.order_id,
        kind=kind,
        source=source,
        occurred_at=occurred_at,
        data={"supplier_order_id": so.id, "reference": so.idempotency_key, "status": so.status, **data},
        personal=personal,
    )


def advance_order(order: Order, status: str) -> bool:
    """Move our pipeline forward only; a cancelled order stays cancelled."""
    if order.status == "cancelled" or STATUS_RANK[status] <= STATUS_RANK[order.status]:
        return False
    order.status = status
    return True


def plan_for_order(session: Session, order: Order) -> None:
    """One pending supplier order per (order, supplier), placed by a task after this commits."""
    if order.status == "cancelled":
        return
    shop = session.get(Shop, order.shop_id)
    supplier = default_supplier(session, order.shop_id)
    if supplier is None:
        evidence.record(
            session,
            chain=shop.domain,
            shop_id=shop.id,
            order_id=order.id,
            kind="supplier_order.unplanned",
            source="dropguard",
            data={"reason": "the shop has no default supplier"},
        )
        return
    statement = (
        insert(SupplierOrder)
        .values(
            shop_id=order.shop_id,
            order_id=order.id,
            supplier_id=supplier.id,
            idempotency_key=reference_for(order.shop_id, order.id, supplier.id),
            status="pending",
            attempts=0,
        )
        .on_conflict_do_nothing()
        .returning(SupplierOrder.id)
    )
    supplier_order_id = session.scalar(statement)
    if supplier_order_id is None:  # planned before: a duplicate or late paid signal
        return
    so = session.get(SupplierOrder, supplier_order_id)
    lines = [line for line in order.lines if line.quantity > 0]
    record_event(
        session,
        shop,
        so,
        "supplier_order.planned",
        {
            "supplier_id": supplier.id,
            "supplier": supplier.name,
            "lines": len(lines),
            "quantity": sum(line.quantity for line in lines),
        },
    )
    enqueue(session, PLACE_TASK, so.id)
    session.flush()


def cancel_for_order(session: Session, order: Order) -> None:
    """Stop what was not sent; ask the supplier to cancel what may have been."""
    shop = session.get(Shop, order.shop_id)
    supplier_orders = session.scalars(
        select(SupplierOrder)
        .where(SupplierOrder.shop_id == order.shop_id, SupplierOrder.order_id == order.id)
        .order_by(SupplierOrder.id)
        .with_for_update()
    )
    for so in supplier_orders:
        if so.status == "pending" and so.attempts == 0:
            so.status = "cancelled"
            record_event(
                session,
                shop,
                so,
                "supplier_order.cancelled",
                {"reason": "order cancelled before it was sent", "supplier_called": False},
            )
        elif so.status in ("pending", "placed", "confirmed"):
            # A pending order with attempts may exist at the supplier (an answer was lost).
            previous, so.status = so.status, "cancelling"
            record_event(
                session,
                shop,
                so,
                "supplier_order.cancel_requested",
                {"previous_status": previous, "external_id": so.external_id},
            )
            enqueue(session, CANCEL_TASK, so.id)
        elif so.status == "shipped":
            record_event(
                session,
                shop,
                so,
                "supplier_order.cancel_too_late",
                {"reason": "already shipped by the supplier", "external_id": so.external_id},
            )
    session.flush()


def _ship_to(address: DeliveryAddress | None, customer: Customer | None) -> dict[str, Any] | None:
    if address is None or not address.address1 or not address.country_code:
        return None
    # A parcel needs a name on it: the address's own, else the customer's.
    name = address.name or " ".join(
        filter(None, [customer and customer.first_name, customer and customer.last_name])
    )
    return {
        "name": name,
        "address1": address.address1,
        "address2": address.address2,
        "city": address.city,
        "province_code": address.province_code,
        "zip": address.zip,
        "country_code": address.country_code,
        "phone": address.phone,
    }


@dataclass
class Attempt:
    supplier_order_id: int
    order_id: int
    number: int
    reference: str
    supplier: Supplier
    body: dict[str, Any]


@dataclass
class Result:
    kind: str  # placed | found | rejected | temporary
    calls: list[Call]
    order: dict[str, Any] | None = None
    error: str | None = None
    code: str | None = None
    found: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _fail(session: Session, shop: Shop, so: SupplierOrder, reason: str, data: dict[str, Any]) -> str:
    so.status, so.last_error = "failed", reason
    record_event(session, shop, so, "supplier_order.failed", {"reason": reason, **data})
    return "failed"


def _begin_attempt(session: Session, supplier_order_id: int) -> Attempt | str:
    order, so = locks.lock_with_order(session, SupplierOrder, supplier_order_id)
    if so is None:
        return "missing"
    if so.status != "pending":
        return so.status
    shop = session.get(Shop, so.shop_id)
    if order.status == "cancelled":
        so.status = "cancelled"
        record_event(
            session,
            shop,
            so,
            "supplier_order.cancelled",
            {"reason": "order cancelled before it was sent", "supplier_called": False},
        )
        return "cancelled"
    customer = session.get(Customer, order.customer_id) if order.customer_id else None
    ship_to = _ship_to(session.get(DeliveryAddress, order.id), customer)
    lines = [
        {"sku": line.sku, "title": line.title, "quantity": line.quantity}
        for line in order.lines
        if line.quantity > 0
    ]
    if ship_to is None or not lines:
        reason = "the order has no shipping address" if ship_to is None else "the order has no items to ship"
        return _fail(session, shop, so, reason, {"supplier_called": False})
    so.attempts += 1
    record_event(
        session,
        shop,
        so,
        "supplier_order.attempt",
        {"attempt": so.attempts, "supplier_id": so.supplier_id, "lines": lines},
        personal={"ship_to": ship_to},
    )
    body = {
        "reference": so.idempotency_key,
        "shop": shop.domain,
        "lines": lines,
        "ship_to": ship_to,
        "callback_url": get_settings().public_base + CALLBACK_PATH,
    }
    supplier = session.get(Supplier, so.supplier_id)
    return Attempt(so.id, so.order_id, so.attempts, so.idempotency_key, supplier, body)


def _pick(found: list[dict[str, Any]]) -> dict[str, Any]:
    live = [order for order in found if order.get("status") != "cancelled"]
    return (live or found)[0]


def _call(attempt: Attempt, transport: httpx.BaseTransport | None) -> Result:
    calls: list[Call] = []
    try:
        with client_for(attempt.supplier, transport=transport) as client:
            calls = client.calls
            if attempt.number > 1:
                # The previous attempt's answer was lost: the order may exist already.
                found = client.find_orders(attempt.reference)
                if found:
                    return Result("found", calls, order=_pick(found), found=len(found))
            return Result("placed", calls, order=client.create_order(attempt.body))
    except SupplierRejected as error:
        return Result(
            "rejected", calls, error=error.message, code=error.code, extra={"http_status": error.status}
        )
    except SupplierTemporaryError as error:
        return Result("temporary", calls, error=error.message)


def _time(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _finish(session: Session, attempt: Attempt, result: Result) -> str:
    order, so = locks.lock_with_order(session, SupplierOrder, attempt.supplier_order_id)
    shop = session.get(Shop, so.shop_id)
    calls = [call.as_data() for call in result.calls]
    if result.kind in ("placed", "found"):
        external = result.order or {}
        external_id, supplier_status = str(external["id"]), external.get("status")
        if result.kind == "found":
            record_event(
                session,
                shop,
                so,
                "supplier_order.found_existing",
                {
                    "external_id": external_id,
                    "supplier_status": supplier_status,
                    "found": result.found,
                    "attempt": attempt.number,
                    "calls": calls,
                },
            )
            calls = []
        so.external_id = so.external_id or external_id
        so.placed_at = so.placed_at or _time(external.get("created_at")) or utcnow()
        so.last_error = None
        if so.status == "pending":
            so.status = "cancelled" if supplier_status == "cancelled" else "placed"
        if so.status in ("placed", "confirmed", "shipped"):
            advance_order(order, "supplier_ordered")
        record_event(
            session,
            shop,
            so,
            "supplier_order.placed",
            {
                "external_id": external_id,
                "supplier_status": supplier_status,
                "adopted": result.kind == "found",
                "attempt": attempt.number,
                "order_status": order.status,
                "calls": calls,
            },
        )
        return so.status
    if result.kind == "rejected":
        data = {"code": result.code, "attempt": attempt.number, "calls": calls, **result.extra}
        if so.status == "cancelling":  # refused, so there is nothing left to cancel
            so.status, so.last_error = "cancelled", result.error
            record_event(session, shop, so, "supplier_order.cancelled", {"reason": result.error, **data})
            return "cancelled"
        return _fail(session, shop, so, result.error or "refused by the supplier", data)
    so.last_error = result.error
    record_event(
        session,
        shop,
        so,
        "supplier_order.call_failed",
        {"error": result.error, "attempt": attempt.number, "calls": calls},
    )
    if so.status != "pending":  # a callback or a cancellation took over meanwhile
        return so.status
    if attempt.number >= MAX_ATTEMPTS:
        return _fail(
            session,
            shop,
            so,
            f"gave up after {attempt.number} attempts: {result.error}",
            {"attempt": attempt.number},
        )
    return "retry"


def place(supplier_order_id: int, *, transport: httpx.BaseTransport | None = None) -> str:
    """Place one supplier order, at most once at the supplier, whatever crashes or repeats.

    Owns its transactions: the attempt must be committed before the call. Raises SupplierOrderBusy
    when another task is placing it, SupplierTemporaryError when the call should be retried.
    """
    with locks.advisory_lock(locks.SUPPLIER_ORDER, supplier_order_id) as acquired:
        if not acquired:
            raise SupplierOrderBusy(f"supplier order {supplier_order_id} is being placed by another task")
        with session_scope() as session:
            # Held ("queued") while its supplier's circuit is open or earlier orders still wait.
            attempt = resilience.admit(session, supplier_order_id) or _begin_attempt(session, supplier_order_id)
        if isinstance(attempt, str):
            return attempt
        result = _call(attempt, transport)
        resilience.after_call(attempt.supplier, attempt.supplier_order_id, ok=result.kind != "temporary")
        with session_scope() as session:
            outcome = _finish(session, attempt, result)
    if outcome == "retry":
        raise SupplierTemporaryError(result.error or "temporary supplier error")
    return outcome
