"""Pre-dispute alerts: recorded on arrival, decided from the ledger, refunded through the store
exactly once (app.refunds), and their outcome owed to the provider within the hour budget.

Lock order (every writer of an order's rows follows it): the store order's advisory lock, then the
alert row, then the ledger (which locks the chain head).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.alerts import decision
from app.alerts.models import PreDisputeAlert
from app.alerts.payload import AlertIn
from app.config import get_settings
from app.db import utcnow
from app.evidence import service as evidence
from app.evidence.models import EvidenceEvent
from app.fulfilments.models import Shipment
from app.orders import service as orders
from app.orders.models import Order
from app.outbox.service import enqueue
from app.refunds import service as refunds
from app.refunds.models import Refund
from app.shops import guard
from app.shops.models import Shop
from app.webhooks.models import WebhookDelivery

SOURCE = "alerts"
PROVIDER = "provider"
DECIDE_TASK = "alerts.decide"
REPORT_TASK = "alerts.report_outcome"
# Where each row of the decision table leaves the alert.
STATUSES = ("received", "refund_requested", "outcome_due", "reported")
# Ledger events the decision reads (their ids are cited in alert.decided).
_READ_KINDS = ("shipment.created", "shipment.status_changed", "shipment.delivered", "supplier_order.shipped")


@dataclass(frozen=True)
class Intake:
    alert_id: int | None
    status: str  # queued | duplicate | unknown_shop


def record(session: Session, alert: AlertIn, body: bytes) -> Intake:
    """Delivery, alert row, evidence and the decision task in the caller's transaction; a
    duplicate (the provider retrying) changes nothing."""
    shop = session.scalar(select(Shop).where(Shop.domain == alert.shop_domain))
    status = "queued" if shop is not None else "unknown_shop"
    delivery_id = session.scalar(
        insert(WebhookDelivery).values(
            source=SOURCE, shop_domain=alert.shop_domain, shop_id=shop.id if shop else None,
            topic=f"alert.{alert.alert_type}", event_id=alert.external_id, triggered_at=alert.created_at,
            payload=_payload(alert), status=status,
        ).on_conflict_do_nothing(index_elements=["source", "shop_domain", "event_id"]).returning(WebhookDelivery.id)
    )
    if delivery_id is None:
        return Intake(None, "duplicate")
    if shop is None:
        return Intake(None, status)
    order = _find_order(session, shop, alert.order_reference)
    if order is not None:
        orders.lock_store_order(session, shop.id, order.external_id)
    now = utcnow()
    row = PreDisputeAlert(
        shop_id=shop.id, order_id=order.id if order else None, provider=PROVIDER, external_id=alert.external_id,
        alert_type=alert.alert_type, network=alert.network, order_reference=alert.order_reference, arn=alert.arn,
        amount=alert.amount, currency=alert.currency, reason=alert.reason or alert.reason_code,
        reason_family=alert.reason_family, received_at=now,
        outcome_due_at=now + timedelta(hours=get_settings().alert_outcome_hours), status="received",
        webhook_delivery_id=delivery_id,
    )
    session.add(row)
    session.flush()
    record_event(session, shop, row, "alert.received", {
        "type": alert.alert_type, "network": alert.network, "order_reference": alert.order_reference,
        "arn": alert.arn, "amount": str(alert.amount), "currency": alert.currency, "reason": row.reason,
        "reason_family": row.reason_family, "outcome_due_at": row.outcome_due_at,
        "body_sha256": hashlib.sha256(body).hexdigest(), "signature": "verified",
    }, delivery_id=delivery_id)
    enqueue(session, DECIDE_TASK, row.id)
    return Intake(row.id, status)


def _payload(alert: AlertIn) -> dict[str, Any]:
    return {"id": alert.external_id, "type": alert.alert_type, "card_network": alert.network,
            "shop": alert.shop_domain, "order_reference": alert.order_reference, "arn": alert.arn,
            "amount": str(alert.amount), "currency": alert.currency, "reason": alert.reason,
            "reason_code": alert.reason_code}


def _find_order(session: Session, shop: Shop, reference: str | None) -> Order | None:
    """By the order's name (#1001, with or without #) or the store's order id."""
    if not reference:
        return None
    names = {reference, reference if reference.startswith("#") else f"#{reference}"}
    condition = Order.name.in_(names)
    if reference.isdigit() and len(reference) < 19:
        condition = or_(condition, Order.external_id == int(reference))
    return session.scalar(select(Order).where(Order.shop_id == shop.id, condition).order_by(Order.id).limit(1))


def record_event(session: Session, shop: Shop, alert: PreDisputeAlert, kind: str, data: dict[str, Any], *,
           delivery_id: int | None = None) -> EvidenceEvent:
    return evidence.record(
        session, chain=shop.domain, shop_id=shop.id, order_id=alert.order_id, kind=kind, source=SOURCE,
        data={"alert_id": alert.id, "external_id": alert.external_id, "status": alert.status, **data},
        webhook_delivery_id=delivery_id,
    )


# -- the decision -------------------------------------------------------------------------------


def gather_facts(session: Session, shop: Shop, alert: PreDisputeAlert, order: Order | None) -> decision.Facts:
    """What the order's ledger and refunds say, for the decision table."""
    base = {"alert_type": alert.alert_type, "reason_family": alert.reason_family, "amount": alert.amount,
            "now": utcnow()}
    if order is None:
        return decision.Facts(order_found=False, **base)
    events = list(session.scalars(
        select(EvidenceEvent).where(EvidenceEvent.shop_id == shop.id, EvidenceEvent.order_id == order.id,
                                    EvidenceEvent.kind.in_(_READ_KINDS)).order_by(EvidenceEvent.seq)
    ))
    shipments = list(session.scalars(select(Shipment).where(Shipment.order_id == order.id).order_by(Shipment.id)))
    # The carrier's own delivery scan (a provider named it), not only a status we were told.
    delivered = [e for e in events if e.kind == "shipment.delivered" and (e.data or {}).get("provider")]
    latest: dict[Any, dict[str, Any]] = {}
    for event in events:
        if event.kind == "shipment.status_changed":
            latest[event.data.get("shipment_id")] = event.data
    lost = any(d.get("status") == "exception" and d.get("reason") in ("lost", "destroyed") for d in latest.values())
    returned = any(d.get("status") in ("returning", "returned") for d in latest.values())
    waiting = [s.expected_by for s in shipments if s.status != "delivered" and s.expected_by is not None]
    money = refunds.totals(session, shop.id, [order.id]).get(order.id)
    taken = session.scalar(select(func.coalesce(func.sum(Refund.amount), 0)).where(
        Refund.shop_id == shop.id, Refund.order_id == order.id, Refund.status != "failed"))
    return decision.Facts(
        **base, order_found=True, cancelled=order.status == "cancelled",
        refunded=money.refunded if money else Decimal(0),
        refundable=order.total_price - Decimal(taken),
        shipped=bool(shipments) or any(e.kind == "supplier_order.shipped" for e in events),
        delivered_proof=delivered[-1].id if delivered else None, lost=lost, returned=returned,
        expected_by=max(waiting) if waiting else None, cited=[e.id for e in events],
    )


def refund_key(alert: PreDisputeAlert) -> str:
    """One refund per alert, whoever runs the decision and however often."""
    return f"dg-{alert.shop_id}-{alert.order_id}-alert-{alert.id}"


def _lock(session: Session, alert_id: int) -> tuple[PreDisputeAlert | None, Order | None]:
    """The store order's lock first (a refund may be asked for), then the alert."""
    alert = session.get(PreDisputeAlert, alert_id)
    if alert is None:
        return None, None
    order = session.get(Order, alert.order_id) if alert.order_id else None
    if order is not None:
        orders.lock_store_order(session, order.shop_id, order.external_id)
    return session.get(PreDisputeAlert, alert_id, with_for_update=True, populate_existing=True), order


def decide(session: Session, alert_id: int) -> str:
    """Apply the decision table to one received alert (the caller commits)."""
    alert, order = _lock(session, alert_id)
    if alert is None:
        return "missing"
    if alert.status != "received":
        return alert.status
    shop = session.get(Shop, alert.shop_id)
    if skipped := guard.skipped_uninstalled(session, shop, "alert", alert.id, order_id=alert.order_id):
        return skipped
    facts = gather_facts(session, shop, alert, order)
    rule = decision.decide(facts)
    alert.decision, alert.decision_rule, alert.decision_facts = rule.action, rule.name, facts.as_data()
    alert.decided_at = utcnow()
    if rule.action == decision.REFUND:
        amount = decision.refund_amount(facts)
        try:
            refund = refunds.request_refund(
                session, shop, order, amount=amount, reason=alert.reason_family, issued_by="alert",
                key=refund_key(alert), note=f"Dropguard alert {alert.external_id} ({rule.name})",
            )
        except refunds.RefundError as error:
            # Nothing left to refund after all (a refund raced us): said as it is, and reported.
            alert.outcome, alert.status, alert.last_error = "error", "outcome_due", error.message
            record_event(session, shop, alert, "alert.decided", {"action": rule.action, "rule": rule.name,
                                                           "facts": facts.as_data(), "refund_error": error.message})
            enqueue(session, REPORT_TASK, alert.id)
            return alert.status
        alert.refund_id, alert.status = refund.id, "refund_requested"
        record_event(session, shop, alert, "alert.decided", {"action": rule.action, "rule": rule.name,
                                                       "facts": facts.as_data()})
        record_event(session, shop, alert, "alert.refund_requested", {"refund_id": refund.id, "amount": str(refund.amount),
                                                                "idempotency_key": refund.idempotency_key})
        return alert.status
    alert.outcome, alert.status = rule.outcome, "outcome_due"
    record_event(session, shop, alert, "alert.decided", {"action": rule.action, "rule": rule.name, "facts": facts.as_data(),
                                                   "outcome": rule.outcome})
    enqueue(session, REPORT_TASK, alert.id)
    return alert.status


# A refund the store accepted but whose card transaction is still pending this close to the
# provider's deadline is reported as refunded (the store has issued it): waiting for settlement
# would let the deadline pass and the alert turn into a chargeback.
ISSUED_IS_ENOUGH = timedelta(hours=2)


def refund_settled(session: Session, refund_id: int, *, accept_issued: bool = False) -> str:
    """The alert's refund was confirmed by the store (report "refunded") or failed ("error");
    with `accept_issued`, one the store accepted is enough (the deadline is near)."""
    alert_id = session.scalar(select(PreDisputeAlert.id).where(PreDisputeAlert.refund_id == refund_id))
    if alert_id is None:
        return "missing"
    alert, _ = _lock(session, alert_id)
    refund = session.get(Refund, refund_id)
    settled = ("confirmed", "failed", "issued") if accept_issued else ("confirmed", "failed")
    if alert.status != "refund_requested" or refund.status not in settled:
        return alert.status
    shop = session.get(Shop, alert.shop_id)
    alert.outcome = "error" if refund.status == "failed" else "refunded"
    alert.last_error = refund.last_error if refund.status == "failed" else None
    alert.status = "outcome_due"
    record_event(session, shop, alert, "alert.refund_settled", {
        "refund_id": refund.id, "refund_status": refund.status, "amount": str(refund.amount),
        "external_refund_id": refund.external_id, "outcome": alert.outcome})
    enqueue(session, REPORT_TASK, alert.id)
    return alert.status


# -- reading ------------------------------------------------------------------------------------


def for_shop(session: Session, shop_id: int, *, limit: int = 200) -> list[tuple[PreDisputeAlert, str | None]]:
    """The shop's latest alerts, newest first, with their order's name."""
    rows = session.execute(
        select(PreDisputeAlert, Order.name).outerjoin(Order, Order.id == PreDisputeAlert.order_id)
        .where(PreDisputeAlert.shop_id == shop_id)
        .order_by(PreDisputeAlert.received_at.desc(), PreDisputeAlert.id.desc()).limit(limit)
    ).all()
    return [(alert, name) for alert, name in rows]


def count_unreported(session: Session, shop: Shop) -> int:
    """Alerts whose outcome is still owed to the provider (the dashboard's attention list)."""
    return session.scalar(select(func.count()).select_from(PreDisputeAlert).where(
        PreDisputeAlert.shop_id == shop.id, PreDisputeAlert.reported_at.is_(None))) or 0


def stalled(session: Session, *, limit: int = 200) -> tuple[list[int], list[int]]:
    """Alerts whose task was lost with its worker: (still to decide, outcome known but not reported),
    oldest deadline first."""
    older = utcnow() - timedelta(minutes=2)

    def ids(status: str) -> list[int]:
        return list(session.scalars(
            select(PreDisputeAlert.id).where(PreDisputeAlert.status == status, PreDisputeAlert.reported_at.is_(None),
                                             PreDisputeAlert.updated_at < older)
            .order_by(PreDisputeAlert.outcome_due_at).limit(limit)
        ))

    return ids("received"), ids("outcome_due")


def issued_near_deadline(session: Session, *, limit: int = 200) -> list[int]:
    """Refunds of alerts that the store accepted, still pending, with the provider's deadline near."""
    return list(session.scalars(
        select(Refund.id).join(PreDisputeAlert, PreDisputeAlert.refund_id == Refund.id)
        .where(PreDisputeAlert.status == "refund_requested", Refund.status == "issued",
               PreDisputeAlert.outcome_due_at < utcnow() + ISSUED_IS_ENOUGH)
        .order_by(PreDisputeAlert.outcome_due_at).limit(limit)
    ))
