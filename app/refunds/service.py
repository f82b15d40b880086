"""Refund records: requested by us, reported by the store, read by the order page, disputes, risk
and insights.

Every refund of an order is one row, whoever made it. The store's report (refunds/create, our own
refundCreate's answer, a later read, the history import) is matched to the row it describes: by
the store's refund id, else by the idempotency key our note carries, else it is a refund made in
the store admin and gets its own row. So deliveries in any order, twice, or racing our own answer
converge on one row per refund, never counted twice.

Lock order (the one every writer of an order follows, as app.orders.service does): the order's
advisory lock, then the refund row, then the ledger. `request_refund` therefore takes it first,
and must be called before its caller appends evidence in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.db import utcnow
from app.errors import AppError, NotYetKnown
from app.evidence import service as evidence
from app.orders import service as orders
from app.orders.models import Order
from app.outbox.service import enqueue
from app.refunds import reasons
from app.refunds.models import Refund
from app.refunds.records import StoreRefund, from_webhook, key_in_note, marker
from app.shops.models import Shop
from app.webhooks.models import WebhookDelivery

ISSUE_TASK = "refunds.issue"
# Who made a refund: the merchant in the store admin (or another app), or one of ours.
# stockout: the customer cancelled the items no supplier could fill (app/stockout).
ISSUERS = ("store", "resolution", "dispute", "alert", "stockout")
OURS = frozenset({"resolution", "dispute", "alert", "stockout"})
# A refund of one of ours that the store confirmed or that failed: the task told, with the origin's
# id, so the claim (or dispute, or alert) moves on. Each origin adds its line here.
SETTLED_TASKS = {"resolution": "resolutions.refund_settled", "alert": "alerts.refund_settled",
                 "stockout": "stockout.refund_settled"}
# Money that went back, and money on its way.
PENDING = ("requested", "issued")
# Ledger kinds of this domain; none is shown to the customer as such (the status page says what
# the refund means for them, from the row).
EVENT_KINDS = {
    "refund.requested": "Refund requested",
    "refund.issue_attempt": "Refund sent to the store",
    "refund.issue_failed": "Refund call failed, will retry",
    "refund.issued": "Refund accepted by the store",
    "refund.confirmed": "Refund confirmed by the store",
    "refund.failed": "Refund failed",
    "refund.recorded": "Refund made in the store admin",
}
_PAYMENT_RANK = {"paid": 0, "partially_refunded": 1, "refunded": 2}
CENT = Decimal("0.01")


class RefundError(AppError):
    """A refund that cannot be asked for (shown to the caller, 409)."""

    status_code = 409
    code = "refund_not_possible"


def record(
    session: Session, shop: Shop, refund: Refund, kind: str, data: dict[str, Any] | None = None, *,
    occurred_at: datetime | None = None, source: str = "dropguard", webhook_delivery_id: int | None = None,
) -> None:
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown refund event kind {kind!r}")
    evidence.record(
        session, chain=shop.domain, shop_id=shop.id, order_id=refund.order_id, kind=kind, source=source,
        occurred_at=occurred_at,
        data={
            "refund_id": refund.id, "external_id": refund.external_id, "status": refund.status,
            "amount": str(refund.amount), "currency": refund.currency, "reason": refund.reason,
            "issued_by": refund.issued_by, "resolution_id": refund.resolution_id,
            "dispute_id": refund.dispute_id, "idempotency_key": refund.idempotency_key, **(data or {}),
        },
        # The note is the merchant's free text: it may name the customer.
        personal={"note": refund.note} if refund.note else None,
        webhook_delivery_id=webhook_delivery_id,
    )


# -- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefundTotals:
    refunded: Decimal  # confirmed by the store
    pending: Decimal  # requested or issued, not yet confirmed
    count: int  # refunds that are not failed


def for_order(session: Session, shop_id: int, order_id: int) -> list[Refund]:
    """Every refund of one order of this shop, oldest first."""
    return list(session.scalars(
        select(Refund).where(Refund.shop_id == shop_id, Refund.order_id == order_id)
        .order_by(func.coalesce(Refund.refunded_at, Refund.requested_at, Refund.created_at), Refund.id)
    ))


def totals(session: Session, shop_id: int, order_ids: list[int]) -> dict[int, RefundTotals]:
    """Refunded and pending amounts per order (orders without refunds are left out)."""
    if not order_ids:
        return {}
    confirmed = func.coalesce(func.sum(Refund.amount).filter(Refund.status == "confirmed"), 0)
    pending = func.coalesce(func.sum(Refund.amount).filter(Refund.status.in_(PENDING)), 0)
    rows = session.execute(
        select(Refund.order_id, confirmed, pending, func.count().filter(Refund.status != "failed"))
        .where(Refund.shop_id == shop_id, Refund.order_id.in_(order_ids))
        .group_by(Refund.order_id)
    ).all()
    return {order_id: RefundTotals(Decimal(done), Decimal(waiting), count) for order_id, done, waiting, count in rows}


def refunded_amount(session: Session, shop_id: int, order_id: int) -> Decimal:
    """Money the store confirmed it returned for this order."""
    found = totals(session, shop_id, [order_id]).get(order_id)
    return found.refunded if found else Decimal(0)


# -- asking for one ----------------------------------------------------------------------------


def request_refund(
    session: Session, shop: Shop, order: Order, *, amount: Decimal, reason: str, issued_by: str, key: str,
    resolution_id: int | None = None, dispute_id: int | None = None, note: str | None = None,
    lines: list[dict[str, Any]] | None = None,
) -> Refund:
    """Ask the store for a refund, exactly once per `key` (derive it from your own ids).

    Asking again with the same key returns the first row unchanged. The refund is carried out by
    the `refunds.issue` task after the caller commits; the origin hears the outcome through
    SETTLED_TASKS. Raises RefundError when the order has less left to refund than `amount`.
    """
    if order.shop_id != shop.id:
        raise RefundError("refund.not_this_shop")
    if issued_by not in OURS:
        raise ValueError(f"issued_by must be one of {sorted(OURS)}")
    if reason not in reasons.REASONS:
        raise ValueError(f"reason must be one of {reasons.REASONS}")
    if not key or len(key) > 128 or key_in_note(f"[dropguard:{key}]") != key:
        raise ValueError("key must be 1-128 characters of letters, digits and . _ : -")
    amount = Decimal(amount).quantize(CENT)
    orders.lock_store_order(session, shop.id, order.external_id)
    existing = session.scalar(select(Refund).where(Refund.shop_id == shop.id, Refund.idempotency_key == key))
    if existing is not None:
        return existing
    if amount <= 0:
        raise RefundError("refund.amount_not_positive")
    taken = session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0))
        .where(Refund.shop_id == shop.id, Refund.order_id == order.id, Refund.status != "failed")
    )
    if amount > order.total_price - Decimal(taken):
        raise RefundError("refund.exceeds_refundable")
    now = utcnow()
    # The note the store will show the merchant, with our key in it (see records.key_in_note).
    note = f"{(note or '').strip()} {marker(key)}".strip()
    refund_id = session.scalar(
        insert(Refund).values(
            shop_id=shop.id, order_id=order.id, status="requested", amount=amount, currency=order.currency,
            reason=reason, note=note, issued_by=issued_by, resolution_id=resolution_id, dispute_id=dispute_id,
            idempotency_key=key, lines=lines or [], requested_at=now, attempts=0,
        ).on_conflict_do_nothing(index_elements=[Refund.idempotency_key]).returning(Refund.id)
    )
    refund = session.get(Refund, refund_id) if refund_id else session.scalar(
        select(Refund).where(Refund.idempotency_key == key))
    if refund_id is not None:
        record(session, shop, refund, "refund.requested", {"lines": refund.lines}, occurred_at=now)
        enqueue(session, ISSUE_TASK, refund.id)
    session.flush()
    return refund


# -- what the store reports --------------------------------------------------------------------


def _match(session: Session, shop: Shop, report: StoreRefund) -> Refund | None:
    found = session.scalar(
        select(Refund).where(Refund.shop_id == shop.id, Refund.external_id == report.external_id).with_for_update()
    )
    if found is None and (key := key_in_note(report.note)):
        found = session.scalar(
            select(Refund).where(Refund.shop_id == shop.id, Refund.idempotency_key == key).with_for_update()
        )
    return found


def _store_reason(session: Session, shop: Shop, order: Order | None, note: str | None) -> tuple[str, dict]:
    """Why the merchant refunded in the store admin: their note first, then what we know of the
    order (an open dispute, the latest claim, a cancellation)."""
    reason = reasons.from_note(note)
    if reason not in ("unknown", "other") or order is None:
        return reason, {}
    # Imported by name (a model), not the services: these domains read refunds themselves.
    from app.disputes.models import Dispute
    from app.resolutions.models import Resolution

    dispute = session.scalar(select(Dispute).where(Dispute.shop_id == shop.id, Dispute.order_id == order.id)
                             .order_by(Dispute.id.desc()).limit(1))
    if dispute is not None:
        return "dispute", {"dispute_id": dispute.id}
    claim = session.scalar(select(Resolution).where(
        Resolution.shop_id == shop.id, Resolution.order_id == order.id, Resolution.status != "denied"
    ).order_by(Resolution.id.desc()).limit(1))
    if claim is not None:
        return reasons.from_claim(claim.reason), {}
    if order.status == "cancelled":
        return "cancelled", {}
    return reason, {}


def _settle_payment(session: Session, order: Order) -> None:
    """The order reads refunded / partially refunded once the store confirmed money went back;
    never moved back (the store's own financial_status, when newer, is applied by the orders
    service)."""
    refunded = Decimal(session.scalar(
        select(func.coalesce(func.sum(Refund.amount), 0))
        .where(Refund.order_id == order.id, Refund.status == "confirmed")
    ))
    if refunded <= 0 or order.financial_status not in _PAYMENT_RANK:
        return
    state = "refunded" if refunded >= order.total_price else "partially_refunded"
    if _PAYMENT_RANK[state] > _PAYMENT_RANK[order.financial_status]:
        order.financial_status = state


def notify_origin(session: Session, refund: Refund) -> None:
    """Tell the claim, dispute or alert that asked for this refund that it is settled."""
    task = SETTLED_TASKS.get(refund.issued_by)
    # An alert and a stock-out choice find their refund by its own id (refunds carry no column for them).
    origin = {"resolution": refund.resolution_id, "dispute": refund.dispute_id, "alert": refund.id,
              "stockout": refund.id}.get(refund.issued_by)
    if task and origin:
        enqueue(session, task, origin)


def apply_report(
    session: Session, shop: Shop, report: StoreRefund, *, via: str, order: Order | None = None,
    delivery_id: int | None = None,
) -> tuple[Refund, bool]:
    """Record what the store says about one refund; returns the row and whether it is new (a
    refund made in the store admin, seen for the first time). The caller holds the order's lock.

    `via`: webhook | answer (refundCreate's) | reconcile (a later read) | history.
    """
    if order is None and report.order_external_id is not None:
        order = session.scalar(select(Order).where(
            Order.shop_id == shop.id, Order.external_id == report.order_external_id))
    refund = _match(session, shop, report)
    source = "dropguard" if via == "answer" else "shopify"
    facts = {"occurred_at": report.refunded_at, "source": source, "webhook_delivery_id": delivery_id}
    if refund is None:
        if order is None:
            raise RefundOrderUnknown(report)
        reason, links = _store_reason(session, shop, order, report.note)
        outcome = report.outcome
        amount = report.succeeded if outcome == "confirmed" else report.pending or report.failed
        refund = Refund(
            shop_id=shop.id, order_id=order.id, external_id=report.external_id, status=outcome,
            amount=amount, currency=report.currency or order.currency, reason=reason, note=report.note,
            issued_by="store", lines=report.lines, refunded_at=report.refunded_at, attempts=0, **links,
        )
        session.add(refund)
        session.flush()
        record(session, shop, refund, "refund.recorded", {"via": via, "lines": refund.lines}, **facts)
        _settle_payment(session, order)
        session.flush()
        return refund, True
    order = order or session.get(Order, refund.order_id)
    refund.external_id = refund.external_id or report.external_id
    if report.lines:
        refund.lines = report.lines
    refund.refunded_at = report.refunded_at or refund.refunded_at
    if refund.issued_by == "store" and report.note is not None:
        refund.note = report.note
    outcome, before = report.outcome, refund.status
    if before == "requested" and outcome in ("issued", "confirmed"):
        # The store accepted it and gave its id (whichever of its answer or its webhook came first).
        refund.status = "issued"
        record(session, shop, refund, "refund.issued", {"via": via}, **facts)
    if outcome == "confirmed" and refund.status != "confirmed":
        previous = refund.status
        refund.status, refund.last_error = "confirmed", None
        if report.transactions:
            refund.amount = report.succeeded
        record(session, shop, refund, "refund.confirmed", {"via": via, "previous": previous,
                                                            "lines": refund.lines}, **facts)
    elif outcome == "failed" and refund.status in PENDING:
        refund.status, refund.last_error = "failed", "the store's refund transaction failed"
        record(session, shop, refund, "refund.failed", {"via": via, "error": refund.last_error}, **facts)
    if refund.status != before:
        if refund.status in ("confirmed", "failed"):
            notify_origin(session, refund)
        _settle_payment(session, order)
    session.flush()
    return refund, False


class RefundOrderUnknown(NotYetKnown):
    """A refund of an order we have not received (its webhook not arrived yet, or older than the
    import)."""

    code = "refund_order_unknown"

    def __init__(self, report: StoreRefund) -> None:
        super().__init__(f"refund {report.external_id} is of store order {report.order_external_id}, "
                         "which Dropguard has not received")


def apply_webhook(session: Session, shop: Shop, delivery: WebhookDelivery) -> None:
    """refunds/create."""
    report = from_webhook(delivery.payload)
    if report.order_external_id is None:
        raise RefundOrderUnknown(report)
    orders.lock_store_order(session, shop.id, report.order_external_id)
    apply_report(session, shop, report, via="webhook", delivery_id=delivery.id)
