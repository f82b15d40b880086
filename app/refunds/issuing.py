"""Our refunds at the store, exactly once (the discipline of app/exactly_once.py).

1. The refund's advisory lock (a second task stands down and retries later).
2. The attempt is recorded and committed before any call.
3. One read of the order at the store: a refund already carrying our key in its note (an earlier
   attempt whose answer was lost) is adopted, not repeated; otherwise its sale transactions say
   which payments the money goes back to (parentId and gateway, as Shopify requires).
4. refundCreate with `@idempotent(key:)`: a repeat that slips past the read still returns the
   first refund at the store.
5. The answer is recorded: issued (the store gave its refund id), confirmed (its transaction
   succeeded) or failed (refused). A pending transaction is confirmed later by refunds/create or
   by the reconcile job reading `refund(id:)`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import exactly_once
from app.db import session_scope, utcnow
from app.external_calls import Call
from app.orders.models import Order
from app.outbox.service import enqueue
from app.refunds import service
from app.refunds.models import Refund
from app.refunds.records import GRAPHQL_FIELDS, BadRefundPayload, from_graphql, key_in_note
from app.shops import guard, tokens
from app.shops.admin_client import AdminClient, AdminError, AdminTemporaryError
from app.shops.models import Shop

log = logging.getLogger(__name__)

# The first call and seven retries of the store's temporary errors; then the refund is failed.
MAX_ATTEMPTS = 8
RECONCILE_TASK = "refunds.reconcile"
# An issued refund whose transaction is still pending is read again this long after the last look
# (card refunds settle within minutes to days).
RECONCILE_AFTER = timedelta(minutes=10)

# Refunds are listed without their lines: the lookup only looks for our key, and stays cheap.
LOOKUP = """
query RefundLookup($id: ID!) {
  order(id: $id) {
    id
    transactions(first: 50) {
      id kind status gateway amountSet { shopMoney { amount currencyCode } } parentTransaction { id }
    }
    refunds(first: 20) {
      id legacyResourceId createdAt note totalRefundedSet { shopMoney { amount currencyCode } }
      transactions(first: 5) { nodes { kind status processedAt amountSet { shopMoney { amount currencyCode } } } }
    }
  }
}
"""
REFUND_CREATE = f"""
mutation RefundCreate($input: RefundInput!) {{
  refundCreate(input: $input) {{
    refund {{ {GRAPHQL_FIELDS} }}
    userErrors {{ field message }}
  }}
}}
"""
REFUND_READ = f"query RefundRead($id: ID!) {{ refund(id: $id) {{ {GRAPHQL_FIELDS} }} }}"


class RefundBusy(Exception):
    """Another task is issuing this refund; try again shortly."""


class RetryLater(Exception):
    """The store could not answer now; the task retries with backoff."""


@dataclass
class _Attempt:
    refund_id: int
    number: int
    shop_id: int
    shop_domain: str
    order_id: int
    order_external_id: int
    key: str
    amount: Decimal
    note: str
    lines: list[dict[str, Any]]

    @property
    def order_gid(self) -> str:
        return f"gid://shopify/Order/{self.order_external_id}"


@dataclass
class _Result:
    kind: str  # created | found | rejected | temporary
    calls: list[Call] = field(default_factory=list)
    refund: dict[str, Any] | None = None
    error: str | None = None


def _lock(session: Session, refund_id: int) -> tuple[Refund | None, Order | None]:
    """The order's lock first (the lock order of app.refunds.service), then the refund row."""
    order, refund = exactly_once.lock_after_store_order(session, Refund, refund_id)
    return refund, order


def _fail(session: Session, shop: Shop, refund: Refund, error: str, data: dict[str, Any] | None = None) -> str:
    refund.status, refund.last_error = "failed", error[:1000]
    service.record(session, shop, refund, "refund.failed", {"error": error[:500], **(data or {})})
    service.notify_origin(session, refund)
    return "failed"


def _begin(session: Session, refund_id: int) -> _Attempt | str:
    refund, order = _lock(session, refund_id)
    if refund is None:
        return "missing"
    if refund.status != "requested":
        return refund.status
    shop = session.get(Shop, refund.shop_id)
    if skipped := guard.skipped_uninstalled(session, shop, "refund", refund.id, order_id=refund.order_id):
        return skipped
    if refund.attempts >= MAX_ATTEMPTS:
        return _fail(session, shop, refund, f"the store did not answer after {refund.attempts} attempts")
    refund.attempts += 1
    service.record(session, shop, refund, "refund.issue_attempt", {"attempt": refund.attempts})
    return _Attempt(
        refund_id=refund.id, number=refund.attempts, shop_id=shop.id, shop_domain=shop.domain,
        order_id=order.id, order_external_id=order.external_id, key=refund.idempotency_key,
        amount=refund.amount, note=refund.note or "", lines=list(refund.lines or []),
    )


def _allocate(transactions: list[dict[str, Any]], amount: Decimal) -> list[tuple[Decimal, dict[str, Any]]] | None:
    """The amount split over the order's successful sales, largest remaining first; None when they
    hold less than the amount (the store would refuse it)."""
    sales = [t for t in transactions if t.get("kind") in ("SALE", "CAPTURE") and t.get("status") == "SUCCESS"]
    returned: dict[str, Decimal] = {}
    for t in transactions:
        parent = (t.get("parentTransaction") or {}).get("id")
        if t.get("kind") == "REFUND" and t.get("status") in ("SUCCESS", "PENDING") and parent:
            returned[parent] = returned.get(parent, Decimal(0)) + Decimal(t["amountSet"]["shopMoney"]["amount"])
    remaining = sorted(
        ((Decimal(s["amountSet"]["shopMoney"]["amount"]) - returned.get(s["id"], Decimal(0)), s) for s in sales),
        key=lambda pair: pair[0], reverse=True,
    )
    parts, left = [], amount
    for available, sale in remaining:
        take = min(left, available)
        if take > 0:
            parts.append((take, sale))
            left -= take
    return parts if left == 0 else None


def _variables(attempt: _Attempt, parts: list[tuple[Decimal, dict[str, Any]]]) -> dict[str, Any]:
    refund_input: dict[str, Any] = {
        "orderId": attempt.order_gid,
        "note": attempt.note,
        # The customer hears from the shop through Dropguard's own messages, once.
        "notify": False,
        "transactions": [
            {"orderId": attempt.order_gid, "parentId": sale["id"], "gateway": sale["gateway"], "kind": "REFUND",
             "amount": str(amount)}
            for amount, sale in parts
        ],
    }
    lines = [line for line in attempt.lines if line.get("line_id") and int(line.get("quantity") or 0) > 0]
    if lines:
        refund_input["refundLineItems"] = [
            {"lineItemId": f"gid://shopify/LineItem/{line['line_id']}", "quantity": int(line["quantity"]),
             "restockType": "NO_RESTOCK"}
            for line in lines
        ]
    return {"input": refund_input}


def _client(shop_id: int, shop_domain: str, transport: httpx.BaseTransport | None) -> AdminClient:
    token = tokens.access_token_for(shop_id, transport=transport)
    # No retries inside: the task retries within the refund's attempt budget, reading first.
    return AdminClient(shop_domain=shop_domain, access_token=token, shop_id=shop_id, transport=transport,
                       retries=0, throttle_retries=3)


def _call(attempt: _Attempt, transport: httpx.BaseTransport | None) -> _Result:
    result = _Result("temporary")
    try:
        with _client(attempt.shop_id, attempt.shop_domain, transport) as client:
            result.calls = client.calls
            order = client.query(LOOKUP, {"id": attempt.order_gid}).get("order")
            if not order:
                return _Result("rejected", result.calls, error=f"order {attempt.order_gid} not found in the store")
            for node in order.get("refunds") or []:
                if key_in_note(node.get("note")) == attempt.key:
                    return _Result("found", result.calls, refund=node)
            parts = _allocate(order.get("transactions") or [], attempt.amount)
            if parts is None:
                return _Result("rejected", result.calls,
                               error="the order's payments at the store hold less than the refund")
            payload = client.mutate(REFUND_CREATE, _variables(attempt, parts), idempotency_key=attempt.key,
                                    order_id=attempt.order_id, raise_user_errors=False)
            problems = "; ".join(str(e.get("message")) for e in payload.get("userErrors") or [])
            if problems or not payload.get("refund"):
                return _Result("rejected", result.calls, error=(problems or "the store returned no refund")[:500])
            return _Result("created", result.calls, refund=payload["refund"])
    except (AdminTemporaryError, tokens.TokenTemporaryError) as error:
        return _Result("temporary", result.calls, error=str(getattr(error, "message", error)))
    except (AdminError, tokens.TokenError) as error:
        return _Result("rejected", result.calls, error=str(getattr(error, "message", error)))


def _finish(session: Session, attempt: _Attempt, result: _Result) -> str:
    refund, order = _lock(session, attempt.refund_id)
    shop = session.get(Shop, refund.shop_id)
    calls = [call.as_data() for call in result.calls]
    if result.kind in ("created", "found"):
        try:
            report = from_graphql(result.refund, order_external_id=attempt.order_external_id)
        except BadRefundPayload as error:
            return _fail(session, shop, refund, f"the store's answer could not be read: {error.message}")
        if refund.external_id is None:
            refund.external_id = report.external_id
        service.apply_report(session, shop, report, via="answer" if result.kind == "created" else "lookup",
                             order=order)
        return refund.status
    if result.kind == "rejected":
        if refund.status != "requested":
            return refund.status  # the store's own report came first and settled it
        return _fail(session, shop, refund, result.error or "refused by the store",
                     {"attempt": attempt.number, "calls": calls})
    refund.last_error = result.error
    service.record(session, shop, refund, "refund.issue_failed",
                   {"attempt": attempt.number, "error": (result.error or "")[:500], "calls": calls})
    if attempt.number >= MAX_ATTEMPTS:
        return _fail(session, shop, refund, f"gave up after {attempt.number} attempts: {result.error}")
    return "retry"


def issue(refund_id: int, *, transport: httpx.BaseTransport | None = None) -> str:
    """Issue one requested refund at the store. Owns its transactions.

    Raises RefundBusy while another task issues it, RetryLater when the store should be asked again.
    """
    outcome, result = exactly_once.carry_out(
        exactly_once.STORE_REFUND, refund_id, begin=lambda session: _begin(session, refund_id),
        call=lambda attempt: _call(attempt, transport), finish=_finish,
        busy=lambda: RefundBusy(f"refund {refund_id} is being issued by another task"),
    )
    if outcome == "retry":
        raise RetryLater(result.error or "temporary store error")
    return outcome


# -- confirming issued refunds ------------------------------------------------------------------


def reconcile(refund_id: int, *, transport: httpx.BaseTransport | None = None) -> str:
    """Read an issued refund at the store again: its transaction may have gone through (or failed)
    without a webhook saying so."""
    with session_scope() as session:
        refund = session.get(Refund, refund_id)
        if refund is None or refund.status != "issued" or not refund.external_id:
            return refund.status if refund else "missing"
        shop = session.get(Shop, refund.shop_id)
        if skipped := guard.skipped_uninstalled(session, shop, "refund_reconcile", refund.id, order_id=refund.order_id):
            return skipped
        order_external_id = session.get(Order, refund.order_id).external_id
        shop_id, domain, gid = shop.id, shop.domain, f"gid://shopify/Refund/{refund.external_id}"
    try:
        with _client(shop_id, domain, transport) as client:
            node = client.query(REFUND_READ, {"id": gid}).get("refund")
    except (AdminTemporaryError, tokens.TokenTemporaryError) as error:
        raise RetryLater(str(getattr(error, "message", error))) from None
    except (AdminError, tokens.TokenError) as error:
        log.warning("refunds.reconcile_refused", extra={"refund_id": refund_id, "error": str(error)})
        return "issued"
    with session_scope() as session:
        refund, order = _lock(session, refund_id)
        shop = session.get(Shop, refund.shop_id)
        if refund.status != "issued":
            return refund.status  # a webhook settled it meanwhile
        if node is None:
            return _fail(session, shop, refund, "the store no longer has this refund")
        try:
            report = from_graphql(node, order_external_id=order_external_id)
        except BadRefundPayload as error:
            log.warning("refunds.reconcile_unreadable", extra={"refund_id": refund_id, "error": error.message})
            return "issued"
        service.apply_report(session, shop, report, via="reconcile", order=order)
        # Still pending: the next look waits RECONCILE_AFTER from now.
        refund.updated_at = utcnow()
        return refund.status


def reconcile_due(*, limit: int = 200) -> int:
    """Queue a read of every issued refund that has waited a while (beat)."""
    with session_scope() as session:
        ids = list(session.scalars(
            select(Refund.id).where(Refund.status == "issued", Refund.updated_at < utcnow() - RECONCILE_AFTER)
            .order_by(Refund.updated_at).limit(limit)
        ))
        for refund_id in ids:
            enqueue(session, RECONCILE_TASK, refund_id)
    return len(ids)
