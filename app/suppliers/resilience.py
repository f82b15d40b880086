"""Per-supplier rate limit, circuit breaker and hold queue, shared by every worker through Redis.

- Rate limit: a token bucket per supplier (rate_per_second, rate_burst). A caller waits a few
  seconds at most for its token; longer and it gives up with SupplierBusy (a temporary error, so
  the task is retried later with jitter) instead of blocking a worker.
- Circuit breaker per supplier: closed -> open after `breaker_threshold` consecutive failed calls
  -> half-open after `breaker_cooldown_seconds`, when exactly one probe call goes out -> closed
  on its success, open again on its failure. Every change of state is an evidence event.
- Hold queue: a supplier order whose call failed, and any later one while the circuit is not
  closed or earlier orders still wait, is held in supplier_queue instead of being sent. The
  release task (app.suppliers.recovery) sends the queue head first, one at a time, so orders
  reach a recovered supplier in the order they were paid; the first of them is the half-open
  probe. (A failed order's own retry may also go out, but only while it is the queue head.)

What counts as a failure: no usable answer (timeout, transport error, 5xx, 429). A refusal
(4xx, out of stock) is an answer: the supplier is up.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app import exactly_once
from app.config import get_settings
from app.db import session_scope, utcnow
from app.evidence import service as evidence
from app.redis import get_redis, key
from app.shops.models import Shop
from app.suppliers.client import SupplierTemporaryError
from app.suppliers.health_models import SupplierQueueEntry
from app.suppliers.models import Supplier, SupplierOrder

log = logging.getLogger(__name__)

# How long one caller may wait for a rate-limit token before handing the work back to Celery.
MAX_TOKEN_WAIT_SECONDS = 5.0
# A half-open probe that never reports (its worker died) frees the probe slot after this long.
PROBE_TTL_SECONDS = 60.0

_TAKE = """
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], 3600)
return tostring(wait)
"""

_ALLOW = """
local s = redis.call('HMGET', KEYS[1], 'state', 'opened_at', 'probe_until')
local state = s[1] or 'closed'
local now = tonumber(ARGV[1])
if state == 'closed' then return {1, state, ''} end
if state == 'open' then
  if now < tonumber(s[2] or 0) + tonumber(ARGV[2]) then return {0, state, ''} end
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'probe_until', tostring(now + tonumber(ARGV[3])),
             'changed_at', tostring(now))
  return {1, 'half_open', 'half_open'}
end
if now >= tonumber(s[3] or 0) then
  redis.call('HSET', KEYS[1], 'probe_until', tostring(now + tonumber(ARGV[3])))
  return {1, state, ''}
end
return {0, state, ''}
"""

_RECORD = """
local s = redis.call('HMGET', KEYS[1], 'state', 'failures')
local state = s[1] or 'closed'
local failures = tonumber(s[2] or 0)
local now = ARGV[1]
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'failures', 0, 'last_success_at', now)
  if state ~= 'closed' then
    redis.call('HSET', KEYS[1], 'state', 'closed', 'changed_at', now, 'probe_until', 0)
    return {'closed', 'closed', 0}
  end
  return {state, '', 0}
end
failures = failures + 1
redis.call('HSET', KEYS[1], 'failures', failures, 'last_failure_at', now)
if state == 'half_open' or (state == 'closed' and failures >= tonumber(ARGV[3])) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', now, 'changed_at', now, 'probe_until', 0)
  return {'open', 'open', failures}
end
return {state, '', failures}
"""


class SupplierBusy(SupplierTemporaryError):
    """The supplier's rate limit has no token for us soon enough; try again later."""


@dataclass(frozen=True)
class Limits:
    rate_per_second: float
    rate_burst: int
    threshold: int
    cooldown_seconds: float


def limits_for(supplier: Supplier) -> Limits:
    settings, own = get_settings(), supplier.settings or {}
    return Limits(
        rate_per_second=float(own.get("rate_per_second") or settings.supplier_rate_per_second),
        rate_burst=int(own.get("rate_burst") or settings.supplier_rate_burst),
        threshold=int(own.get("breaker_threshold") or settings.supplier_breaker_threshold),
        cooldown_seconds=float(own.get("breaker_cooldown_seconds") or settings.supplier_breaker_cooldown_seconds),
    )


def jittered_backoff(attempt: int, *, base: float = 1.0, cap: float = 60.0) -> float:
    """Full jitter (a uniform wait up to base * 2^attempt, capped): retries of many workers spread out."""
    return random.uniform(0, min(cap, base * 2 ** max(attempt, 0)))  # noqa: S311 - not cryptographic


def _bucket_key(supplier_id: int) -> str:
    return key("suppliers", "rate", str(supplier_id))


def _breaker_key(supplier_id: int) -> str:
    return key("suppliers", "breaker", str(supplier_id))


def take_token(supplier: Supplier, *, max_wait: float = MAX_TOKEN_WAIT_SECONDS) -> float:
    """Take one call's token, sleeping for it if it comes soon; returns the seconds waited."""
    limits = limits_for(supplier)
    waited = 0.0
    while True:
        wait = float(get_redis().eval(
            _TAKE, 1, _bucket_key(supplier.id), limits.rate_per_second, limits.rate_burst, time.time()
        ))
        if wait <= 0:
            return waited
        if waited + wait > max_wait:
            raise SupplierBusy(f"supplier {supplier.id} rate limit: next call in {wait:.1f} s")
        # Another worker may take the token that refills meanwhile: sleep, then ask again.
        time.sleep(wait + random.uniform(0, 0.05))  # noqa: S311 - not cryptographic
        waited += wait


def circuit(supplier_id: int) -> dict[str, Any]:
    """The breaker's state for dashboards: state, failures, times (unix seconds)."""
    raw = get_redis().hgetall(_breaker_key(supplier_id))
    state = {k.decode(): v.decode() for k, v in raw.items()}
    return {
        "state": state.get("state", "closed"),
        "failures": int(state.get("failures", 0)),
        "opened_at": float(state["opened_at"]) if state.get("opened_at") else None,
        "changed_at": float(state["changed_at"]) if state.get("changed_at") else None,
        "last_failure_at": float(state["last_failure_at"]) if state.get("last_failure_at") else None,
        "last_success_at": float(state["last_success_at"]) if state.get("last_success_at") else None,
    }


def allow(supplier: Supplier) -> tuple[bool, str | None]:
    """May a call go out now? The second value names a transition this check made (half_open)."""
    limits = limits_for(supplier)
    ok, _state, transition = get_redis().eval(
        _ALLOW, 1, _breaker_key(supplier.id), time.time(), limits.cooldown_seconds, PROBE_TTL_SECONDS
    )
    return bool(ok), (transition.decode() or None) if isinstance(transition, bytes) else (transition or None)


def record_call(supplier: Supplier, *, ok: bool) -> tuple[str | None, int]:
    """Count one call's outcome; returns (the transition it caused or None, consecutive failures)."""
    limits = limits_for(supplier)
    _state, transition, failures = get_redis().eval(
        _RECORD, 1, _breaker_key(supplier.id), time.time(), "1" if ok else "0", limits.threshold
    )
    transition = transition.decode() if isinstance(transition, bytes) else transition
    return transition or None, int(failures)


def reset(supplier_id: int) -> None:
    get_redis().delete(_breaker_key(supplier_id), _bucket_key(supplier_id))


def record_transition(session: Session, supplier: Supplier, transition: str, failures: int) -> None:
    limits = limits_for(supplier)
    shop = session.get(Shop, supplier.shop_id)
    evidence.record(
        session,
        chain=shop.domain,
        shop_id=shop.id,
        kind=f"supplier.circuit_{transition}",
        source="dropguard",
        data={
            "supplier_id": supplier.id,
            "supplier": supplier.name,
            "state": transition,
            "consecutive_failures": failures,
            "threshold": limits.threshold,
            "cooldown_seconds": limits.cooldown_seconds,
        },
    )
    log.warning("supplier.circuit", extra={"supplier_id": supplier.id, "state": transition})


def queue_head(session: Session, supplier_id: int) -> int | None:
    return session.scalar(
        select(func.min(SupplierQueueEntry.supplier_order_id)).where(SupplierQueueEntry.supplier_id == supplier_id)
    )


def queue_length(session: Session, supplier_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(SupplierQueueEntry).where(SupplierQueueEntry.supplier_id == supplier_id)
    ) or 0


def hold(session: Session, so: SupplierOrder, reason: str, *, record: bool = True) -> None:
    """Put a pending supplier order in its supplier's queue (once) and say so in the ledger."""
    inserted = session.scalar(
        insert(SupplierQueueEntry)
        .values(supplier_order_id=so.id, shop_id=so.shop_id, supplier_id=so.supplier_id, reason=reason,
                queued_at=utcnow())
        .on_conflict_do_nothing()
        .returning(SupplierQueueEntry.supplier_order_id)
    )
    if inserted is None or not record:
        return
    shop = session.get(Shop, so.shop_id)
    evidence.record(
        session,
        chain=shop.domain,
        shop_id=shop.id,
        order_id=so.order_id,
        kind="supplier_order.queued",
        source="dropguard",
        data={"supplier_order_id": so.id, "supplier_id": so.supplier_id, "reason": reason},
    )


def unqueue(session: Session, supplier_order_id: int) -> None:
    session.execute(delete(SupplierQueueEntry).where(SupplierQueueEntry.supplier_order_id == supplier_order_id))


def admit(session: Session, supplier_order_id: int) -> str | None:
    """Before a placement call: None when it may go now, "queued" when it was held instead.

    Takes the order's row lock first (the lock order every ledger writer follows), so the
    placement that follows in this transaction appends its evidence safely. Raises SupplierBusy
    when the rate limit keeps the call waiting too long.
    """
    _order, so = exactly_once.lock_with_order(session, SupplierOrder, supplier_order_id)
    if so is None or so.status != "pending":
        return None  # nothing will be sent; the placement code says why
    supplier = session.get(Supplier, so.supplier_id)
    head = queue_head(session, supplier.id)
    if head is not None and head != so.id:
        # Earlier orders wait for this supplier: never overtake them.
        hold(session, so, "behind_queue")
        return "queued"
    allowed, transition = allow(supplier)
    if transition:
        record_transition(session, supplier, transition, circuit(supplier.id)["failures"])
    if not allowed:
        hold(session, so, "circuit_open")
        return "queued"
    take_token(supplier)
    return None


def after_call(supplier: Supplier, supplier_order_id: int | None, *, ok: bool) -> None:
    """After a call: count it in the breaker and record any change of state. A supplier order
    whose call failed joins the queue (if it is not in it yet), so that later orders for the same
    supplier wait behind it instead of overtaking it while it waits for its retry; one that went
    through leaves the queue."""
    transition, failures = record_call(supplier, ok=ok)
    if transition is None and supplier_order_id is None:
        return
    with session_scope() as session:
        so = None
        if supplier_order_id is not None:
            _order, so = exactly_once.lock_with_order(session, SupplierOrder, supplier_order_id)
        if transition:
            record_transition(session, session.get(Supplier, supplier.id), transition, failures)
        if so is None:
            return
        if ok:
            unqueue(session, so.id)
        elif so.status == "pending":
            # The ledger already gets supplier_order.call_failed for it from the placement.
            hold(session, so, "call_failed", record=False)


def allow_call(supplier: Supplier) -> bool:
    """`allow` for callers outside a transaction (stock polls): records a transition itself."""
    allowed, transition = allow(supplier)
    if transition:
        with session_scope() as session:
            record_transition(session, session.get(Supplier, supplier.id), transition, circuit(supplier.id)["failures"])
    return allowed
