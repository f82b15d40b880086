"""What the customer's order-status page shows, and the record of each view (dispute evidence)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.evidence import service as evidence
from app.evidence.models import EvidenceEvent
from app.notifications import rendering
from app.notifications import service as notifications
from app.orders.models import DeliveryAddress, Order
from app.redis import get_redis, key
from app.resolutions.models import Resolution
from app.shops.models import Shop
from app.status import timeline, tokens
from app.templating import country_name, format_date, format_money, normalise_locale, translator

log = logging.getLogger(__name__)

VIEWED = "status_page.viewed"
# Repeated loads by the same visitor within this window are one view: a reload loop or a bot must
# not flood the shop's ledger (each append takes the shop's chain lock).
VIEW_WINDOW_SECONDS = 60
STATES = ("open", "paid", "supplier_ordered", "shipped", "delivered", "cancelled")


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


def page_context(session: Session, located: Located, *, locale: str | None = None) -> dict[str, Any]:
    order, shop = located.order, located.shop
    locale = normalise_locale(locale or order.locale)
    shipments = rendering.shipments_for(session, order)
    # Only what the timeline reads (not the personal part, digests or hashes): the page's hot path.
    events = session.execute(
        select(EvidenceEvent.kind, EvidenceEvent.occurred_at, EvidenceEvent.data)
        .where(EvidenceEvent.shop_id == shop.id, EvidenceEvent.order_id == order.id)
        .order_by(EvidenceEvent.seq)
    ).all()
    steps = timeline.build(events, shipments, locale=locale, timezone=shop.timezone)
    t = translator(locale)
    shipped = order.status in ("shipped", "delivered") or bool(shipments)
    return {
        "locale": locale,
        "t": t,
        "shop_name": shop.name or shop.domain,
        "order_name": order.name,
        "status_key": order.status if order.status in STATES else "open",
        "placed_on": format_date(order.placed_at or order.created_at, locale, shop.timezone),
        "destination": masked_destination(session, order, locale),
        "lines": [{"title": line.title, "variant": line.variant_title or "", "quantity": line.quantity} for line in order.lines],
        "total": format_money(order.total_price, order.currency, locale),
        "steps": steps,
        "show_next_shipping": not shipped and order.status != "cancelled",
        "emails_stopped": any(event.kind == notifications.UNSUBSCRIBED for event in events),
        "token": tokens.token_for(order),
        "estimate": delivery_estimate(shipments, locale, shop.timezone),
        "resolutions": [
            {"id": r.id, "reason": r.reason, "status": r.status}
            for r in session.execute(
                select(Resolution.id, Resolution.reason, Resolution.status)
                .where(Resolution.order_id == order.id)
                .order_by(Resolution.id)
            )
        ],
    }


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
