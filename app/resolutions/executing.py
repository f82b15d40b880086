"""Carrying out an approved remedy, exactly once.

Refunds: refundCreate at the store with @idempotent(key:) derived from our ids, so a repeat (a
retried task, a second worker, a crash after the store answered) returns the first refund instead
of making another. The attempt is committed before the call and the result after it; the store
call holds no row lock or transaction. Reships: a new supplier order with its own idempotency key,
placed by the suppliers' exactly-once task. Store credit is granted by the merchant in the
store's admin; approving it here records that decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import httpx
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.db import session_scope, utcnow
from app.fulfilments.client import StoreClient, StoreError, StoreTemporaryError
from app.orders.models import Order
from app.outbox.service import enqueue
from app.resolutions import service
from app.resolutions.models import Resolution
from app.shops import guard
from app.shops import service as shops
from app.shops.models import Shop
from app.suppliers import service as suppliers
from app.suppliers.models import SupplierOrder

REFUND_CREATE = """
mutation Refund($input: RefundInput!, $key: String!) {
  refundCreate(input: $input) @idempotent(key: $key) {
    refund { id totalRefundedSet { shopMoney { amount currencyCode } } }
    userErrors { field message }
  }
}
"""
MAX_ATTEMPTS = 8


class RetryLater(Exception):
    """The store could not answer now; the task retries with backoff."""


@dataclass(frozen=True)
class RefundCall:
    resolution_id: int
    shop_domain: str
    access_token: str
    key: str
    variables: dict


def refund_key(resolution: Resolution) -> str:
    return f"dg-{resolution.shop_id}-{resolution.order_id}-refund-{resolution.id}"


def _lock(session: Session, resolution_id: int) -> Resolution | None:
    return session.scalar(select(Resolution).where(Resolution.id == resolution_id).with_for_update())


def _complete(session: Session, shop: Shop, resolution: Resolution, kind: str, data: dict) -> None:
    resolution.status, resolution.resolved_at, resolution.last_error = "completed", utcnow(), None
    service.record(session, shop, resolution, kind, data)
    service.notify(session, session.get(Order, resolution.order_id), resolution)


def _fail(session: Session, shop: Shop, resolution: Resolution, error: str) -> str:
    # Back in the merchant's queue with the reason: a refused refund must not vanish.
    resolution.status, resolution.last_error = "failed", error[:1000]
    service.record(session, shop, resolution, "resolution.failed", {"remedy": resolution.remedy, "error": error[:500]})
    return "failed"


def _reship(session: Session, shop: Shop, resolution: Resolution) -> str:
    supplier = suppliers.default_supplier(session, shop.id)
    if supplier is None:
        return _fail(session, shop, resolution, "the shop has no default supplier to reship from")
    key = f"{suppliers.reference_for(shop.id, resolution.order_id, supplier.id)}-rs{resolution.id}"
    so_id = session.scalar(
        insert(SupplierOrder)
        .values(shop_id=shop.id, order_id=resolution.order_id, supplier_id=supplier.id, idempotency_key=key,
                status="pending", attempts=0)
        .on_conflict_do_nothing()
        .returning(SupplierOrder.id)
    )
    if so_id is None:  # made by an earlier run that did not finish recording: reuse it
        so_id = session.scalar(select(SupplierOrder.id).where(SupplierOrder.idempotency_key == key))
    else:
        enqueue(session, suppliers.PLACE_TASK, so_id)
    resolution.reship_supplier_order_id = so_id
    _complete(session, shop, resolution, "resolution.reship_planned", {"supplier_order_id": so_id, "reference": key})
    return "completed"


def _begin(session: Session, resolution_id: int) -> RefundCall | str:
    resolution = _lock(session, resolution_id)
    if resolution is None:
        return "missing"
    if resolution.status != "approved":
        return resolution.status
    shop = session.get(Shop, resolution.shop_id)
    if skipped := guard.skipped_uninstalled(session, shop, "resolution", resolution.id, order_id=resolution.order_id):
        return skipped
    if resolution.remedy == "reship":
        return _reship(session, shop, resolution)
    if resolution.remedy == "store_credit":
        _complete(session, shop, resolution, "resolution.store_credit_recorded", {"issued_in": "store_admin"})
        return "completed"
    if resolution.remedy not in ("full_refund", "partial_refund") or not resolution.amount:
        return _fail(session, shop, resolution, f"nothing to carry out for remedy {resolution.remedy!r}")
    if resolution.attempts >= MAX_ATTEMPTS:
        return _fail(session, shop, resolution, "the store did not accept the refund after several attempts")
    order = session.get(Order, resolution.order_id)
    resolution.attempts += 1
    key = refund_key(resolution)
    amount = str(Decimal(resolution.amount).quantize(Decimal("0.01")))
    service.record(
        session, shop, resolution, "resolution.refund_attempt",
        {"attempt": resolution.attempts, "idempotency_key": key, "amount": amount, "currency": resolution.currency},
    )
    gid = f"gid://shopify/Order/{order.external_id}"
    variables = {
        "key": key,
        "input": {
            "orderId": gid,
            "note": f"Dropguard resolution {resolution.id} ({resolution.reason})",
            "notify": False,
            "transactions": [{"orderId": gid, "gateway": "manual", "kind": "REFUND", "amount": amount}],
        },
    }
    try:
        token = shops.access_token(shop)
    except Exception as error:  # uninstalled shop: a clear failure in the queue, not a retry loop
        return _fail(session, shop, resolution, str(error))
    return RefundCall(resolution.id, shop.domain, token, key, variables)


def _finish(session: Session, call: RefundCall, *, refund: dict | None, error: str | None) -> str:
    resolution = _lock(session, call.resolution_id)
    shop = session.get(Shop, resolution.shop_id)
    if resolution.status != "approved":
        return resolution.status
    if error:
        return _fail(session, shop, resolution, error)
    resolution.refund_id = refund["id"]
    _complete(
        session, shop, resolution, "resolution.refund_created",
        {"refund_id": refund["id"], "idempotency_key": call.key,
         "amount": ((refund.get("totalRefundedSet") or {}).get("shopMoney") or {}).get("amount")},
    )
    return "completed"


def execute(resolution_id: int, *, transport: httpx.BaseTransport | None = None) -> str:
    with session_scope() as session:
        begun = _begin(session, resolution_id)
    if isinstance(begun, str):
        return begun
    try:
        with StoreClient(shop_domain=begun.shop_domain, access_token=begun.access_token, transport=transport) as store:
            data = store.graphql(REFUND_CREATE, begun.variables)
    except StoreTemporaryError as error:
        with session_scope() as session:
            shop = session.get(Shop, session.get(Resolution, resolution_id).shop_id)
            service.record(session, shop, session.get(Resolution, resolution_id), "resolution.refund_attempt_failed",
                           {"error": error.message[:500], "will_retry": True})
        raise RetryLater(error.message) from error
    except StoreError as error:
        with session_scope() as session:
            return _finish(session, begun, refund=None, error=error.message)
    payload = data.get("refundCreate") or {}
    problems = "; ".join(str(e.get("message")) for e in payload.get("userErrors") or [])
    with session_scope() as session:
        if problems or not payload.get("refund"):
            return _finish(session, begun, refund=None, error=problems or "the store returned no refund")
        return _finish(session, begun, refund=payload["refund"], error=None)


def give_up(resolution_id: int, *, error: str) -> None:
    """The last retry failed too: make it visible in the merchant's queue."""
    with session_scope() as session:
        resolution = _lock(session, resolution_id)
        if resolution is not None and resolution.status == "approved":
            _fail(session, session.get(Shop, resolution.shop_id), resolution, error)
