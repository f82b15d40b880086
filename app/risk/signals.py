"""What an order's own payload says about its risk, captured as non-personal facts when the order
service applies a snapshot (live webhooks and the history import alike).

Only derived values are kept (countries, yes/no checks, value, quantity): the address, e-mail and
IP themselves stay where the order service and the privacy rules keep them.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from disposable_email_domains import blocklist as DISPOSABLE_DOMAINS
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.orders.models import Order
from app.risk import forwarders, ipcountry
from app.risk.models import RiskSignal

_DIGITS = re.compile(r"\d")


def _time(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _plain(text: str | None) -> str:
    folded = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", folded.lower())


def _name(address: dict[str, Any]) -> str:
    return _plain(address.get("name") or " ".join(filter(None, [address.get("first_name"), address.get("last_name")])))


def _country(address: dict[str, Any]) -> str | None:
    code = str(address.get("country_code") or "").strip().upper()
    return code[:2] if len(code) == 2 and code.isalpha() else None


def _tokens(text: str | None) -> set[str]:
    folded = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()
    return {token for token in re.findall(r"[a-z]+", folded) if len(token) >= 3}


def _email_facts(email: str | None, names: list[str | None]) -> dict[str, Any]:
    local, _, domain = (email or "").strip().lower().partition("@")
    if not local or not domain:
        return {"has_email": False, "email_digits": 0, "email_disposable": False, "email_name_mismatch": False}
    letters = _plain(local)
    # A real person's address usually carries part of their name; a throwaway one rarely does.
    tokens = set().union(*(_tokens(name) for name in names)) if names else set()
    mismatch = bool(tokens) and not any(token[:4] in letters for token in tokens)
    return {
        "has_email": True,
        "email_digits": len(_DIGITS.findall(local)),
        "email_disposable": domain in DISPOSABLE_DOMAINS,
        "email_name_mismatch": mismatch,
    }


def facts_from_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """The order's risk facts from its REST payload (pure: the tests call it directly)."""
    shipping = payload.get("shipping_address") if isinstance(payload.get("shipping_address"), dict) else {}
    billing = payload.get("billing_address") if isinstance(payload.get("billing_address"), dict) else {}
    client = payload.get("client_details") if isinstance(payload.get("client_details"), dict) else {}
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    ship_country, bill_country = _country(shipping), _country(billing)
    ship_name, bill_name = _name(shipping), _name(billing)
    ip = payload.get("browser_ip") or client.get("browser_ip")
    ip_country = ipcountry.country_of(ip)
    lines = " ".join(str(shipping.get(k) or "") for k in ("address1", "address2", "company"))
    customer_name = " ".join(filter(None, [customer.get("first_name"), customer.get("last_name")]))
    email = customer.get("email") or payload.get("email") or payload.get("contact_email")
    return {
        "billing_country": bill_country,
        "ip_country": ip_country,
        "has_ip": bool(ip),
        "country_mismatch": bool(ship_country and bill_country and ship_country != bill_country),
        "name_mismatch": bool(ship_name and bill_name and ship_name != bill_name),
        "ip_mismatch": bool(ip_country and ship_country and ip_country != ship_country),
        "forwarder": forwarders.is_forwarder(lines),
        "po_box": forwarders.is_po_box(lines),
        **_email_facts(email, [customer_name, shipping.get("name"), shipping.get("first_name"),
                            shipping.get("last_name")]),
    }


def _quantity(payload: dict[str, Any]) -> int:
    total = 0
    for line in payload.get("line_items") or []:
        if isinstance(line, dict):
            try:
                total += max(0, int(line.get("current_quantity", line.get("quantity")) or 0))
            except (TypeError, ValueError):
                continue
    return total


def capture(session: Session, order: Order, payload: dict[str, Any]) -> None:
    """Store (or refresh) the order's risk facts from the snapshot just applied (flushes)."""
    placed_at = _time(payload.get("created_at")) or _time(payload.get("processed_at")) or order.created_at
    try:
        value = Decimal(str(order.total_price))
    except InvalidOperation:
        value = Decimal(0)
    shipping = payload.get("shipping_address") if isinstance(payload.get("shipping_address"), dict) else {}
    values = {
        "order_id": order.id, "shop_id": order.shop_id, "placed_at": placed_at, "customer_id": order.customer_id,
        "destination": _country(shipping), "value": value, "quantity": _quantity(payload),
        "facts": facts_from_payload(payload),
    }
    statement = insert(RiskSignal).values(**values)
    session.execute(statement.on_conflict_do_update(
        index_elements=[RiskSignal.order_id],
        # The order's own time never moves: a later edit does not make it a newer order.
        set_={k: statement.excluded[k] for k in ("customer_id", "destination", "value", "quantity", "facts")},
    ))
