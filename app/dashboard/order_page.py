"""What the order page shows, read for one order of one shop: items with their supplier, the
customer and shipping address, payment and refunds, supplier orders, parcels with their carrier
scans, customer messages, holds; and the timeline of its ledger events in the merchant's words,
grouped by stage (labels: app/evidence/kinds.py's label_key, phrases in templates/i18n/admin/kinds).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.dashboard.held_fix import open_holds
from app.evidence import kinds
from app.evidence import service as evidence
from app.evidence.models import EvidenceEvent
from app.fulfilments.models import Shipment
from app.notifications.models import Notification
from app.orders.models import Customer, DeliveryAddress, Order, OrderLine
from app.paths import TEMPLATES
from app.refunds import service as refunds
from app.refunds.models import Refund
from app.shops.models import Shop
from app.suppliers.models import Supplier, SupplierOrder
from app.suppliers.tables import OrderFlag, SupplierOrderLine
from app.web.phrases import DEFAULT, LOCALES

LABELS_DIR = TEMPLATES / "i18n" / "admin" / "kinds"


@cache
def kind_labels(locale: str) -> dict[str, str]:
    return json.loads((LABELS_DIR / f"{locale}.json").read_text(encoding="utf-8"))


def kind_label(name: str, locale: str) -> str:
    """The merchant's words for a ledger event; a kind missing from the catalogue (a programming
    error the test suite catches) falls back to English, then to a neutral phrase, never its name."""
    kind = kinds.get(name)
    key = kind.label_key if kind else f"kind.{name}"
    found = kind_labels(locale if locale in LOCALES else DEFAULT).get(key) or kind_labels(DEFAULT).get(key)
    return found or kind_labels(DEFAULT)["kind.unlisted"]


@dataclass
class Line:
    line: OrderLine
    suppliers: list[str] = field(default_factory=list)


@dataclass
class Parcel:
    shipment: Shipment
    scans: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Moment:
    label: str
    at: datetime
    by_you: bool


@dataclass
class OrderView:
    order: Order
    customer: Customer | None
    address: DeliveryAddress | None
    lines: list[Line]
    supplier_orders: list[tuple[SupplierOrder, str]]
    parcels: list[Parcel]
    notifications: list[Notification]
    refunds: list[Refund]
    refunded: Decimal
    refund_pending: Decimal
    holds: list[OrderFlag]
    # [(stage, [moments])] in the catalogue's stage order
    timeline: list[tuple[str, list[Moment]]]
    events: list[EvidenceEvent]


def _lines(session: Session, shop: Shop, order: Order) -> list[Line]:
    supplied: dict[int, list[str]] = defaultdict(list)
    for line_id, name in session.execute(
        select(SupplierOrderLine.order_line_id, Supplier.name)
        .join(SupplierOrder, SupplierOrder.id == SupplierOrderLine.supplier_order_id)
        .join(Supplier, Supplier.id == SupplierOrder.supplier_id)
        .where(SupplierOrder.shop_id == shop.id, SupplierOrder.order_id == order.id).order_by(SupplierOrder.id)
    ):
        if name not in supplied[line_id]:
            supplied[line_id].append(name)
    return [Line(line, supplied.get(line.id, [])) for line in order.lines]


def _parcels(session: Session, shop: Shop, order: Order, events: list[EvidenceEvent]) -> list[Parcel]:
    shipments = session.scalars(select(Shipment).where(Shipment.shop_id == shop.id, Shipment.order_id == order.id)
                                .order_by(Shipment.id)).all()
    scans: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        if event.kind == "tracking.scan":
            personal = event.personal or {}
            scans[event.data.get("shipment_id")].append({
                "at": event.occurred_at, "status": event.data.get("status") or "",
                "description": personal.get("description") or event.data.get("raw_status") or "",
                "location": personal.get("location") or ""})
    return [Parcel(s, sorted(scans.get(s.id, []), key=lambda scan: scan["at"], reverse=True)) for s in shipments]


def _timeline(events: list[EvidenceEvent], locale: str) -> list[tuple[str, list[Moment]]]:
    grouped: dict[str, list[Moment]] = defaultdict(list)
    for event in events:
        kind = kinds.get(event.kind)
        stage = kind.stage if kind else "order"
        grouped[stage].append(Moment(kind_label(event.kind, locale), event.occurred_at, event.source == "merchant"))
    return [(stage, sorted(grouped[stage], key=lambda m: m.at)) for stage in kinds.STAGES if grouped.get(stage)]


def read(session: Session, shop: Shop, order: Order, locale: str) -> OrderView:
    events = evidence.for_order(session, shop_id=shop.id, order_id=order.id)
    supplier_orders = list(session.execute(
        select(SupplierOrder, Supplier.name).join(Supplier, Supplier.id == SupplierOrder.supplier_id)
        .where(SupplierOrder.shop_id == shop.id, SupplierOrder.order_id == order.id).order_by(SupplierOrder.id)
    ).tuples())
    notifications = list(session.scalars(select(Notification).where(
        Notification.shop_id == shop.id, Notification.order_id == order.id).order_by(Notification.id)))
    found_refunds = refunds.for_order(session, shop.id, order.id)
    totals = refunds.totals(session, shop.id, [order.id]).get(order.id)
    return OrderView(
        order=order,
        customer=session.get(Customer, order.customer_id) if order.customer_id else None,
        address=session.get(DeliveryAddress, order.id),
        lines=_lines(session, shop, order),
        supplier_orders=supplier_orders,
        parcels=_parcels(session, shop, order, events),
        notifications=notifications,
        refunds=found_refunds,
        refunded=totals.refunded if totals else Decimal(0),
        refund_pending=totals.pending if totals else Decimal(0),
        holds=open_holds(session, order.id),
        timeline=_timeline(events, locale),
        events=events,
    )


def proof_rows(events: list[EvidenceEvent], locale: str) -> list[dict[str, Any]]:
    """The raw ledger for the proof view: every field that is hashed, personal data only as
    whether it is kept or was redacted."""
    return [{
        "seq": e.seq, "kind": e.kind, "label": kind_label(e.kind, locale), "source": e.source,
        "occurred_at": e.occurred_at, "recorded_at": e.recorded_at, "hash": e.hash, "prev_hash": e.prev_hash,
        "digest": e.digest, "version": e.hash_version,
        "data": json.dumps(e.data, ensure_ascii=False, separators=(", ", ": "), sort_keys=True),
        "personal": "redacted" if e.personal_digest and e.personal is None else ("kept" if e.personal_digest else ""),
    } for e in events]
