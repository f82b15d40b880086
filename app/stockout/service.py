"""The customer's choice when no supplier has stock for some of an order's items.

app.suppliers asks (`ask`, in the transaction that found no supplier left): one question per
order, a message to the customer with a link to the choice on their status page, and the
merchant's flag. The customer answers once (`choose`): wait for the restock, or cancel those items
and be refunded. The answer is carried out exactly once: the route holds the choice's advisory lock
(exactly_once.STOCK_CHOICE, so a second submit in flight stands down), and the row is re-read under
its lock, so a later submit finds the first answer and changes nothing. The refund goes through
app.refunds under a key derived from the choice's id, and the choice reads "refunded" only once the
store confirmed it (`refund_settled`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app import exactly_once
from app.db import session_scope, utcnow
from app.evidence import service as evidence
from app.notifications import service as notifications
from app.orders.models import Order, OrderLine
from app.refunds import service as refunds
from app.refunds.models import Refund
from app.shops.models import Shop
from app.stockout.models import StockChoice

STAGE = "stock_choice"
OPTIONS = ("wait", "cancel")
FLAG = "awaiting_customer_choice"
# Waiting for someone: the customer (asked) or the merchant (the store refused the refund).
OPEN = ("asked", "failed")


def record(session: Session, shop: Shop, choice: StockChoice, kind: str, data: dict[str, Any] | None = None, *,
           source: str = "dropguard", personal: dict[str, Any] | None = None) -> None:
    evidence.record(session, chain=shop.domain, shop_id=shop.id, order_id=choice.order_id, kind=kind, source=source,
                    data={"stock_choice_id": choice.id, "status": choice.status, **(data or {})}, personal=personal)


def for_order(session: Session, order_id: int) -> StockChoice | None:
    return session.scalar(select(StockChoice).where(StockChoice.order_id == order_id))


def _amount(session: Session, order: Order, line_ids: list[int]) -> Decimal:
    """What the customer paid for those lines, never more than is left to refund; the whole order
    (its shipping too) when nothing of it can be sent."""
    left = order.total_price - refunds.refunded_amount(session, order.shop_id, order.id)
    every_line = {line.id for line in order.lines if line.quantity > 0}
    if every_line <= set(line_ids):
        return max(Decimal("0"), left).quantize(Decimal("0.01"))
    lines = session.scalars(select(OrderLine).where(OrderLine.order_id == order.id, OrderLine.id.in_(line_ids))).all()
    paid = sum((line.price * line.quantity for line in lines), Decimal("0"))
    return max(Decimal("0"), min(paid, left)).quantize(Decimal("0.01"))


def ask(session: Session, shop: Shop, order: Order, line_ids: list[int], supplier_reason: str | None) -> StockChoice | None:
    """Ask the customer to choose (once per order); None when they were asked already."""
    amount = _amount(session, order, line_ids)
    choice_id = session.scalar(
        insert(StockChoice)
        .values(shop_id=shop.id, order_id=order.id, status="asked", line_ids=line_ids, amount=amount,
                currency=order.currency, supplier_reason=(supplier_reason or "")[:64] or None)
        .on_conflict_do_nothing(index_elements=[StockChoice.order_id])
        .returning(StockChoice.id)
    )
    if choice_id is None:
        return None
    choice = session.get(StockChoice, choice_id)
    record(session, shop, choice, "stock_choice.asked",
           {"line_ids": line_ids, "amount": str(amount), "currency": order.currency, "supplier_reason": supplier_reason})
    notifications.schedule(session, order, stage=STAGE, context={"amount": str(amount), "currency": order.currency})
    return choice


class ChoiceRefused(Exception):
    """Not an option (the form was tampered with): a 400 with the reason."""


def choose(session: Session, shop: Shop, order: Order, choice: StockChoice, option: str, *, ip: str | None,
           user_agent: str | None) -> str:
    """Carry out the customer's answer, once; an answer after the first changes nothing."""
    if option not in OPTIONS:
        raise ChoiceRefused(option)
    exactly_once.lock_after_store_order(session, StockChoice, choice.id)
    if choice.status != "asked":
        return "already_chosen"
    choice.choice, choice.chosen_at = option, utcnow()
    personal = {"ip": ip, "user_agent": (user_agent or "")[:512]}
    if option == "wait":
        choice.status = "waiting"
        record(session, shop, choice, "stock_choice.wait_chosen", source="customer", personal=personal)
        return "waiting"
    try:
        refund = refunds.request_refund(
            session, shop, order, amount=choice.amount, reason="cancelled", issued_by="stockout",
            key=f"dg-{shop.id}-{order.id}-stockout-{choice.id}",
            note="Dropguard: items no supplier could send, cancelled by the customer",
            lines=[{"order_line_id": line_id} for line_id in choice.line_ids],
        )
    except refunds.RefundError as error:
        choice.status, choice.last_error = "failed", f"the refund cannot be made: {error.message}"[:1000]
        record(session, shop, choice, "stock_choice.cancel_chosen", {"refund_id": None, "error": choice.last_error},
               source="customer", personal=personal)
        return "failed"
    choice.status, choice.refund_id = "refund_requested", refund.id
    record(session, shop, choice, "stock_choice.cancel_chosen", {"refund_id": refund.id, "amount": str(refund.amount)},
           source="customer", personal=personal)
    from app.suppliers import ordering  # app.suppliers asks through this module: imported late

    ordering.resolve_flag(session, shop, order, FLAG, "the customer cancelled the items and is refunded",
                          source="customer")
    return "refund_requested"


def refund_settled(refund_id: int) -> str:
    """The store confirmed (or refused for good) the refund a cancelling customer was promised."""
    with session_scope() as session:
        found = session.scalar(select(StockChoice.id).where(StockChoice.refund_id == refund_id))
        if found is None:
            return "missing"
        _, choice = exactly_once.lock_after_store_order(session, StockChoice, found)
        refund = session.get(Refund, refund_id)
        if choice.status != "refund_requested":
            return choice.status
        shop = session.get(Shop, choice.shop_id)
        if refund.status == "confirmed":
            choice.status = "refunded"
            record(session, shop, choice, "stock_choice.refunded",
                   {"refund_id": refund.id, "external_id": refund.external_id, "amount": str(refund.amount)})
        elif refund.status == "failed":
            choice.status, choice.last_error = "failed", (refund.last_error or "the store did not make the refund")[:1000]
            record(session, shop, choice, "stock_choice.refund_failed", {"refund_id": refund.id, "error": choice.last_error})
        return choice.status


def count_open(session: Session, shop: Shop) -> int:
    """Home's "needs attention": customers not yet answered, and refunds the store refused."""
    from sqlalchemy import func

    return session.scalar(select(func.count()).select_from(StockChoice).where(
        StockChoice.shop_id == shop.id, StockChoice.status.in_(OPEN))) or 0
