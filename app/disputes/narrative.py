"""The response summary (what the bank reads first), written from the pack's present elements only.

Every sentence restates an element's summary, which itself states only what a ledger event or an
order row holds: a missing element is never turned into a claim (no "delivered" without a delivery
scan, no "refunded" without a refund the store confirmed). English, the language issuers expect;
the merchant may edit it before submission (Dispute.narrative), and the edited text is what is sent.
"""

from __future__ import annotations

from app.disputes import reasons
from app.disputes.packs import FAMILY_LABELS, Pack, money
from app.disputes.reasons import REASON_LABELS

# Shopify's uncategorizedText is free text; Stripe caps all text fields at 150,000 characters.
MAX_CHARS = 20_000


def _lead(pack: Pack) -> list[str]:
    present = {e.key: e for e in pack.elements if e.present}
    lines: list[str] = []
    if pack.family == reasons.NOT_RECEIVED:
        if "delivery_scan" in present:
            lines.append(f"The carrier reports the order as delivered. {present['delivery_scan'].summary}")
        elif "carrier_tracking" in present:
            lines.append(f"The order was handed to the carrier. {present['carrier_tracking'].summary}")
    elif pack.family == reasons.NOT_AS_DESCRIBED:
        if "return_policy" in present:
            lines.append(f"The customer was shown the shop's return policy. {present['return_policy'].summary}")
    elif pack.family == reasons.FRAUD:
        if "delivery_scan" in present:
            lines.append(f"The goods were shipped to the order's address. {present['delivery_scan'].summary}")
    elif pack.family == reasons.CREDIT and "refund_records" in present:
        lines.append(f"A refund was processed. {present['refund_records'].summary}")
    return lines


def generate(pack: Pack) -> str:
    dispute, order = pack.dispute, pack.order
    reason = REASON_LABELS.get(dispute.reason or "", dispute.reason or "unspecified")
    code = f", network reason code {dispute.network_reason_code}" if dispute.network_reason_code else ""
    head = (f"Response to the {dispute.kind or 'dispute'} {dispute.external_id} ({reason}{code}) for "
            f"{money(dispute.amount, dispute.currency)}" + (f" on order {order.name}." if order else "."))
    parts = [head, f"Evidence family: {FAMILY_LABELS[pack.family]}.", *_lead(pack), "", "Facts from the shop's records:"]
    parts += [f"- {e.label}: {e.summary}" for e in pack.elements if e.present]
    parts += ["", "Every fact above is taken from the shop's tamper-evident evidence ledger; the attached document "
                  "lists each cited record with its hash and the result of the chain check."]
    return "\n".join(parts)[:MAX_CHARS]


def current(pack: Pack) -> str:
    """What would be submitted: the merchant's edit if there is one, else the generated text."""
    return pack.dispute.narrative if pack.dispute.narrative else generate(pack)
