"""Carrying out an approved remedy, exactly once.

Refunds are asked of app.refunds (one implementation for claims, disputes and alerts): a refund
row with a key derived from the resolution's id, issued at the store by the refunds task, and the
claim completed only when the store confirmed the money went back (`refund_settled`). Reships: a
new supplier order with its own idempotency key, placed by the suppliers' exactly-once task, and the
claim completed only when the supplier accepted it (`reship_settled`, told by app.resolutions.reships).
A reship the supplier refuses reopens the claim with the next remedy offered to the customer: a full
refund. Store credit is granted by the merchant in the store's admin; approving it here records that
decision.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app import exactly_once
from app.db import session_scope, utcnow
from app.orders.models import Order
from app.outbox.service import enqueue
from app.refunds import reasons
from app.refunds import service as refunds
from app.refunds.models import Refund
from app.resolutions import policy as policies
from app.resolutions import reships, service
from app.resolutions.models import Resolution
from app.shops import guard
from app.shops.models import Shop
from app.suppliers import service as suppliers
from app.suppliers.models import SupplierOrder

REFUND_REMEDIES = ("full_refund", "partial_refund")


def refund_key(resolution: Resolution, number: int = 1) -> str:
    """The idempotency key of the resolution's `number`-th refund (a later one follows a failed one)."""
    base = f"dg-{resolution.shop_id}-{resolution.order_id}-refund-{resolution.id}"
    return base if number == 1 else f"{base}-{number}"


def _lock(session: Session, resolution_id: int) -> tuple[Resolution | None, Order | None]:
    """The order's lock first (a refund may be asked for), then the claim."""
    order, resolution = exactly_once.lock_after_store_order(session, Resolution, resolution_id)
    return resolution, order


def _complete(session: Session, shop: Shop, order: Order, resolution: Resolution, kind: str, data: dict) -> None:
    resolution.status, resolution.resolved_at, resolution.last_error = "completed", utcnow(), None
    service.record(session, shop, resolution, kind, data)
    service.notify(session, order, resolution)


def _fail(session: Session, shop: Shop, resolution: Resolution, error: str) -> str:
    # Back in the merchant's queue with the reason: a refused refund must not vanish.
    resolution.status, resolution.last_error = "failed", error[:1000]
    service.record(session, shop, resolution, "resolution.failed", {"remedy": resolution.remedy, "error": error[:500]})
    return "failed"


def _reship(session: Session, shop: Shop, order: Order, resolution: Resolution) -> str:
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
    # Asked for, not made: the claim completes when the supplier accepts it (reship_settled).
    service.record(session, shop, resolution, "resolution.reship_requested",
                   {"supplier_order_id": so_id, "reference": key, "supplier_id": supplier.id})
    return "reship_requested"


def _refund(session: Session, shop: Shop, order: Order, resolution: Resolution) -> str:
    # A run again (a retried task) finds the refund it asked for under the same key; only a failed
    # one makes room for the next.
    failed = session.scalar(select(func.count()).select_from(Refund).where(
        Refund.resolution_id == resolution.id, Refund.status == "failed"))
    key = refund_key(resolution, failed + 1)
    if session.scalar(select(Refund.id).where(Refund.shop_id == shop.id, Refund.idempotency_key == key)):
        return "refund_requested"
    try:
        refund = refunds.request_refund(
            session, shop, order, amount=resolution.amount, reason=reasons.from_claim(resolution.reason),
            issued_by="resolution", key=key, resolution_id=resolution.id,
            note=f"Dropguard resolution {resolution.id} ({resolution.reason})",
        )
    except refunds.RefundError as error:
        return _fail(session, shop, resolution, f"the refund cannot be made: {error.message}")
    service.record(session, shop, resolution, "resolution.refund_requested",
                   {"refund_id": refund.id, "amount": str(refund.amount), "idempotency_key": key})
    return "refund_requested"


def execute(resolution_id: int) -> str:
    """Carry out an approved resolution (its refund is then issued by the refunds task)."""
    with session_scope() as session:
        resolution, order = _lock(session, resolution_id)
        if resolution is None:
            return "missing"
        if resolution.status != "approved":
            return resolution.status
        shop = session.get(Shop, resolution.shop_id)
        if skipped := guard.skipped_uninstalled(session, shop, "resolution", resolution.id, order_id=resolution.order_id):
            return skipped
        if resolution.remedy == "reship":
            if resolution.reship_supplier_order_id is not None:  # a run again: asked for already
                return "reship_requested"
            return _reship(session, shop, order, resolution)
        if resolution.remedy == "store_credit":
            _complete(session, shop, order, resolution, "resolution.store_credit_recorded", {"issued_in": "store_admin"})
            return "completed"
        if resolution.remedy not in REFUND_REMEDIES or not resolution.amount:
            return _fail(session, shop, resolution, f"nothing to carry out for remedy {resolution.remedy!r}")
        return _refund(session, shop, order, resolution)


def refund_settled(resolution_id: int) -> str:
    """The resolution's refund was confirmed by the store (the claim is completed) or failed."""
    with session_scope() as session:
        resolution, order = _lock(session, resolution_id)
        if resolution is None:
            return "missing"
        refund = session.scalar(select(Refund).where(Refund.resolution_id == resolution.id)
                                .order_by(Refund.id.desc()).limit(1))
        if resolution.status != "approved" or refund is None:
            return resolution.status
        shop = session.get(Shop, resolution.shop_id)
        if refund.status == "confirmed":
            _complete(session, shop, order, resolution, "resolution.refund_confirmed",
                      {"refund_id": refund.id, "external_id": refund.external_id, "amount": str(refund.amount)})
            return "completed"
        if refund.status == "failed":
            return _fail(session, shop, resolution, refund.last_error or "the store did not make the refund")
        return resolution.status


def _reopen(session: Session, shop: Shop, order: Order, resolution: Resolution, so: SupplierOrder) -> str:
    """The reship will not happen: the customer is offered the next remedy (a refund) and told."""
    error = so.last_error or f"the supplier order ended {so.status}"
    service.record(session, shop, resolution, "resolution.reship_refused",
                   {"supplier_order_id": so.id, "supplier_status": so.status, "error": error[:500]})
    offer = policies.refund_instead(policies.for_shop(shop), resolution.reason, total=order.total_price,
                                    currency=order.currency, shop_currency=shop.currency)
    resolution.status, resolution.remedy, resolution.amount, resolution.accepted_at = "offered", None, None, None
    resolution.offers = [{**offer.as_json(), "after": "reship_refused"}]
    resolution.last_error = f"the supplier refused the reship: {error}"[:1000]
    service.record(session, shop, resolution, "resolution.reopened",
                   {"why": "reship_refused", "offers": resolution.offers})
    service.notify(session, order, resolution, status="reopened", occurrence=f"{resolution.id}.reopened.{so.id}")
    return "reopened"


def reship_settled(resolution_id: int) -> str:
    """The claim's reship reached an end at the supplier: accepted (the claim is completed) or
    refused (the claim is reopened with a refund offered)."""
    with session_scope() as session:
        resolution, order = _lock(session, resolution_id)
        if resolution is None:
            return "missing"
        if resolution.status != "approved" or resolution.remedy != "reship" or not resolution.reship_supplier_order_id:
            return resolution.status  # told twice, or already moved on
        so = session.get(SupplierOrder, resolution.reship_supplier_order_id)
        shop = session.get(Shop, resolution.shop_id)
        if so.status in reships.ACCEPTED:
            _complete(session, shop, order, resolution, "resolution.reship_confirmed",
                      {"supplier_order_id": so.id, "external_id": so.external_id, "supplier_status": so.status})
            return "completed"
        if so.status in reships.REFUSED:
            return _reopen(session, shop, order, resolution, so)
        return resolution.status
