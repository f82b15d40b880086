"""Refund or fight: the decision table for one pre-dispute alert, from what the ledger holds.

Pure (no I/O): `facts` are gathered by app.alerts.service from the order's ledger events and
refund rows. The first row whose condition holds decides; its name is recorded with the facts it
read, so the merchant (and a reviewer) can see why each alert went the way it did.

Why these rows:
- An alert we cannot tie to an order is answered `transaction_not_found` at once (the provider then
  closes it; refunding an unknown payment is impossible).
- TC40 is a fraud report and RDR a refund the network already made under the merchant's rules:
  neither asks the shop to move money (a second refund would pay the customer twice). Both are
  acknowledged.
- Money already back (confirmed refunds covering the alert) is `previously_refunded`.
- A fraud alert (the cardholder says they did not authorise the payment) is not answered by a
  delivery scan, and the ledger holds no 3-D Secure or CE 3.0 proof: refunding now avoids the
  chargeback fee and a count in the network's ratio.
- Not shipped, lost, returned or cancelled: a chargeback would be lost, refund now.
- Delivered with the carrier's delivery scan in the ledger: the evidence wins, fight.
- In transit and the promised date not passed (Visa 13.1 allows it): fight; past it, refund.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

# What we tell the provider for each action (its outcome vocabulary).
FIGHT, REFUND, ACKNOWLEDGE, NONE = "fight", "refund", "acknowledge", "none"
ACTIONS = (FIGHT, REFUND, ACKNOWLEDGE, NONE)
OUTCOMES = ("refunded", "previously_refunded", "transaction_not_found", "acknowledged", "decline", "error")


@dataclass(frozen=True)
class Facts:
    """What the ledger says about the alert's order (every field cited in the decision event)."""

    alert_type: str
    reason_family: str
    amount: Decimal
    order_found: bool = True
    cancelled: bool = False
    refunded: Decimal = Decimal(0)  # confirmed by the store
    refundable: Decimal = Decimal(0)  # order total less every refund not failed
    shipped: bool = False  # a shipment or the supplier's shipped event
    delivered_proof: int | None = None  # ledger id of the carrier's delivery scan
    lost: bool = False  # the carrier's exception "lost" / "destroyed"
    returned: bool = False  # returning or returned to sender
    expected_by: datetime | None = None  # the latest promised delivery of an undelivered parcel
    now: datetime | None = None
    cited: list[int] = field(default_factory=list)  # ledger event ids read

    def as_data(self) -> dict[str, Any]:
        return {
            "alert_type": self.alert_type, "reason_family": self.reason_family, "amount": str(self.amount),
            "order_found": self.order_found, "cancelled": self.cancelled, "refunded": str(self.refunded),
            "refundable": str(self.refundable), "shipped": self.shipped, "delivered_proof": self.delivered_proof,
            "lost": self.lost, "returned": self.returned,
            "expected_by": self.expected_by.isoformat() if self.expected_by else None,
            "cited_events": list(self.cited),
        }


@dataclass(frozen=True)
class Rule:
    name: str
    holds: Callable[[Facts], bool]
    action: str
    # The outcome reported once the action is done (a refund: once the store confirmed it).
    outcome: str


def _on_time(f: Facts) -> bool:
    return f.shipped and f.expected_by is not None and f.now is not None and f.now <= f.expected_by


TABLE: tuple[Rule, ...] = (
    Rule("order_not_found", lambda f: not f.order_found, NONE, "transaction_not_found"),
    Rule("fraud_report_only", lambda f: f.alert_type == "tc40", ACKNOWLEDGE, "acknowledged"),
    Rule("resolved_by_network", lambda f: f.alert_type == "rdr", ACKNOWLEDGE, "acknowledged"),
    Rule("previously_refunded", lambda f: f.refunded >= f.amount or f.refundable <= 0, NONE, "previously_refunded"),
    Rule("fraud_unwinnable", lambda f: f.reason_family == "fraud_claim", REFUND, "refunded"),
    Rule("order_cancelled", lambda f: f.cancelled, REFUND, "refunded"),
    Rule("not_shipped", lambda f: not f.shipped, REFUND, "refunded"),
    Rule("delivered_with_proof", lambda f: f.delivered_proof is not None, FIGHT, "decline"),
    Rule("lost_in_transit", lambda f: f.lost, REFUND, "refunded"),
    Rule("returned_to_sender", lambda f: f.returned, REFUND, "refunded"),
    Rule("in_transit_on_time", _on_time, FIGHT, "decline"),
    Rule("undelivered_past_promise", lambda f: True, REFUND, "refunded"),
)


def decide(facts: Facts) -> Rule:
    for rule in TABLE:
        if rule.holds(facts):
            return rule
    raise AssertionError("the last row always holds")  # pragma: no cover


def refund_amount(facts: Facts) -> Decimal:
    """What to refund: the alert's amount less what already went back, never more than is left."""
    return max(Decimal(0), min(facts.amount - facts.refunded, facts.refundable))
