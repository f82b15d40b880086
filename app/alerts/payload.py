"""The alert provider's webhook body (flat, as providers relay Ethoca and Verifi CDRN alerts):

    {"event": "alert.created", "id": "alt_123", "type": "ethoca" | "cdrn" | "rdr" | "tc40",
     "card_network": "visa", "shop": "x.myshopify.com", "order_reference": "#1001" (or the store's
     order id), "arn": "74...", "amount": "40.00", "currency": "USD", "reason": "not_received",
     "reason_code": "13.1", "created_at": "2026-12-04T10:00:00Z"}

Checked here before anything is stored; a body that fails is answered 400 with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.shops.domains import is_shop_domain

TYPES = ("ethoca", "cdrn", "rdr", "tc40")
NETWORKS = ("visa", "mastercard", "amex", "discover")
EVENTS = ("alert.created",)

# The provider's reason words and the networks' reason codes, to one of app.refunds.reasons.
_FAMILIES = {
    "not_received": "not_received", "merchandise_not_received": "not_received", "13.1": "not_received",
    "4855": "not_received", "c08": "not_received",
    "not_as_described": "not_as_described", "defective": "not_as_described", "damaged": "damaged",
    "13.3": "not_as_described", "4853": "not_as_described", "c31": "not_as_described",
    "fraud": "fraud_claim", "fraudulent": "fraud_claim", "unauthorized": "fraud_claim", "unrecognized": "fraud_claim",
    "10.4": "fraud_claim", "4837": "fraud_claim", "4863": "fraud_claim", "f29": "fraud_claim",
    "credit_not_processed": "cancelled", "13.6": "cancelled", "cancelled": "cancelled", "13.7": "cancelled",
}


class BadAlert(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class AlertIn:
    external_id: str
    alert_type: str
    network: str
    shop_domain: str
    order_reference: str | None
    arn: str | None
    amount: Decimal
    currency: str
    reason: str | None
    reason_code: str | None
    created_at: datetime | None

    @property
    def reason_family(self) -> str:
        for word in (self.reason_code, self.reason):
            if word and (family := _FAMILIES.get(word.strip().lower())):
                return family
        return "other"


def _text(payload: dict[str, Any], name: str, limit: int, *, required: bool = False) -> str | None:
    value = payload.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadAlert(f"{name} is required")
        return None
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise BadAlert(f"{name} must be a string")
    value = str(value).strip()
    if len(value) > limit:
        raise BadAlert(f"{name} is longer than {limit} characters")
    return value


def parse(payload: Any) -> AlertIn:
    if not isinstance(payload, dict):
        raise BadAlert("body must be a JSON object")
    event = _text(payload, "event", 32, required=True)
    if event not in EVENTS:
        raise BadAlert(f"event must be one of {', '.join(EVENTS)}")
    alert_type = (_text(payload, "type", 16, required=True) or "").lower()
    if alert_type not in TYPES:
        raise BadAlert(f"type must be one of {', '.join(TYPES)}")
    network = (_text(payload, "card_network", 16, required=True) or "").lower()
    if network not in NETWORKS:
        raise BadAlert(f"card_network must be one of {', '.join(NETWORKS)}")
    shop = (_text(payload, "shop", 255, required=True) or "").lower()
    if not is_shop_domain(shop):
        raise BadAlert("shop must be a *.myshopify.com domain")
    order_reference, arn = _text(payload, "order_reference", 64), _text(payload, "arn", 64)
    if order_reference is None and arn is None:
        raise BadAlert("order_reference or arn is required")
    raw_amount = payload.get("amount")
    if isinstance(raw_amount, bool) or not isinstance(raw_amount, (str, int, float)):
        raise BadAlert("amount must be a decimal string")
    try:
        amount = Decimal(str(raw_amount))
    except InvalidOperation:
        raise BadAlert("amount must be a decimal string") from None
    if not amount.is_finite() or amount <= 0 or amount >= Decimal("1e12") or amount != amount.quantize(Decimal("0.01")):
        raise BadAlert("amount must be positive, with at most two decimals")
    currency = (_text(payload, "currency", 3, required=True) or "").upper()
    if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
        raise BadAlert("currency must be a three-letter ISO 4217 code")
    created = _text(payload, "created_at", 40)
    created_at = None
    if created is not None:
        try:
            created_at = datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError:
            raise BadAlert("created_at is not an ISO-8601 timestamp") from None
        if created_at.tzinfo is None:
            raise BadAlert("created_at has no time zone")
        created_at = created_at.astimezone(UTC)
    return AlertIn(
        external_id=_text(payload, "id", 64, required=True) or "", alert_type=alert_type, network=network,
        shop_domain=shop, order_reference=order_reference, arn=arn, amount=amount, currency=currency,
        reason=_text(payload, "reason", 64), reason_code=_text(payload, "reason_code", 16), created_at=created_at,
    )
