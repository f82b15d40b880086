"""One order's insight facts, computed from its source rows alone (never from the ledger scan).

`compute` is a pure function of the database state of one order, so running it twice, late, or out
of order gives the same answer: that is what lets the aggregates be maintained incrementally and
still equal a full recomputation. Every measure is an integer (cents, minutes, counts), so adding
and subtracting contributions is exact.

Attribution, where an order has several of something:
- supplier: the first supplier order that was placed, not counting reships (its fallback hop when
  the first was refused: the one that actually took the order);
- carrier and delivery: that supplier order's first shipment;
- product: the order's line with the highest value (price × quantity), lowest line id on a tie;
- destination: the delivery address's country, else the shipment's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.disputes.models import Dispute
from app.fulfilments.models import Shipment
from app.insights.models import CustomerMessage
from app.notifications.models import Notification
from app.orders.models import DeliveryAddress, Order
from app.refunds.models import Refund
from app.resolutions.models import Resolution
from app.shops.models import Shop
from app.suppliers import sla as slas
from app.suppliers.health_models import SupplierSlaBreach
from app.suppliers.models import Supplier, SupplierOrder
from app.suppliers.tables import SupplierOrderLine
from app.tracking.models import ShipmentAlert

# The measures of the aggregate table, in one place: pages, CSV and the recomputation read this.
MEASURES = (
    "orders", "revenue_cents", "costed", "cost_cents",
    "confirmed", "confirm_minutes", "shipped", "ship_minutes", "first_scanned", "first_scan_minutes",
    "delivered", "delivery_minutes",
    "sla_decided", "sla_on_time", "sla_late_confirm", "sla_late_ship", "sla_late_tracking",
    "promise_decided", "promise_on_time",
    "exception", "lost",
    "refunded", "refund_count", "refund_cents", "disputed", "dispute_count", "dispute_cents",
    "claimed", "claim_count", "messages", "urgent_messages", "delayed",
)
# Breakdown kinds: outcomes by reason, and two distributions (bucket = whole days).
BREAKDOWN_KINDS = ("refund", "dispute", "claim", "remedy", "notice", "message", "delivery_days", "request_days")
DELAY_CONDITIONS = ("no_first_scan", "no_scan", "past_window")
EXCEPTION_CONDITIONS = ("exception", "delivery_failed", "returning")
LOST_STATUSES = ("expired", "returned")
# A delay message within this long of the delay being detected is "early" (notification effect).
EARLY_NOTICE = timedelta(hours=24)
REFUND_REMEDIES = ("full_refund", "partial_refund")
# Claims the merchant or the policy accepted: the "legitimate requests" of the policy advice.
LEGITIMATE_CLAIMS = ("approved", "completed", "awaiting_return")
DISTRIBUTION_CAP_DAYS = 120


@dataclass
class Facts:
    order_id: int
    shop_id: int
    order_name: str
    period: date
    supplier_id: int
    destination: str
    carrier: str
    product_key: str
    product_title: str
    currency: str
    revenue: Decimal
    cost: Decimal | None
    details: dict[str, Any]
    outcomes: list[str]
    measures: dict[str, int]
    breakdowns: list[tuple[str, str, int, dict[str, int]]] = field(default_factory=list)

    def key(self) -> list[Any]:
        return [self.shop_id, self.period.isoformat(), self.supplier_id, self.destination, self.carrier,
                self.product_key]

    def contribution(self) -> list[list[Any]]:
        """[["a", key, measures]] and [["b", key + [kind, reason, bucket], measures], ...], sorted."""
        rows: list[list[Any]] = [["a", self.key(), {k: v for k, v in self.measures.items() if v}]]
        merged: dict[tuple[str, str, int], dict[str, int]] = {}
        for kind, reason, bucket, measures in self.breakdowns:
            into = merged.setdefault((kind, reason, bucket), {})
            for name, value in measures.items():
                into[name] = into.get(name, 0) + value
        for (kind, reason, bucket), measures in sorted(merged.items()):
            rows.append(["b", [*self.key(), kind, reason, bucket], measures])
        return rows


def cents(amount: Decimal | None) -> int:
    return int((amount or Decimal(0)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) * 100)


def minutes(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, int((end - start).total_seconds() // 60))


def month_of(moment: datetime) -> date:
    return date(moment.year, moment.month, 1)


def product_key(product_id: int | None, sku: str | None, title: str) -> str:
    if product_id:
        return f"p:{product_id}"
    if sku:
        return f"s:{sku}"[:64]
    return "t:" + hashlib.sha256(title.encode()).hexdigest()[:16]


def _main_line(order: Order):
    lines = sorted(order.lines, key=lambda line: (-(line.price * line.quantity), line.id))
    return lines[0] if lines else None


def _supplier_order(session: Session, order: Order) -> SupplierOrder | None:
    reships = select(Resolution.reship_supplier_order_id).where(
        Resolution.order_id == order.id, Resolution.reship_supplier_order_id.is_not(None)
    )
    candidates = list(session.scalars(
        select(SupplierOrder).where(SupplierOrder.order_id == order.id, SupplierOrder.id.not_in(reships))
        .order_by(SupplierOrder.id)
    ))
    placed = [so for so in candidates if so.placed_at is not None]
    return (placed or candidates or [None])[0]


def _refunds(session: Session, order: Order) -> list[tuple[int, str, datetime]]:
    """(cents, reason, when) of each refund the order received, whoever made it (the store's
    admin, the resolution centre, a dispute): the store-confirmed or accepted refund records."""
    rows = session.scalars(
        select(Refund).where(Refund.order_id == order.id, Refund.status.in_(("issued", "confirmed")))
        .order_by(Refund.id)
    )
    return [(cents(r.amount), r.reason, r.refunded_at or r.requested_at or r.created_at) for r in rows]


def _sla(session: Session, shop: Shop, so: SupplierOrder | None, tracking_at: datetime | None) -> dict[str, Any]:
    """Each SLA condition: ok (done in time), late (done late, or a breach was recorded while it
    was not done) or None (not done and not yet due: undecided)."""
    if so is None or so.placed_at is None:
        return {}
    supplier = session.get(Supplier, so.supplier_id)
    policy = slas.policy_for(shop, supplier)
    breached = set(session.scalars(
        select(SupplierSlaBreach.condition).where(SupplierSlaBreach.supplier_order_id == so.id)
    ))
    observed = {"confirm": so.confirmed_at or so.shipped_at, "ship": so.shipped_at, "tracking": tracking_at}
    result: dict[str, Any] = {"limits": policy.as_data()}
    for condition in slas.CONDITIONS:
        due = so.placed_at + policy.limit(condition)
        at = observed[condition]
        if at is not None:
            result[condition] = "late" if at > due else "ok"
        else:
            result[condition] = "late" if condition in breached else None
    return result


def compute(session: Session, order: Order) -> Facts | None:
    """The order's facts; None for an order never placed (nothing to attribute it to)."""
    placed_at = order.placed_at or order.created_at
    if placed_at is None:
        return None
    shop = session.get(Shop, order.shop_id)
    so = _supplier_order(session, order)
    shipments = list(session.scalars(
        select(Shipment).where(Shipment.supplier_order_id == so.id).order_by(Shipment.id)
    )) if so else []
    shipment = shipments[0] if shipments else None
    address = session.get(DeliveryAddress, order.id)
    line = _main_line(order)
    claims = list(session.scalars(select(Resolution).where(Resolution.order_id == order.id).order_by(Resolution.id)))
    disputes = list(session.scalars(select(Dispute).where(Dispute.order_id == order.id).order_by(Dispute.id)))
    refunds = _refunds(session, order)
    alerts = list(session.scalars(select(ShipmentAlert).where(ShipmentAlert.order_id == order.id)))
    messages = list(session.scalars(
        select(CustomerMessage).where(CustomerMessage.order_id == order.id, CustomerMessage.reason.is_not(None))
    ))
    costs = list(session.execute(
        select(SupplierOrderLine.unit_cost, SupplierOrderLine.quantity)
        .join(SupplierOrder, SupplierOrder.id == SupplierOrderLine.supplier_order_id)
        .where(SupplierOrder.order_id == order.id, SupplierOrder.status.not_in(("failed", "cancelled", "pending")))
    ))
    cost = sum((Decimal(c) * q for c, q in costs if c is not None), Decimal(0)) if costs and all(
        c is not None for c, _ in costs) else None

    tracking_at = min((s.created_at for s in shipments), default=None)
    sla = _sla(session, shop, so, tracking_at)
    confirm = minutes(so.placed_at, so.confirmed_at or so.shipped_at) if so else None
    ship = minutes(so.placed_at, so.shipped_at) if so else None
    handed = (shipment.shipped_at or (so.shipped_at if so else None)) if shipment else None
    first_scan = minutes(handed, shipment.first_scan_at) if shipment else None
    delivered_at = shipment.delivered_at if shipment else None
    delivery = minutes(placed_at, delivered_at)
    promise = None
    if shipment is not None and shipment.expected_by is not None and delivered_at is not None:
        promise = delivered_at <= shipment.expected_by
    exception = any(a.condition in EXCEPTION_CONDITIONS for a in alerts) or bool(
        shipment and shipment.status in EXCEPTION_CONDITIONS)
    lost = bool(shipment and delivered_at is None and (
        shipment.status in LOST_STATUSES
        or any(c.reason == "not_received" and c.status in LEGITIMATE_CLAIMS + ("completed",) for c in claims)
    ))
    delay_alerts = sorted(a.created_at for a in alerts if a.condition in DELAY_CONDITIONS)

    measures = {name: 0 for name in MEASURES}
    measures.update(orders=1, revenue_cents=cents(order.total_price))
    if cost is not None:
        measures.update(costed=1, cost_cents=cents(cost))
    for name, value in (("confirm", confirm), ("ship", ship), ("first_scan", first_scan), ("delivery", delivery)):
        if value is not None:
            measures[{"confirm": "confirmed", "ship": "shipped", "first_scan": "first_scanned",
                      "delivery": "delivered"}[name]] = 1
            measures[f"{name}_minutes"] = value
    states = [sla.get(c) for c in slas.CONDITIONS] if sla else []
    if states and all(state is not None for state in states):
        measures["sla_decided"] = 1
        measures["sla_on_time"] = int(all(state == "ok" for state in states))
    for condition in slas.CONDITIONS:
        measures[f"sla_late_{condition}"] = int(sla.get(condition) == "late")
    if promise is not None:
        measures.update(promise_decided=1, promise_on_time=int(promise))
    measures.update(
        exception=int(exception), lost=int(lost),
        refunded=int(bool(refunds)), refund_count=len(refunds), refund_cents=sum(r[0] for r in refunds),
        disputed=int(bool(disputes)), dispute_count=len(disputes),
        dispute_cents=sum(cents(d.amount) for d in disputes),
        claimed=int(bool(claims)), claim_count=len(claims),
        messages=len(messages), urgent_messages=sum(1 for m in messages if _urgent(m)),
        delayed=int(bool(delay_alerts)),
    )

    breakdowns: list[tuple[str, str, int, dict[str, int]]] = []
    for amount, reason, _ in refunds:
        breakdowns.append(("refund", reason, 0, {"n": 1, "cents": amount}))
    for dispute in disputes:
        breakdowns.append(("dispute", (dispute.reason or "unknown")[:32], 0, {"n": 1, "cents": cents(dispute.amount)}))
    first_dispute = min((d.opened_at or d.created_at for d in disputes), default=None)
    for claim in claims:
        breakdowns.append(("claim", claim.reason, 0, {"n": 1, "legit": int(claim.status in LEGITIMATE_CLAIMS)}))
        if claim.remedy and claim.status in LEGITIMATE_CLAIMS:
            after = int(first_dispute is not None and first_dispute >= claim.created_at)
            breakdowns.append(("remedy", claim.remedy, 0, {"claims": 1, "disputed_after": after}))
        if delivered_at is not None and claim.created_at >= delivered_at:
            days = min(DISTRIBUTION_CAP_DAYS, (claim.created_at - delivered_at).days)
            breakdowns.append(("request_days", claim.reason, days,
                               {"n": 1, "legit": int(claim.status in LEGITIMATE_CLAIMS)}))
    if delivery is not None:
        breakdowns.append(("delivery_days", "", min(DISTRIBUTION_CAP_DAYS, delivery // 1440), {"n": 1}))
    for message in messages:
        breakdowns.append(("message", _reason(message), 0, {"n": 1, "urgent": int(_urgent(message))}))
    notice = _notice(session, order, delay_alerts)
    if notice:
        breakdowns.append(("notice", notice, 0, {"orders": 1, "claimed": int(bool(claims)),
                                                 "disputed": int(bool(disputes)), "refunded": int(bool(refunds))}))

    destination = ((address.country_code if address else None) or (shipment.destination_country if shipment else None)
                   or "").upper()[:2]
    details = {
        "supplier_order_id": so.id if so else None,
        "shipment_id": shipment.id if shipment else None,
        "placed_at": placed_at.isoformat(),
        "confirm_minutes": confirm, "ship_minutes": ship, "first_scan_minutes": first_scan,
        "delivery_minutes": delivery, "sla": sla, "promise_kept": promise,
        "exception": exception, "lost": lost,
        "refund_reasons": sorted({r[1] for r in refunds}),
        "dispute_reasons": sorted({(d.reason or "unknown") for d in disputes}),
        "claim_reasons": sorted({c.reason for c in claims}),
        "message_reasons": sorted({_reason(m) for m in messages}),
        "urgent": any(_urgent(m) for m in messages),
        "notice": notice,
    }
    outcomes = [name for name, happened in (
        ("refund", bool(refunds)), ("dispute", bool(disputes)), ("claim", bool(claims)),
        ("late", any(sla.get(c) == "late" for c in slas.CONDITIONS)), ("lost", lost), ("exception", exception),
        ("urgent", details["urgent"]), ("undelivered_promise", promise is False),
    ) if happened]
    return Facts(
        order_id=order.id, shop_id=order.shop_id, order_name=order.name, period=month_of(placed_at),
        supplier_id=so.supplier_id if so else 0, destination=destination,
        carrier=((shipment.carrier if shipment else None) or "")[:64],
        product_key=product_key(line.product_id, line.sku, line.title) if line else "",
        product_title=(line.title if line else "")[:512], currency=order.currency,
        revenue=order.total_price, cost=cost.quantize(Decimal("0.01")) if cost is not None else None,
        details=details, outcomes=outcomes, measures=measures, breakdowns=breakdowns,
    )


def _reason(message: CustomerMessage) -> str:
    return message.corrected_reason or message.reason or "other"


def _urgent(message: CustomerMessage) -> bool:
    return bool(message.corrected_urgent if message.corrected_urgent is not None else message.urgent)


def _notice(session: Session, order: Order, delay_alerts: list[datetime]) -> str | None:
    """For a delayed order: was the customer told early (within EARLY_NOTICE of the delay being
    detected), late, or not at all?"""
    if not delay_alerts:
        return None
    sent = session.scalar(
        select(Notification.sent_at)
        .where(Notification.order_id == order.id, Notification.stage.like("delayed%"),
               Notification.status == "sent", Notification.sent_at.is_not(None))
        .order_by(Notification.sent_at).limit(1)
    )
    if sent is None:
        return "none"
    return "early" if sent - delay_alerts[0] <= EARLY_NOTICE else "late"
