"""Which evidence pack answers a dispute: the reason family of its network reason code, else of
the store's reason (facts/integrations.md §3.1, Stripe's grouping)."""

from __future__ import annotations

NOT_RECEIVED = "not_received"
NOT_AS_DESCRIBED = "not_as_described"
FRAUD = "fraud"
CREDIT = "credit_not_processed"
GENERAL = "general"
FAMILIES = (NOT_RECEIVED, NOT_AS_DESCRIBED, FRAUD, CREDIT, GENERAL)

# Network codes that name one claim. Mastercard's 4853 ("Cardholder Dispute") covers not
# received, not as described and credit not processed alike, so it is left to the store's reason.
_BY_CODE = {
    # Visa
    "13.1": NOT_RECEIVED, "13.3": NOT_AS_DESCRIBED, "13.4": NOT_AS_DESCRIBED, "10.4": FRAUD,
    "13.6": CREDIT, "13.7": CREDIT,
    # Mastercard
    "4855": NOT_RECEIVED, "4837": FRAUD, "4863": FRAUD, "4860": CREDIT,
    # American Express
    "C08": NOT_RECEIVED, "C31": NOT_AS_DESCRIBED, "C32": NOT_AS_DESCRIBED, "F29": FRAUD, "F24": FRAUD,
    "C02": CREDIT, "C05": CREDIT, "C04": CREDIT,
    # Discover
    "RG": NOT_RECEIVED, "4755": NOT_RECEIVED, "RM": NOT_AS_DESCRIBED, "4553": NOT_AS_DESCRIBED,
    "UA02": FRAUD, "AA": FRAUD, "RN2": CREDIT,
}
_BY_REASON = {
    "product_not_received": NOT_RECEIVED,
    "product_unacceptable": NOT_AS_DESCRIBED,
    "fraudulent": FRAUD,
    "unrecognized": FRAUD,
    "credit_not_processed": CREDIT,
    "subscription_canceled": CREDIT,
    "subscription_cancelled": CREDIT,
}
# What the merchant's pages call the store's reasons.
REASON_LABELS = {
    "product_not_received": "Product not received",
    "product_unacceptable": "Product not as described",
    "fraudulent": "Fraudulent",
    "unrecognized": "Unrecognised charge",
    "credit_not_processed": "Credit not processed",
    "subscription_canceled": "Cancelled",
    "duplicate": "Duplicate charge",
    "general": "General",
    "noncompliant": "Non-compliant",
    "customer_initiated": "Customer initiated",
    "debit_not_authorized": "Debit not authorised",
    "bank_cannot_process": "Bank cannot process",
    "incorrect_account_details": "Incorrect account details",
    "insufficient_funds": "Insufficient funds",
}


def family(reason: str | None, network_reason_code: str | None) -> str:
    code = (network_reason_code or "").strip().upper()
    if code in _BY_CODE:
        return _BY_CODE[code]
    return _BY_REASON.get((reason or "").strip().lower(), GENERAL)
