"""Fixing a held order from the order page (and the review queue's "Fixed: order now"): edit the
shipping address or phone in place, or release with a reason; then the order is placed.

An edit is checked as the supplier will need it (app/suppliers/address.py: phonenumbers, pycountry,
postcode formats), written to the store first with `orderUpdate` (the store is where the merchant,
the customer and other apps read the address; the Admin client records the call in the ledger),
then to our copy with an `order.address_updated` event whose new values are personal data, kept
apart. Placing goes through the one existing path (app/suppliers/ordering.py): plan() locks the
order row and skips lines a live supplier order holds, and placement runs from the outbox under the
supplier order's advisory lock — so a double-clicked form, or the store's orders/updated webhook
arriving meanwhile, places the order once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy.orm import Session

from app.db import session_scope
from app.evidence import service as evidence
from app.orders.models import Customer, DeliveryAddress, Order
from app.shops.admin_client import AdminClient, AdminError, AdminTemporaryError, UserErrors
from app.shops.models import Shop
from app.suppliers import address as addresses
from app.suppliers import ordering
from app.suppliers.overview import FLAG_TITLES
from app.suppliers.tables import OrderFlag

# What the merchant may edit, in the order the form shows them.
FIELDS = ("name", "address1", "address2", "city", "province_code", "zip", "country_code", "phone")
MAX_LENGTH = {"name": 255, "address1": 512, "address2": 512, "city": 255, "province_code": 16, "zip": 32,
              "country_code": 2, "phone": 64}
# GraphQL MailingAddressInput names.
_STORE_NAMES = {"address1": "address1", "address2": "address2", "city": "city", "province_code": "provinceCode",
                "zip": "zip", "country_code": "countryCode", "phone": "phone"}
OVERRIDE_MIN, OVERRIDE_MAX = 5, 500

ORDER_UPDATE = """mutation DropguardOrderUpdate($input: OrderInput!) {
  orderUpdate(input: $input) { order { id } userErrors { field message } } }"""


@dataclass
class Outcome:
    ok: bool
    # field -> what is wrong with it (English sentences from the address check, or the store's)
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""
    planned: int = 0
    still_held: list[str] = field(default_factory=list)


def _titles(kinds: list[str]) -> str:
    return ", ".join(FLAG_TITLES.get(kind, kind).lower() for kind in kinds)


def open_holds(session: Session, order_id: int) -> list[OrderFlag]:
    return [flag for flag in ordering.open_flags(session, order_id) if flag.kind in ordering.HOLDING]


def current_values(session: Session, order: Order) -> dict[str, str]:
    address = session.get(DeliveryAddress, order.id)
    return {name: (getattr(address, name, None) or "") if address else "" for name in FIELDS}


def _candidate(session: Session, order: Order, form: dict[str, str]) -> tuple[SimpleNamespace, dict[str, str]]:
    values = current_values(session, order)
    errors: dict[str, str] = {}
    for name in FIELDS:
        if name in form:
            text = " ".join(str(form[name]).split())
            if len(text) > MAX_LENGTH[name]:
                errors[name] = f"at most {MAX_LENGTH[name]} characters"
            values[name] = text
    return SimpleNamespace(**{name: values[name] or None for name in FIELDS}), errors


def _fallback(session: Session, order: Order) -> tuple[str | None, str | None]:
    customer = session.get(Customer, order.customer_id) if order.customer_id else None
    name = " ".join(filter(None, [customer and customer.first_name, customer and customer.last_name])) or None
    return name, customer.email if customer else None


def check(session: Session, order: Order, form: dict[str, str]) -> tuple[SimpleNamespace, addresses.Checked, dict]:
    candidate, errors = _candidate(session, order, form)
    name, email = _fallback(session, order)
    checked = addresses.check(candidate, fallback_name=name, email=email)
    for field_name, problem in zip(checked.fields, checked.problems, strict=True):
        errors.setdefault(field_name if field_name in FIELDS else "address1", problem)
    return candidate, checked, errors


def _store_input(order: Order, checked: addresses.Checked, candidate: SimpleNamespace) -> dict[str, Any]:
    a = checked.address
    first, _, last = (candidate.name or a.name).partition(" ")
    shipping = {"firstName": first or None, "lastName": last or None}
    for ours, theirs in _STORE_NAMES.items():
        shipping[theirs] = getattr(a, ours)
    return {"id": f"gid://shopify/Order/{order.external_id}", "shippingAddress": shipping}


def fix_address(shop_id: int, order_id: int, form: dict[str, str]) -> Outcome:
    """Check the edit, write it to the store, then to our copy and the ledger, and place the order
    if nothing else holds it. Owns its transactions (the store call runs between them)."""
    with session_scope() as session:
        order = session.get(Order, order_id)
        shop = session.get(Shop, shop_id)
        if order is None or order.shop_id != shop_id:
            return Outcome(False, message="order not found")
        candidate, checked, errors = check(session, order, form)
        if errors or not checked.ok:
            return Outcome(False, errors=errors or {"address1": "; ".join(checked.problems)},
                           message="Fix the fields marked below.")
        variables = {"input": _store_input(order, checked, candidate)}
        session.expunge_all()
    try:
        with AdminClient.for_shop(shop) as client:
            client.mutate(ORDER_UPDATE, variables, order_id=order_id)
    except UserErrors as refused:
        found = {}
        for error in refused.errors:
            path = error.get("field") or []
            ours = next((k for k, v in _STORE_NAMES.items() if path and path[-1] == v), "address1")
            found[ours] = f"the store refused it: {error.get('message')}"
        return Outcome(False, errors=found, message="The store refused the new address; nothing was changed.")
    except AdminTemporaryError as failure:
        return Outcome(False, message=f"The store did not answer ({failure.message}); nothing was changed. "
                                      "Try again in a moment.")
    except AdminError as failure:
        return Outcome(False, message=f"The store refused the change ({failure.message}); nothing was changed.")
    with session_scope() as session:
        # Locked, and read again under the lock: a second submission of the same edit finds it
        # already applied and records nothing more.
        order = session.get(Order, order_id, with_for_update={"key_share": True})
        shop = session.get(Shop, shop_id)
        before = current_values(session, order)
        stored = session.get(DeliveryAddress, order_id)
        if stored is None:
            stored = DeliveryAddress(order_id=order_id, shop_id=shop_id)
            session.add(stored)
        a = checked.address
        new = {"name": candidate.name, "address1": a.address1, "address2": a.address2, "city": a.city,
               "province_code": a.province_code, "zip": a.zip, "country_code": a.country_code, "phone": a.phone}
        for name, value in new.items():
            setattr(stored, name, value)
        changed = sorted(name for name in FIELDS if (before.get(name) or "") != (new.get(name) or ""))
        if changed:
            evidence.record(session, chain=shop.domain, shop_id=shop.id, order_id=order_id,
                            kind="order.address_updated", source="merchant",
                            data={"fields": changed, "store": "orderUpdate"},
                            personal={"before": {k: before.get(k) for k in changed},
                                      "after": {k: new.get(k) for k in changed}})
        session.flush()
        return _order_now(session, shop, order, resolution="address fixed by the merchant")


def _order_now(session: Session, shop: Shop, order: Order, *, resolution: str) -> Outcome:
    """The address is right now: resolve its hold and, if nothing else holds the order, plan it."""
    checked = ordering.check_address(session, shop, order)
    if not checked.ok:
        ordering.raise_flag(session, shop, order, "address", "; ".join(checked.problems),
                            {"fields": checked.fields}, personal={"problems": checked.problems})
        return Outcome(False, errors=dict(zip(checked.fields, checked.problems, strict=True)),
                       message="The address is still not usable: fix it below.")
    ordering.resolve_flag(session, shop, order, "address", resolution)
    others = [flag.kind for flag in open_holds(session, order.id)]
    if others:
        return Outcome(True, still_held=others, message="Address fixed. The order is still held: "
                                                        + _titles(others) + ".")
    planned = ordering.plan(session, order, released=True)
    return Outcome(True, planned=len(planned), message=f"Address fixed: sent to {len(planned)} supplier order(s)."
                   if planned else "Address fixed; nothing was left to send.")


def order_now(session: Session, shop: Shop, order: Order) -> Outcome:
    """"Fixed: order now" without an edit here (the address was corrected in the store admin and
    came back with orders/updated): check the stored address again, then place, or say what is wrong."""
    order = session.get(Order, order.id, with_for_update={"key_share": True}, populate_existing=True)
    return _order_now(session, shop, order, resolution="fixed: ordered by the merchant")


def release_with_reason(session: Session, shop: Shop, order: Order, reason: str) -> Outcome:
    """Release the order's holds on the merchant's word, the reason in the ledger; placing still
    needs an address the supplier can use (a bad one is held again with what to fix)."""
    reason = " ".join(reason.split())
    if not OVERRIDE_MIN <= len(reason) <= OVERRIDE_MAX:
        return Outcome(False, errors={"reason": f"say why in {OVERRIDE_MIN} to {OVERRIDE_MAX} characters"},
                       message="Say why you release this order.")
    holds = [flag.kind for flag in open_holds(session, order.id)]
    if not holds:
        return Outcome(False, message="This order is not held.")
    evidence.record(session, chain=shop.domain, shop_id=shop.id, order_id=order.id, kind="order.hold_overridden",
                    source="merchant", data={"holds": holds, "reason": reason})
    planned = ordering.release(session, order, by="merchant override")
    still = [flag.kind for flag in open_holds(session, order.id)]
    if still:
        return Outcome(False, still_held=still, message="Released, but held again: " + _titles(still) + ".")
    return Outcome(True, planned=len(planned), message=f"Released: sent to {len(planned)} supplier order(s).")
