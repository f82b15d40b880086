"""Finding an order from its number and the customer's email, without telling strangers anything.

Unknown order, wrong email and malformed input all get the same answer, and take the same work:
one indexed query for the order number (a number that cannot be an order still runs it, with a
name nothing matches), then a constant-time comparison of keyed email digests against every
candidate, or against a dummy digest when there is none. Rate limits (per IP and per order
number, Redis fixed windows) stop guessing; their counters are shared by all web processes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from dataclasses import dataclass

from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import get_settings
from app.evidence import service as evidence
from app.orders.models import Customer, Order
from app.redis import get_redis, key
from app.shops.models import Shop

log = logging.getLogger(__name__)

LOOKED_UP = "status_page.lookup"
# "#1042", "1042", " #1042 ", "CA-1042" all name the same order (stores may prefix their numbers).
_ORDER_NUMBER = re.compile(r"^#?\s*([A-Za-z0-9][A-Za-z0-9\-]{0,30})$")
_EMAIL = re.compile(r"^[^\s@]{1,64}@[^\s@]{1,255}$")
# A candidate cap: the same order number exists in many shops, but never in hundreds.
_MAX_CANDIDATES = 20
# Compared when no order matched, so that path costs what a real comparison costs.
_NO_MATCH_NAME = "#!"  # never a normalised number (they are [A-Za-z0-9-])


@dataclass(frozen=True)
class Limited:
    retry_after: int


def normalise_number(raw: str) -> str | None:
    match = _ORDER_NUMBER.match((raw or "").strip())
    return f"#{match.group(1)}" if match else None


def normalise_email(raw: str) -> str | None:
    email = (raw or "").strip().lower()
    return email if len(email) <= 320 and _EMAIL.match(email) else None


def _digest(email: str) -> bytes:
    secret = get_settings().secret_key.encode()
    return hmac.new(secret, b"dropguard.status-lookup:" + email.encode(), hashlib.sha256).digest()


def _hit(bucket: str, limit: int, window: int) -> int | None:
    """Count one try in the bucket's current fixed window; seconds to wait if over the limit."""
    now = int(time.time())
    slot = now // window
    counter = key("status", "lookup", bucket, str(slot))
    pipe = get_redis().pipeline()
    pipe.incr(counter)
    pipe.expire(counter, window + 5)
    count = pipe.execute()[0]
    return (slot + 1) * window - now if count > limit else None


def check_limits(ip: str | None, number: str | None) -> Limited | None:
    """Both limits are counted on every try, so a blocked IP cannot keep probing one order."""
    settings = get_settings()
    window = settings.status_lookup_window_seconds
    try:
        waits = [_hit("ip:" + (ip or "unknown"), settings.status_lookup_per_ip, window)]
        if number:
            waits.append(_hit("order:" + number.lower(), settings.status_lookup_per_order, window))
    except RedisError:
        # Failing open keeps the page usable when Redis blips; the answer still reveals nothing.
        log.warning("status.lookup_limit_unavailable", exc_info=True)
        return None
    waits = [wait for wait in waits if wait is not None]
    return Limited(retry_after=max(1, max(waits))) if waits else None


def find(session: Session, raw_number: str, raw_email: str, *, shop_domain: str | None = None) -> Order | None:
    """The order whose number and customer email both match, or None (for every other reason)."""
    number = normalise_number(raw_number)
    email = normalise_email(raw_email)
    query = (
        select(Order.id, Order.shop_id, Customer.email)
        .join(Customer, Customer.id == Order.customer_id)
        .where(Order.name == (number or _NO_MATCH_NAME))
        .limit(_MAX_CANDIDATES)
    )
    if shop_domain:
        query = query.join(Shop, Shop.id == Order.shop_id).where(Shop.domain == shop_domain.strip().lower())
    rows = session.execute(query).all()
    wanted = _digest(email or "")
    found: int | None = None
    for row in rows or [(None, None, "dummy@invalid")]:
        # Every candidate is compared, even after a match, so timing does not say which one.
        if hmac.compare_digest(_digest((row[2] or "").strip().lower()), wanted) and email and row[0]:
            found = found or row[0]
    return session.get(Order, found) if found else None


def record(session: Session, order: Order, *, ip: str | None, user_agent: str | None) -> None:
    shop = session.get(Shop, order.shop_id)
    evidence.record(
        session,
        chain=shop.domain,
        shop_id=shop.id,
        order_id=order.id,
        kind=LOOKED_UP,
        source="customer",
        data={"result": "matched", "order_status": order.status},
        personal={"ip": ip, "user_agent": (user_agent or "")[:512]},
    )
