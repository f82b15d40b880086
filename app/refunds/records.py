"""The store's refund record, read from any of the shapes it arrives in: the refunds/create webhook
(REST JSON), refundCreate's answer and the `refund(id:)` query (GraphQL), and the history import
(GraphQL, totals only). One shape here, so every path decides the same way."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.errors import AppError

# refundCreate's selection: what the issuing task needs to decide issued / confirmed / failed.
GRAPHQL_FIELDS = """
id legacyResourceId createdAt note
totalRefundedSet { shopMoney { amount currencyCode } }
transactions(first: 10) { nodes { kind status processedAt amountSet { shopMoney { amount currencyCode } } } }
refundLineItems(first: 50) { nodes { quantity lineItem { id } subtotalSet { shopMoney { amount } } } }
"""
_SUCCESS = "success"
_FAILED = frozenset({"failure", "error"})
# Our idempotency key travels in the note we send, so a refund the store reports before our own
# answer is recorded (a worker killed after the store accepted) is still recognised as ours.
_MARKER = re.compile(r"\[dropguard:([A-Za-z0-9._:-]{1,128})\]")


class BadRefundPayload(AppError):
    code = "bad_refund_payload"


def marker(key: str) -> str:
    return f"[dropguard:{key}]"


def key_in_note(note: str | None) -> str | None:
    found = _MARKER.search(note or "")
    return found.group(1) if found else None


@dataclass(frozen=True)
class StoreRefund:
    external_id: str
    order_external_id: int | None
    note: str | None
    currency: str | None
    refunded_at: datetime | None
    # Sums of the refund transactions by outcome; `known` is False when only a total was read.
    succeeded: Decimal = Decimal(0)
    pending: Decimal = Decimal(0)
    failed: Decimal = Decimal(0)
    transactions: int = 0
    lines: list[dict[str, Any]] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        """confirmed (money went back, or there was none to return), failed, or issued (waiting)."""
        if self.succeeded > 0 or self.transactions == 0:
            return "confirmed"
        if self.pending > 0:
            return "issued"
        return "failed" if self.failed > 0 else "confirmed"


def _legacy_id(value: Any) -> str | None:
    tail = str(value or "").rsplit("/", 1)[-1].split("?")[0]
    return tail if tail.isdigit() else None


def _amount(value: Any, where: str) -> Decimal:
    try:
        amount = Decimal(str(value if value not in (None, "") else "0"))
    except InvalidOperation:
        raise BadRefundPayload(f"{where} is not an amount") from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        raise BadRefundPayload(f"{where} is out of range")
    return amount.quantize(Decimal("0.01"))


def _time(value: Any, where: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BadRefundPayload(f"{where} is not an ISO-8601 timestamp") from None
    if moment.tzinfo is None:
        raise BadRefundPayload(f"{where} has no time zone")
    return moment


def _sums(transactions: list[tuple[str, str, Decimal]]) -> dict[str, Any]:
    """(kind, status, amount) of each transaction -> the StoreRefund money fields."""
    sums = {"succeeded": Decimal(0), "pending": Decimal(0), "failed": Decimal(0), "transactions": 0}
    for kind, status, amount in transactions:
        if kind != "refund":
            continue
        sums["transactions"] += 1
        bucket = "succeeded" if status == _SUCCESS else "failed" if status in _FAILED else "pending"
        sums[bucket] += amount
    return sums


def from_webhook(payload: dict[str, Any]) -> StoreRefund:
    """refunds/create: the REST refund JSON."""
    if not isinstance(payload, dict):
        raise BadRefundPayload("a refund payload must be an object")
    external_id = _legacy_id(payload.get("id"))
    if external_id is None:
        raise BadRefundPayload("a refund payload needs a numeric id")
    raw_transactions = payload.get("transactions") or []
    raw_lines = payload.get("refund_line_items") or []
    if not isinstance(raw_transactions, list) or not isinstance(raw_lines, list):
        raise BadRefundPayload("transactions and refund_line_items must be lists")
    transactions, currency = [], None
    for index, raw in enumerate(raw_transactions):
        if not isinstance(raw, dict):
            raise BadRefundPayload(f"transactions[{index}] must be an object")
        currency = currency or raw.get("currency")
        transactions.append((str(raw.get("kind") or "").lower(), str(raw.get("status") or "").lower(),
                             _amount(raw.get("amount"), f"transactions[{index}].amount")))
    lines = []
    for index, raw in enumerate(raw_lines):
        if not isinstance(raw, dict):
            raise BadRefundPayload(f"refund_line_items[{index}] must be an object")
        amount = _amount(raw.get("subtotal"), f"refund_line_items[{index}].subtotal") + _amount(
            raw.get("total_tax"), f"refund_line_items[{index}].total_tax")
        lines.append({"line_id": _legacy_id(raw.get("line_item_id")), "quantity": int(raw.get("quantity") or 0),
                      "amount": str(amount)})
    order_id = _legacy_id(payload.get("order_id"))
    return StoreRefund(
        external_id=external_id,
        order_external_id=int(order_id) if order_id else None,
        note=(str(payload["note"]) if payload.get("note") is not None else None),
        currency=str(currency)[:3] if currency else None,
        refunded_at=_time(payload.get("processed_at") or payload.get("created_at"), "processed_at"),
        lines=lines,
        **_sums(transactions),
    )


def _money(value: dict[str, Any] | None) -> tuple[Decimal, str | None]:
    money = ((value or {}).get("shopMoney") or {}) if isinstance(value, dict) else {}
    return _amount(money.get("amount"), "amount"), money.get("currencyCode")


def from_graphql(node: dict[str, Any], *, order_external_id: int | None = None) -> StoreRefund:
    """A GraphQL Refund: refundCreate's answer or `refund(id:)` (with transactions), or a history
    node (a total only: a refund the store records with money returned is a refund that happened)."""
    external_id = _legacy_id(node.get("legacyResourceId") or node.get("id"))
    if external_id is None:
        raise BadRefundPayload("a refund needs an id")
    total, currency = _money(node.get("totalRefundedSet"))
    if "transactions" in node:
        transactions = []
        for raw in ((node.get("transactions") or {}).get("nodes") or []):
            amount, currency_code = _money(raw.get("amountSet"))
            currency = currency or currency_code
            transactions.append((str(raw.get("kind") or "").lower(), str(raw.get("status") or "").lower(), amount))
        sums = _sums(transactions)
    else:
        sums = {"succeeded": total, "transactions": 1 if total > 0 else 0}
    lines = [
        {"line_id": _legacy_id((raw.get("lineItem") or {}).get("id")), "quantity": int(raw.get("quantity") or 0),
         "amount": str(_money(raw.get("subtotalSet"))[0])}
        for raw in ((node.get("refundLineItems") or {}).get("nodes") or [])
    ]
    return StoreRefund(
        external_id=external_id,
        order_external_id=order_external_id,
        note=node.get("note"),
        currency=str(currency)[:3] if currency else None,
        refunded_at=_time(node.get("createdAt"), "createdAt"),
        lines=lines,
        **sums,
    )
