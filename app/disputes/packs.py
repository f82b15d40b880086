"""Evidence packs: what the ledger and the order hold that answers one dispute, element by element.

Each element is present (it cites ledger events, whose hashes the proof page and the verifiable
export carry) or missing, with the reason it is missing and what would fix it. Nothing is
inferred beyond what an event or an order row says: a refund still pending is listed as pending,
a scan without a place says so, and a fact Dropguard never captures (AVS/CVV) is named as missing.

Text here is what the bank reads, in English (the language issuers expect).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.disputes import reasons
from app.disputes.models import Dispute
from app.evidence import service as evidence
from app.evidence.models import EvidenceEvent
from app.fulfilments.models import Shipment
from app.orders.models import DeliveryAddress, Order
from app.refunds import service as refunds
from app.refunds.models import Refund
from app.resolutions.models import Resolution
from app.risk.models import RiskSignal
from app.shops.models import Shop

# Visa CE 3.0: prior transactions settled more than 119 and fewer than 366 days before (Stripe's rule).
CE3_MIN_DAYS, CE3_MAX_DAYS = 120, 365
# Stripe's `required_actions` for visa_compelling_evidence_3, used as our own checklist (facts §1.2).
CE3_ACTIONS = ("missing_customer_identifiers", "missing_disputed_transaction_description",
               "missing_merchandise_or_services", "missing_prior_undisputed_transaction_description",
               "missing_prior_undisputed_transactions")
SHIPPING_SCAN_KINDS = ("tracking.scan",)
FAMILY_LABELS = {
    reasons.NOT_RECEIVED: "Product not received",
    reasons.NOT_AS_DESCRIBED: "Not as described or damaged",
    reasons.FRAUD: "Fraud (card not present)",
    reasons.CREDIT: "Credit not processed or cancelled",
    reasons.GENERAL: "General",
}


@dataclass
class Element:
    key: str
    label: str
    present: bool
    summary: str
    missing_reason: str | None = None
    fix: str | None = None
    # Whether the pack is incomplete without it (informational elements are shown either way).
    required: bool = True
    cites: list[int] = field(default_factory=list)  # evidence event ids
    rows: list[tuple[str, ...]] = field(default_factory=list)  # a table for the document

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "present": self.present, "summary": self.summary,
                "missing_reason": self.missing_reason, "fix": self.fix, "required": self.required,
                "cites": list(self.cites)}


@dataclass
class Scan:
    time: datetime
    place: str | None
    status: str | None
    description: str | None
    event_id: int


@dataclass
class Pack:
    dispute: Dispute
    chain: str  # the shop's ledger chain (its domain)
    order: Order | None
    family: str
    elements: list[Element]
    refunded: Decimal
    events: dict[int, EvidenceEvent]
    scans: list[Scan]
    # The store's own records of this dispute (reason, amount, deadline), cited by the summary.
    dispute_event_ids: list[int] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return all(e.present for e in self.elements if e.required)

    @property
    def missing(self) -> list[Element]:
        return [e for e in self.elements if e.required and not e.present]

    def element(self, key: str) -> Element | None:
        return next((e for e in self.elements if e.key == key), None)

    @property
    def cited(self) -> list[EvidenceEvent]:
        ids = {i for e in self.elements for i in e.cites} | set(self.dispute_event_ids)
        return sorted((self.events[i] for i in ids if i in self.events), key=lambda e: e.seq)


def when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "unknown time"


def day(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d") if moment else "unknown date"


def money(amount: Decimal | None, currency: str | None) -> str:
    return f"{Decimal(amount or 0):.2f} {currency or ''}".strip()


def _fold(text: str | None) -> str:
    return unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()


def _parse_time(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else None


class _Ledger:
    """The order's events by kind (one read, in chain order)."""

    def __init__(self, events: list[EvidenceEvent]) -> None:
        self.all = events
        self.by_id = {e.id: e for e in events}

    def of(self, *kinds: str) -> list[EvidenceEvent]:
        return [e for e in self.all if e.kind in kinds]

    def first(self, *kinds: str) -> EvidenceEvent | None:
        found = self.of(*kinds)
        return found[0] if found else None


def _scans(ledger: _Ledger) -> list[Scan]:
    scans = []
    for event in ledger.of(*SHIPPING_SCAN_KINDS):
        personal = event.personal or {}
        scans.append(Scan(time=event.occurred_at, place=personal.get("location") or None,
                          status=event.data.get("status"), description=personal.get("description") or None,
                          event_id=event.id))
    return sorted(scans, key=lambda s: s.time)


# -- elements shared by every family ------------------------------------------------------------


def _order_element(order: Order | None, ledger: _Ledger) -> Element:
    if order is None:
        return Element("order", "Order and products", False, "The store named an order Dropguard never received.",
                       missing_reason="The dispute's order is not in Dropguard's records.",
                       fix="Import the shop's order history (Settings), then rebuild the pack.")
    lines = "; ".join(f"{line.quantity} x {line.title}" + (f" ({line.variant_title})" if line.variant_title else "")
                      + f" at {money(line.price, order.currency)}" for line in order.lines)
    snapshot = ledger.first("order.snapshot_applied", "order.imported")
    summary = (f"Order {order.name} placed {day(order.placed_at or order.created_at)} for "
               f"{money(order.total_price, order.currency)}: {lines or 'no line items recorded'}.")
    return Element("order", "Order and products", True, summary, cites=[snapshot.id] if snapshot else [],
                   rows=[(str(line.quantity), line.title, money(line.price, order.currency)) for line in order.lines])


def _refunds_element(refund_rows: list[Refund], ledger: _Ledger, dispute: Dispute, order: Order | None) -> Element:
    """Always present: a refund already given changes what is really disputed."""
    confirmed = [r for r in refund_rows if r.status == "confirmed"]
    pending = [r for r in refund_rows if r.status in ("requested", "issued")]
    cites = [e.id for e in ledger.of("refund.confirmed", "refund.recorded")]
    rows = [(day(r.refunded_at or r.requested_at), money(r.amount, r.currency), r.status) for r in refund_rows
            if r.status != "failed"]
    if not confirmed and not pending:
        return Element("refunds", "Refunds already given", True, "No refund has been given for this order.",
                       required=False, cites=cites, rows=rows)
    total = sum((r.amount for r in confirmed), Decimal(0))
    parts = [f"{money(r.amount, r.currency)} on {day(r.refunded_at or r.requested_at)}" for r in confirmed]
    summary = f"Refunded {money(total, order.currency if order else dispute.currency)}"
    summary += f" ({', '.join(parts)})." if parts else "."
    if pending:
        summary += " Not yet confirmed by the store: " + ", ".join(money(r.amount, r.currency) for r in pending) + "."
    if order is not None and total:
        summary += (f" Of the order's {money(order.total_price, order.currency)}, "
                    f"{money(order.total_price - total, order.currency)} remained paid"
                    f"; the dispute claims {money(dispute.amount, dispute.currency)}.")
    return Element("refunds", "Refunds already given", True, summary, required=False, cites=cites, rows=rows)


def _messages_element(ledger: _Ledger, *, required: bool = False) -> Element:
    sent = ledger.of("notification.sent")
    if not sent:
        return Element("messages", "Messages sent to the customer", False, "No message to the customer is recorded.",
                       missing_reason="The shop sent the customer no shipping or delivery message through Dropguard.",
                       fix="Turn on the customer messages (Settings > Notifications) for future orders.",
                       required=required)
    rows = [(when(e.occurred_at), str(e.data.get("channel") or ""), str(e.data.get("subject") or e.data.get("stage")))
            for e in sent]
    summary = f"{len(sent)} message(s) sent to the customer: " + "; ".join(
        f"{row[2]} ({row[1]}, {row[0]})" for row in rows) + "."
    return Element("messages", "Messages sent to the customer", True, summary, required=required,
                   cites=[e.id for e in sent], rows=rows)


# -- shipping ---------------------------------------------------------------------------------------


def _tracking_element(shipments: list[Shipment], ledger: _Ledger) -> Element:
    if not shipments:
        return Element("carrier_tracking", "Carrier and tracking number", False, "No shipment is recorded.",
                       missing_reason="No tracking number was recorded for this order.",
                       fix="Add the supplier's tracking number to the order, so the carrier's scans are followed.")
    created = ledger.of("shipment.created")
    summary = "; ".join(f"{s.carrier or 'carrier unknown'} tracking number {s.tracking_number}, shipped "
                        f"{day(s.shipped_at or s.created_at)}" for s in shipments) + "."
    return Element("carrier_tracking", "Carrier and tracking number", True, summary, cites=[e.id for e in created],
                   rows=[(s.carrier or "", s.tracking_number, day(s.shipped_at or s.created_at)) for s in shipments])


def _scan_element(scans: list[Scan]) -> Element:
    if not scans:
        return Element("scan_timeline", "Carrier scan timeline", False, "The carrier has reported no scan.",
                       missing_reason="No carrier scan was received for the tracking number(s).",
                       fix="Check that the tracking number is right and followed by the tracking provider.")
    placed = sum(1 for s in scans if s.place)
    summary = (f"{len(scans)} carrier scan(s) from {when(scans[0].time)} to {when(scans[-1].time)}"
               f" ({placed} with a place).")
    return Element("scan_timeline", "Carrier scan timeline", True, summary, cites=[s.event_id for s in scans],
                   rows=[(when(s.time), s.place or "place not given", s.description or s.status or "") for s in scans])


def _delivery_element(shipments: list[Shipment], scans: list[Scan], ledger: _Ledger) -> Element:
    delivered = [s for s in shipments if s.delivered_at]
    events = ledger.of("shipment.delivered")
    if not delivered:
        return Element("delivery_scan", "Delivery scan", False, "The carrier has not reported a delivery.",
                       missing_reason="No delivery scan is recorded for any shipment of this order.",
                       fix="If the promised delivery date has not passed, say so in the response; otherwise a "
                           "refund may cost less than the dispute.")
    delivery_scans = [s for s in scans if s.status == "delivered"]
    place = delivery_scans[-1].place if delivery_scans else None
    summary = "; ".join(f"Delivered {when(s.delivered_at)} ({s.tracking_number})" for s in delivered)
    summary += f", scanned at {place}." if place else " (the carrier gave no place for the delivery scan)."
    cites = [e.id for e in events] + ([delivery_scans[-1].event_id] if delivery_scans else [])
    return Element("delivery_scan", "Delivery scan", True, summary, cites=cites)


def _place_matches(place: str, address: DeliveryAddress) -> list[str]:
    folded = _fold(place)
    matched = []
    if address.zip and re.sub(r"\s", "", _fold(address.zip)) in re.sub(r"\s", "", folded):
        matched.append("postcode")
    if address.city and _fold(address.city) in folded:
        matched.append("city")
    return matched


def _address_element(address: DeliveryAddress | None, scans: list[Scan], ledger: _Ledger) -> Element:
    label = "Delivery place matches the order's address"
    delivery_scans = [s for s in scans if s.status == "delivered"]
    if address is None:
        return Element("address_match", label, False, "The order's delivery address is not on record.",
                       missing_reason="The order has no delivery address (or it was redacted on request).",
                       fix="None in Dropguard: the address came from the store's order.")
    if not delivery_scans or not delivery_scans[-1].place:
        return Element("address_match", label, False, "The delivery scan carries no place to compare.",
                       missing_reason="The carrier reported no place with the delivery scan.",
                       fix="Ask the carrier for its proof of delivery and attach it to the response.")
    scan = delivery_scans[-1]
    matched = _place_matches(scan.place, address)
    where = ", ".join(filter(None, [address.city, address.zip, address.country_code]))
    if not matched:
        return Element("address_match", label, False,
                       f"Delivery scan place '{scan.place}' does not name the order's city or postcode ({where}).",
                       missing_reason="The delivery scan's place does not match the order's address.",
                       fix="Ask the carrier for the proof of delivery showing the address.", cites=[scan.event_id])
    snapshot = ledger.first("order.snapshot_applied", "order.imported")
    return Element("address_match", label, True,
                   f"The delivery scan's place '{scan.place}' matches the order's {' and '.join(matched)} ({where}).",
                   cites=[scan.event_id] + ([snapshot.id] if snapshot else []))


def _visits_element(ledger: _Ledger) -> Element:
    visits = ledger.of("status_page.viewed")
    if not visits:
        return Element("status_visits", "Customer's visits to the order status page", False,
                       "No visit to the order's tracking page is recorded.",
                       missing_reason="The customer never opened the shop's tracking page for this order.",
                       fix="Nothing to fix: the response can do without it.", required=False)
    summary = (f"The customer opened the order's tracking page {len(visits)} time(s), first {when(visits[0].occurred_at)}"
               f", last {when(visits[-1].occurred_at)}.")
    return Element("status_visits", "Customer's visits to the order status page", True, summary, required=False,
                   cites=[e.id for e in visits], rows=[(when(e.occurred_at),) for e in visits])


def _claims_element(ledger: _Ledger, *, required: bool, label: str = "Claims the customer made") -> Element:
    claims = ledger.of("resolution.reported", "insights.claim_opened")
    if not claims:
        return Element("claims", label, False, "The customer made no claim to the shop before the dispute.",
                       missing_reason="No claim through the shop's resolution page or messages is recorded.",
                       fix="Nothing to add: the response says the customer did not contact the shop first.",
                       required=required)
    parts = [f"{e.data.get('reason') or 'claim'} on {when(e.occurred_at)}" for e in claims]
    return Element("claims", label, True, f"{len(claims)} claim(s): " + "; ".join(parts) + ".", required=required,
                   cites=[e.id for e in claims])


# -- not as described -------------------------------------------------------------------------------


def _listing_element(order: Order | None, ledger: _Ledger) -> Element:
    snapshot = ledger.first("order.snapshot_applied", "order.imported")
    titles = ", ".join(line.title for line in order.lines) if order else ""
    return Element("listing", "Listing at order time (title, description, images)", False,
                   f"Product titles at order time: {titles or 'none recorded'}. Description and images not kept.",
                   missing_reason="Dropguard keeps the product titles from the order, not the listing's "
                                  "description and images.",
                   fix="Attach a saved copy of the product page as it was on the order date.",
                   cites=[snapshot.id] if snapshot else [])


def _photos_element(resolutions: list[Resolution], ledger: _Ledger) -> Element:
    reported = ledger.of("resolution.reported")
    photos = [p for r in resolutions for p in (r.photos or [])]
    if not reported:
        return Element("claim_photos", "Photos and messages from the claim", False,
                       "The customer sent no photo or message through the shop.",
                       missing_reason="No claim with photos was made through the shop's resolution page.",
                       fix="Nothing to add: the response says the customer never reported the problem to the shop.")
    summary = (f"{len(reported)} claim(s) with {len(photos)} photo(s), first on {when(reported[0].occurred_at)}; "
               f"reasons: {', '.join(str(e.data.get('reason')) for e in reported)}.")
    return Element("claim_photos", "Photos and messages from the claim", True, summary,
                   cites=[e.id for e in reported],
                   rows=[(str(p.get("name")), str(p.get("type")), str(p.get("sha256"))[:16]) for p in photos])


def _policy_element(ledger: _Ledger, *, label: str = "Return policy shown to the customer") -> Element:
    shown = ledger.of("resolution.policy_accepted", "resolution.reported")
    accepted = ledger.of("resolution.policy_accepted")
    if not shown:
        return Element("return_policy", label, False, "No policy shown to the customer is recorded for this order.",
                       missing_reason="The customer never went through the shop's resolution page, where the policy "
                                      "is shown and accepted.",
                       fix="Attach the refund policy published in the store's checkout on the order date.")
    event = (accepted or shown)[-1]
    verb = "accepted" if accepted else "was shown"
    summary = (f"The customer {verb} return policy version {event.data.get('policy_version')} "
               f"on {when(event.occurred_at)} (policy digest {str(event.data.get('policy_digest'))[:16]}).")
    return Element("return_policy", label, True, summary, cites=[event.id])


# -- fraud ------------------------------------------------------------------------------------------


def _ce3(session: Session, dispute: Dispute, order: Order | None, signal: RiskSignal | None) -> Element:
    """Visa CE 3.0 readiness with Stripe's required_actions as the checklist."""
    actions: list[str] = []
    prior: list[Order] = []
    if order is not None and order.customer_id is not None:
        anchor = dispute.opened_at or order.placed_at or order.created_at
        disputed = select(Dispute.order_id).where(Dispute.shop_id == order.shop_id, Dispute.order_id.is_not(None))
        prior = list(session.scalars(
            select(Order).where(
                Order.shop_id == order.shop_id, Order.customer_id == order.customer_id, Order.id != order.id,
                Order.financial_status.in_(("paid", "partially_refunded")),
                Order.placed_at <= anchor - timedelta(days=CE3_MIN_DAYS),
                Order.placed_at >= anchor - timedelta(days=CE3_MAX_DAYS),
                Order.id.not_in(disputed),
            ).order_by(Order.placed_at.desc()).limit(2)
        ))
    if len(prior) < 2:
        actions.append("missing_prior_undisputed_transactions")
    # Two identifiers must match, one being the IP or the device: Dropguard keeps only the IP's
    # country and no device fingerprint, so it cannot show such a match.
    actions.append("missing_customer_identifiers")
    if order is None or not order.lines:
        actions.append("missing_disputed_transaction_description")
    if prior and any(not p.lines for p in prior):
        actions.append("missing_prior_undisputed_transaction_description")
    visa = (dispute.network_reason_code or "") == "10.4"
    status = "qualified" if not actions else ("requires_action" if visa else "not_qualified")
    summary = (f"CE 3.0 status: {status}. Prior undisputed orders by the same customer 120-365 days before: "
               f"{len(prior)} ({', '.join(p.name for p in prior) or 'none'}). Goods: merchandise.")
    if actions:
        summary += " Required actions: " + ", ".join(actions) + "."
    return Element("ce3", "Visa Compelling Evidence 3.0 readiness", not actions, summary,
                   missing_reason=None if not actions else
                   ("Dropguard does not keep the purchase IP address or a device fingerprint, so two matching "
                    "identifiers cannot be shown" + ("; fewer than two prior undisputed orders qualify"
                                                     if "missing_prior_undisputed_transactions" in actions else "")
                    + "."),
                   fix=None if not actions else "Collect the IP address and device id from the store's order "
                                                "(Fraud analysis) for this and two prior orders.",
                   required=False, rows=[(action,) for action in actions])


def _payment_checks_element() -> Element:
    return Element("avs_cvv", "Address and card code checks (AVS/CVV)", False,
                   "AVS and CVV results are not in Dropguard's records.",
                   missing_reason="The store's payment details (AVS and CVV result codes) are not recorded by Dropguard.",
                   fix="Copy the AVS and CVV results from the order's payment details in the store admin.")


def _ip_element(signal: RiskSignal | None) -> Element:
    facts = signal.facts if signal else {}
    if not facts.get("has_ip"):
        return Element("ip_device", "Purchase IP address and device", False, "No purchase IP address is on record.",
                       missing_reason="The store sent no browser IP with the order.",
                       fix="Read the IP address in the order's Fraud analysis in the store admin.")
    country = facts.get("ip_country") or "an unknown country"
    where = "matches" if not facts.get("ip_mismatch") else "does not match"
    return Element("ip_device", "Purchase IP address and device", True,
                   f"The order was placed from an IP address located in {country}, which {where} the shipping "
                   "country. No device fingerprint is kept.")


def _billing_element(signal: RiskSignal | None) -> Element:
    facts = signal.facts if signal else {}
    if not signal or not facts.get("billing_country"):
        return Element("billing_shipping", "Billing and shipping addresses agree", False,
                       "No billing address is on record.",
                       missing_reason="The store sent no billing address with the order.",
                       fix="Copy the billing address from the order in the store admin.")
    same = not facts.get("country_mismatch") and not facts.get("name_mismatch")
    summary = ("Billing and shipping name and country agree." if same else
               "Billing and shipping differ: " + ", ".join(
                   word for word, flag in (("country", facts.get("country_mismatch")),
                                           ("name", facts.get("name_mismatch"))) if flag) + ".")
    return Element("billing_shipping", "Billing and shipping addresses agree", same, summary,
                   missing_reason=None if same else "The billing and shipping details differ.",
                   fix=None if same else "Explain the difference (a gift, a work address) with the customer's messages.")


# -- credit not processed / cancelled ---------------------------------------------------------------


def _refund_records_element(refund_rows: list[Refund], ledger: _Ledger) -> Element:
    confirmed = [r for r in refund_rows if r.status == "confirmed"]
    if not confirmed:
        return Element("refund_records", "Refund records", False, "No refund confirmed by the store is recorded.",
                       missing_reason="The store has confirmed no refund for this order.",
                       fix="If the return did not qualify, say why with the policy; otherwise refund and accept.")
    cites = [e.id for e in ledger.of("refund.confirmed", "refund.recorded")]
    return Element("refund_records", "Refund records", True,
                   "; ".join(f"{money(r.amount, r.currency)} refunded {when(r.refunded_at)}"
                             f" (store refund {r.external_id or 'pending id'})" for r in confirmed) + ".",
                   cites=cites)


def _cancellation_element(order: Order | None, ledger: _Ledger) -> Element:
    events = ledger.of("supplier_order.cancelled", "supplier_order.cancel_refused", "supplier_order.cancel_too_late")
    if order is None or (order.cancelled_at is None and not events):
        return Element("cancellation", "Cancellation records", False, "No cancellation is recorded for this order.",
                       missing_reason="Neither the store nor the supplier recorded a cancellation request.",
                       fix="If the customer asked to cancel by e-mail, attach that message and the answer.",
                       required=False)
    parts = []
    if order.cancelled_at:
        parts.append(f"Order cancelled in the store {when(order.cancelled_at)}")
    parts += [f"{e.kind.split('.')[-1].replace('_', ' ')} at the supplier {when(e.occurred_at)}" for e in events]
    return Element("cancellation", "Cancellation records", True, "; ".join(parts) + ".", required=False,
                   cites=[e.id for e in events])


# -- assembling -------------------------------------------------------------------------------------


def build(session: Session, dispute: Dispute, *, shop: Shop | None = None) -> Pack:
    order = session.get(Order, dispute.order_id) if dispute.order_id else None
    events = evidence.for_order(session, shop_id=dispute.shop_id, order_id=order.id) if order else []
    ledger = _Ledger(events)
    scans = _scans(ledger)
    shipments = list(session.scalars(select(Shipment).where(Shipment.order_id == order.id).order_by(Shipment.id))) \
        if order else []
    address = session.get(DeliveryAddress, order.id) if order else None
    refund_rows = refunds.for_order(session, dispute.shop_id, order.id) if order else []
    resolutions = list(session.scalars(select(Resolution).where(Resolution.order_id == order.id))) if order else []
    signal = session.get(RiskSignal, order.id) if order else None
    family = reasons.family(dispute.reason, dispute.network_reason_code)

    elements = [_order_element(order, ledger)]
    if family == reasons.NOT_RECEIVED:
        elements += [_tracking_element(shipments, ledger), _scan_element(scans),
                     _delivery_element(shipments, scans, ledger), _address_element(address, scans, ledger),
                     _messages_element(ledger), _visits_element(ledger),
                     _claims_element(ledger, required=False)]
    elif family == reasons.NOT_AS_DESCRIBED:
        elements += [_listing_element(order, ledger), _photos_element(resolutions, ledger), _policy_element(ledger),
                     _tracking_element(shipments, ledger), _delivery_element(shipments, scans, ledger),
                     _messages_element(ledger, required=False)]
    elif family == reasons.FRAUD:
        elements += [_payment_checks_element(), _ip_element(signal), _billing_element(signal),
                     _tracking_element(shipments, ledger), _delivery_element(shipments, scans, ledger),
                     _address_element(address, scans, ledger), _ce3(session, dispute, order, signal),
                     _visits_element(ledger)]
    elif family == reasons.CREDIT:
        elements += [_refund_records_element(refund_rows, ledger), _cancellation_element(order, ledger),
                     _policy_element(ledger, label="Refund and cancellation policy accepted"),
                     _delivery_element(shipments, scans, ledger), _messages_element(ledger, required=False)]
    else:
        elements += [_tracking_element(shipments, ledger), _delivery_element(shipments, scans, ledger),
                     _messages_element(ledger, required=False), _claims_element(ledger, required=False)]
    elements.append(_refunds_element(refund_rows, ledger, dispute, order))
    refunded = sum((r.amount for r in refund_rows if r.status == "confirmed"), Decimal(0))
    chain = (shop or session.get(Shop, dispute.shop_id)).domain
    return Pack(dispute=dispute, chain=chain, order=order, family=family, elements=elements, refunded=refunded,
                events=ledger.by_id, scans=scans,
                dispute_event_ids=[e.id for e in ledger.of("dispute.opened", "dispute.updated", "dispute.fetched")
                                   if e.data.get("dispute_id") == dispute.id])
