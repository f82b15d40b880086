"""Supplier orders: planned when an order is paid, placed exactly once, cancelled with the order.

Suppliers differ in what they let us ask (app.suppliers.adapters.base). Exactly once comes from
our side: one advisory lock per supplier order (never two calls at once), the attempt committed
before the call, and from the second attempt on a lookup by our reference before anything is
posted again. Where no such lookup exists (AliExpress), a create that may have been applied is
never re-sent: the supplier order waits for reconciliation (app.suppliers.reconcile).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import exactly_once
from app.config import get_settings
from app.db import session_scope, utcnow
from app.external_calls import Call
from app.orders.models import Order
from app.outbox.service import enqueue
from app.resolutions import reships
from app.shops import guard
from app.shops.models import Shop
from app.suppliers import ordering, resilience
from app.suppliers.adapters import adapter_class, get_adapter
from app.suppliers.adapters.base import OrderLineRequest, OrderRequest
from app.suppliers.client import SupplierTemporaryError
from app.suppliers.events import (
    CANCEL_TASK,
    FIRST_POLL_DELAY,
    PLACE_TASK,
    advance_order,
    record_event,
    reference_for,
)
from app.suppliers.models import Supplier, SupplierOrder
from app.suppliers.protocols import OrderSnapshot, PlacedOrder, SupplierDuplicateOrder, SupplierError
from app.suppliers.protocols import SupplierOrderState as S
from app.suppliers.tables import SupplierOrderLine

__all__ = ["CANCEL_TASK", "PLACE_TASK", "advance_order", "reference_for", "record_event"]

CALLBACK_PATH = "/webhooks/suppliers/generic"
# The first call and eight retries; after that the supplier order is failed with the last error.
MAX_ATTEMPTS = 9
# Written before each call and replaced by its outcome: still there on the next attempt means the
# process died while the request was out, so it may have been applied.
IN_FLIGHT = "sent, no answer recorded"
# Refusals that another supplier may not share: its lines go to the next mapped supplier.
FALLBACK_KINDS = frozenset({"out_of_stock", "rejected"})


class SupplierOrderBusy(Exception):
    """Another task holds this supplier order's lock; try again shortly."""


def default_supplier(session: Session, shop_id: int) -> Supplier | None:
    return session.scalar(
        select(Supplier).where(Supplier.shop_id == shop_id, Supplier.is_default).order_by(Supplier.id).limit(1)
    )


def plan_for_order(session: Session, order: Order) -> None:
    """Contract D: called when an order becomes paid (any number of times)."""
    ordering.plan(session, order)


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
            record_event(session, shop, so, "supplier_order.cancelled",
                         {"reason": "order cancelled before it was sent", "supplier_called": False})
        elif so.status in ("pending", "placed", "confirmed", "reconciling"):
            # A pending order with attempts may exist at the supplier (an answer was lost).
            previous, so.status = so.status, "cancelling"
            record_event(session, shop, so, "supplier_order.cancel_requested",
                         {"previous_status": previous, "external_id": so.external_id})
            enqueue(session, CANCEL_TASK, so.id)
        elif so.status == "shipped":
            record_event(session, shop, so, "supplier_order.cancel_too_late",
                         {"reason": "already shipped by the supplier", "external_id": so.external_id})
    session.flush()


@dataclass
class Attempt:
    supplier_order_id: int
    order_id: int
    number: int
    reference: str
    supplier: Supplier
    request: OrderRequest


@dataclass
class Result:
    kind: str  # placed | found | rejected | temporary
    calls: list[Call]
    external_ids: tuple[str, ...] = ()
    supplier_status: str | None = None
    state: S | None = None
    created_at: datetime | None = None
    error: str | None = None
    code: str | None = None
    error_kind: str | None = None
    ambiguous: bool = False  # may have been applied, and the supplier cannot be asked
    found: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _fail(session: Session, shop: Shop, so: SupplierOrder, reason: str, data: dict[str, Any]) -> str:
    so.status, so.last_error = "failed", reason
    record_event(session, shop, so, "supplier_order.failed", {"reason": reason, **data})
    reships.supplier_order_settled(session, so.id, so.status)  # a claim's reship: its claim moves on
    return "failed"


def _lines(session: Session, so: SupplierOrder, order: Order) -> list[OrderLineRequest]:
    own = session.scalars(select(SupplierOrderLine).where(SupplierOrderLine.supplier_order_id == so.id)
                          .order_by(SupplierOrderLine.id)).all()
    if own:
        return [OrderLineRequest(supplier_sku=line.supplier_sku or "", quantity=line.quantity, title=line.title,
                                 variant=line.supplier_variant, unit_cost=line.unit_cost, currency=line.currency)
                for line in own]
    # Planned before supplier order lines existed: the whole order by store SKU.
    return [OrderLineRequest(supplier_sku=line.sku or "", quantity=line.quantity, title=line.title)
            for line in order.lines if line.quantity > 0]


def _shipping_method(session: Session, so: SupplierOrder) -> str | None:
    return session.scalar(select(SupplierOrderLine.shipping_method).where(
        SupplierOrderLine.supplier_order_id == so.id, SupplierOrderLine.shipping_method.is_not(None)).limit(1))


def _reconcile(session: Session, shop: Shop, order: Order, so: SupplierOrder, why: str, data: dict[str, Any]) -> str:
    so.status, so.last_error = "reconciling", why
    record_event(session, shop, so, "supplier_order.reconcile_needed", {"reason": why, **data})
    ordering.raise_flag(session, shop, order, "reconcile",
                        f"{why}: check the supplier account for reference {so.idempotency_key}",
                        {"supplier_order_id": so.id, "reference": so.idempotency_key})
    return "reconciling"


def _begin_attempt(session: Session, supplier_order_id: int) -> Attempt | str:
    order, so = exactly_once.lock_with_order(session, SupplierOrder, supplier_order_id)
    if so is None:
        return "missing"
    if so.status != "pending":
        return so.status
    shop = session.get(Shop, so.shop_id)
    if skipped := guard.skipped_uninstalled(session, shop, "supplier_order", so.id, order_id=so.order_id):
        return skipped
    if order.status == "cancelled":
        so.status = "cancelled"
        record_event(session, shop, so, "supplier_order.cancelled",
                     {"reason": "order cancelled before it was sent", "supplier_called": False})
        return "cancelled"
    supplier = session.get(Supplier, so.supplier_id)
    capabilities = adapter_class(supplier.protocol)
    if so.attempts and (so.last_error or "").startswith(IN_FLIGHT) and capabilities and not capabilities.finds_by_reference:
        return _reconcile(session, shop, order, so, "an earlier attempt was cut off while its request was out",
                          {"attempt": so.attempts})
    checked = ordering.check_address(session, shop, order)
    lines = _lines(session, so, order)
    if not checked.ok or not lines:
        if not checked.ok:
            ordering.raise_flag(session, shop, order, "address", "; ".join(checked.problems),
                                {"fields": checked.fields}, personal={"problems": checked.problems})
        reason = "the shipping address cannot be used" if not checked.ok else "the order has no items to ship"
        return _fail(session, shop, so, reason, {"supplier_called": False, "fields": checked.fields})
    so.attempts += 1
    so.last_error = f"{IN_FLIGHT} (attempt {so.attempts})"
    a = checked.address
    ship_to = {"name": a.name, "address1": a.address1, "address2": a.address2, "city": a.city,
               "province_code": a.province_code, "zip": a.zip, "country_code": a.country_code, "phone": a.phone}
    line_data = [{"sku": line.supplier_sku, "title": line.title, "quantity": line.quantity} for line in lines]
    record_event(session, shop, so, "supplier_order.attempt",
                 {"attempt": so.attempts, "supplier_id": so.supplier_id, "lines": line_data},
                 personal={"ship_to": ship_to})
    request = OrderRequest(reference=so.idempotency_key, shop_domain=shop.domain, address=a, lines=tuple(lines),
                           shipping_method=_shipping_method(session, so), currency=order.currency,
                           callback_url=get_settings().public_base + CALLBACK_PATH)
    return Attempt(so.id, so.order_id, so.attempts, so.idempotency_key, supplier, request)


def _pick(found: list[OrderSnapshot]) -> OrderSnapshot:
    live = [order for order in found if order.state != S.CANCELLED]
    return (live or found)[0]


def _time(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _adopted(calls: list[Call], found: list[OrderSnapshot]) -> Result:
    best = _pick(found)
    return Result("found", calls, external_ids=(best.external_id,), supplier_status=best.raw_status,
                  state=best.state, created_at=_time(best.raw.get("created_at")), found=len(found))


def _placed(calls: list[Call], placed: PlacedOrder) -> Result:
    return Result("placed", calls, external_ids=placed.external_ids, supplier_status=placed.raw_status,
                  state=placed.state, created_at=_time(placed.raw.get("created_at")))


def may_have_applied(error: SupplierError) -> bool:
    """Whether a failed create may exist at the supplier. Refused before any work: a connect
    failure, 429/503 (the front door turned us away), a gateway error code."""
    if not error.retryable or not error.sent or error.code:
        return False
    return error.http_status not in (429, 503)


def _call(attempt: Attempt, transport: httpx.BaseTransport | None) -> Result:
    calls: list[Call] = []
    finds = False
    try:
        with get_adapter(attempt.supplier, transport=transport) as adapter:
            calls, finds = adapter.calls, adapter.finds_by_reference
            if attempt.number > 1 and finds:
                # The previous attempt's answer was lost: the order may exist already.
                found = adapter.find_order_by_reference(attempt.reference)
                if found:
                    return _adopted(calls, found)
            try:
                return _placed(calls, adapter.place_order(attempt.request))
            except SupplierDuplicateOrder:
                found = adapter.find_order_by_reference(attempt.reference)  # CJ holds it already
                if found:
                    return _adopted(calls, found)
                raise
    except SupplierError as error:
        if error.retryable or isinstance(error, SupplierDuplicateOrder):
            return Result("temporary", calls, error=error.message, code=error.code,
                          ambiguous=not finds and may_have_applied(error))
        return Result("rejected", calls, error=error.message, code=error.code, error_kind=error.kind,
                      extra={"http_status": error.http_status})


def _finish_placed(session: Session, shop: Shop, order: Order, so: SupplierOrder, attempt: Attempt,
                   result: Result, calls: list[dict[str, Any]]) -> str:
    external_id = ",".join(result.external_ids)[:128]
    if result.kind == "found":
        record_event(session, shop, so, "supplier_order.found_existing",
                     {"external_id": external_id, "supplier_status": result.supplier_status,
                      "found": result.found, "attempt": attempt.number, "calls": calls})
        calls = []
    so.external_id = so.external_id or external_id
    so.placed_at = so.placed_at or result.created_at or utcnow()
    so.last_error = None
    if so.status == "pending":
        so.status = {S.CANCELLED: "cancelled", S.CONFIRMED: "confirmed"}.get(result.state, "placed")
        if so.status == "confirmed":  # paid in the create (CJ pay from balance)
            so.confirmed_at = so.confirmed_at or utcnow()
    if so.status in ("placed", "confirmed", "shipped"):
        advance_order(order, "supplier_ordered")
    capabilities = adapter_class(attempt.supplier.protocol)
    if capabilities and not capabilities.has_order_webhooks and so.status in ("placed", "confirmed"):
        so.poll_after, so.polls = utcnow() + FIRST_POLL_DELAY, 0
    record_event(session, shop, so, "supplier_order.placed",
                 {"external_id": external_id, "external_ids": list(result.external_ids),
                  "supplier_status": result.supplier_status, "adopted": result.kind == "found",
                  "attempt": attempt.number, "order_status": order.status, "calls": calls})
    reships.supplier_order_settled(session, so.id, so.status)  # a claim's reship: confirmed
    return so.status


def _finish(session: Session, attempt: Attempt, result: Result) -> str:
    order, so = exactly_once.lock_with_order(session, SupplierOrder, attempt.supplier_order_id)
    shop = session.get(Shop, so.shop_id)
    calls = [call.as_data() for call in result.calls]
    if result.kind in ("placed", "found"):
        return _finish_placed(session, shop, order, so, attempt, result, calls)
    if result.kind == "rejected":
        data = {"code": result.code, "kind": result.error_kind, "attempt": attempt.number, "calls": calls,
                **result.extra}
        if so.status == "cancelling":  # refused, so there is nothing left to cancel
            so.status, so.last_error = "cancelled", result.error
            record_event(session, shop, so, "supplier_order.cancelled", {"reason": result.error, **data})
            return "cancelled"
        status = _fail(session, shop, so, result.error or "refused by the supplier", data)
        # A claim's refused reship goes back to its claim (the customer's next remedy), not to
        # another supplier or the order's stock-out choice.
        if reships.claim_of(session, so.id) is not None:
            return status
        if order.status != "cancelled" and result.error_kind in FALLBACK_KINDS:
            ordering.fall_back(session, shop, order, so, result.error_kind)
        elif order.status != "cancelled" and result.error_kind == "invalid_address":
            ordering.raise_flag(session, shop, order, "address", f"the supplier refused the address: {result.error}",
                                {"supplier_order_id": so.id, "code": result.code})
        return status
    so.last_error = result.error
    record_event(session, shop, so, "supplier_order.call_failed",
                 {"error": result.error, "attempt": attempt.number, "calls": calls})
    if so.status != "pending":  # a callback or a cancellation took over meanwhile
        return so.status
    if result.ambiguous:
        return _reconcile(session, shop, order, so, "the supplier's answer was lost and it cannot be asked",
                          {"attempt": attempt.number, "error": result.error})
    if attempt.number >= MAX_ATTEMPTS:
        return _fail(session, shop, so, f"gave up after {attempt.number} attempts: {result.error}",
                     {"attempt": attempt.number})
    return "retry"


def place(supplier_order_id: int, *, transport: httpx.BaseTransport | None = None) -> str:
    """Place one supplier order, at most once at the supplier, whatever crashes or repeats.

    Owns its transactions: the attempt must be committed before the call. Raises SupplierOrderBusy
    when another task is placing it, SupplierTemporaryError when the call should be retried.
    """
    with exactly_once.advisory_lock(exactly_once.SUPPLIER_ORDER, supplier_order_id) as acquired:
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

