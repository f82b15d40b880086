"""What the customer's order-status page shows, and the record of each view (dispute evidence)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import case, select
from sqlalchemy.orm import Session

from app.evidence import service as evidence
from app.evidence.models import EvidenceEvent
from app.notifications import branding, rendering
from app.notifications import service as notifications
from app.orders.models import DeliveryAddress, Order
from app.redis import get_redis, key
from app.refunds import service as refunds
from app.resolutions.models import Resolution
from app.shops.models import Shop
from app.status import carrier_links, checkpoints, journey, timeline, tokens
from app.templating import country_name, format_date, format_money, normalise_locale, translator
from app.tracking import service as tracking

log = logging.getLogger(__name__)

VIEWED = "status_page.viewed"
# Repeated loads by the same visitor within this window are one view: a reload loop or a bot must
# not flood the shop's ledger (each append takes the shop's chain lock).
VIEW_WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Located:
    order: Order
    shop: Shop


def locate(session: Session, token: str) -> Located | None:
    """The order a genuine status token names, if it still exists in the token's shop."""
    parsed = tokens.parse_token(token)
    if parsed is None:
        return None
    order_id, shop_id = parsed
    order = session.scalar(select(Order).where(Order.id == order_id, Order.shop_id == shop_id))
    if order is None:
        return None
    shop = session.get(Shop, shop_id)
    return Located(order=order, shop=shop) if shop is not None else None


def masked_destination(session: Session, order: Order, locale: str) -> str:
    """City and country only: the page is reachable by anyone holding the link."""
    address = session.get(DeliveryAddress, order.id)
    if address is None:
        return ""
    parts = [(address.city or "").strip(), country_name(address.country_code, locale)]
    return ", ".join(part for part in parts if part)


def delivery_estimate(shipments: list, locale: str, timezone: str | None) -> dict[str, str] | None:
    """The expected window of the parcels still on their way (tracking sets it per route)."""
    open_ = [s for s in shipments if s.delivered_at is None and s.status not in ("delivered", "returned")]
    ends = [s.expected_by for s in open_ if s.expected_by]
    if not ends:
        return None
    starts = [s.expected_from for s in open_ if s.expected_from]
    end = format_date(max(ends), locale, timezone)
    start = format_date(min(starts), locale, timezone) if starts else ""
    return {"start": start if start != end else "", "end": end}


# A claim the customer is still waiting on (app.resolutions statuses).
_OPEN_REQUESTS = ("offered", "pending_review", "approved", "awaiting_return", "awaiting_customer_choice")


def _parcels(shipments: list, rows, locale: str, timezone: str | None) -> list[dict[str, Any]]:
    """Each parcel the customer was told about: carrier, number, link in their language, progress, scans."""
    parcels = []
    for shipment in shipments:
        state = journey.derive(order_status="shipped", total=Decimal(1),
                               parcels=[journey.Parcel(shipment.status, shipment.status_reason)])
        carrier = (shipment.carrier or "").strip()
        parcels.append({
            "carrier": carrier,
            "number": shipment.tracking_number,
            "link": carrier_links.link(carrier, shipment.tracking_number, shipment.tracking_url, locale),
            "state": state.delivery,
            "action": state.action,
            "progress": state.progress,
            "checkpoints": checkpoints.for_shipment(rows, shipment.id, locale=locale, timezone=timezone),
        })
    return parcels


def page_context(session: Session, located: Located, *, locale: str | None = None) -> dict[str, Any]:
    order, shop = located.order, located.shop
    locale = normalise_locale(locale or order.locale)
    look = branding.look(shop)
    every_shipment = rendering.shipments_for(session, order)
    # A parcel whose number is held back (invalid, or waiting for the aggregator) was never
    # announced: the customer hears of it when it is, here as in the e-mails.
    shipments = [s for s in every_shipment if tracking.announceable(s)]
    # Only what the timeline reads (not the personal part, digests or hashes): the page's hot path.
    # A scan's place is the one personal field read, for scans only.
    rows = session.execute(
        select(EvidenceEvent.kind, EvidenceEvent.occurred_at, EvidenceEvent.data,
               case((EvidenceEvent.kind == checkpoints.SCAN, EvidenceEvent.personal["location"].astext), else_=None))
        .where(EvidenceEvent.shop_id == shop.id, EvidenceEvent.order_id == order.id)
        .order_by(EvidenceEvent.seq)
    ).all()
    events = [row[:3] for row in rows]
    refund_rows = refunds.for_order(session, shop.id, order.id)
    refunded = sum((r.amount for r in refund_rows if r.status == "confirmed"), Decimal(0))
    pending = sum((r.amount for r in refund_rows if r.status in refunds.PENDING), Decimal(0))
    requests = [
        {"id": r.id, "reason": r.reason, "status": r.status}
        for r in session.execute(
            select(Resolution.id, Resolution.reason, Resolution.status)
            .where(Resolution.order_id == order.id)
            .order_by(Resolution.id)
        )
    ]
    state = journey.derive(
        order_status=order.status,
        total=order.total_price,
        parcels=[journey.Parcel(s.status, s.status_reason) for s in shipments],
        refunded=refunded,
        refund_pending=pending,
        open_requests=sum(1 for r in requests if r["status"] in _OPEN_REQUESTS),
    )
    warehouse = look.warehouse_for(locale)
    steps = timeline.build(
        _Row.wrap(events), shipments, locale=locale, timezone=shop.timezone, warehouse=warehouse,
        held=[s.tracking_number for s in every_shipment if s not in shipments],
        refunds=[(r.refunded_at or r.updated_at, format_money(r.amount, r.currency, locale))
                 for r in refund_rows if r.status == "confirmed"],
    )
    return {
        "locale": locale,
        "t": translator(locale),
        "shop_name": look.name,
        "look": look,
        "order_name": order.name,
        "journey": state,
        "progress_stops": journey.PROGRESS,
        "warehouse": warehouse,
        "refunded_text": format_money(refunded, order.currency, locale) if refunded else "",
        "pending_text": format_money(pending, order.currency, locale) if pending else "",
        "placed_on": format_date(order.placed_at or order.created_at, locale, shop.timezone),
        "destination": masked_destination(session, order, locale),
        "lines": [{"title": line.title, "variant": line.variant_title or "", "quantity": line.quantity} for line in order.lines],
        "total": format_money(order.total_price, order.currency, locale),
        "steps": steps,
        "parcels": _parcels(shipments, rows, locale, shop.timezone),
        "emails_stopped": any(event[0] == notifications.UNSUBSCRIBED for event in events),
        "token": tokens.token_for(order),
        "estimate": delivery_estimate(shipments, locale, shop.timezone)
        if state.delivery in ("shipped", "in_transit", "out_for_delivery") and state.state != "cancelled" else None,
        "resolutions": requests,
    }


@dataclass(frozen=True)
class _Row:
    kind: str
    occurred_at: Any
    data: dict[str, Any]

    @classmethod
    def wrap(cls, rows) -> list[_Row]:
        return [cls(kind, occurred_at, data or {}) for kind, occurred_at, data in rows]


def _first_view_in_window(order: Order, ip: str | None, user_agent: str | None) -> bool:
    visitor = hashlib.sha256(f"{ip}|{user_agent}".encode()).hexdigest()[:32]
    try:
        return bool(get_redis().set(key("status", "view", str(order.id), visitor), 1, nx=True, ex=VIEW_WINDOW_SECONDS))
    except RedisError:
        log.warning("status.view_throttle_unavailable", exc_info=True)
        return True


def record_view(
    session: Session, located: Located, *, ip: str | None, user_agent: str | None, locale: str, page: str
) -> bool:
    """accessActivityLog evidence: who looked at the order's status, and when. True if recorded."""
    if not _first_view_in_window(located.order, ip, user_agent):
        return False
    evidence.record(
        session,
        chain=located.shop.domain,
        shop_id=located.shop.id,
        order_id=located.order.id,
        kind=VIEWED,
        source="customer",
        # The page's name, never its URL: the token in it is a credential.
        data={"page": page, "locale": locale, "order_status": located.order.status},
        personal={"ip": ip, "user_agent": (user_agent or "")[:512]},
    )
    return True
