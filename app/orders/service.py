"""Orders from the store's webhooks: upserted so that the newest snapshot always wins."""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.errors import AppError
from app.evidence import service as evidence
from app.insights.refresh import order_changed
from app.orders.models import Customer, DeliveryAddress, Order, OrderLine
from app.risk import signals as risk_signals
from app.shops.models import Shop


class BadOrderPayload(AppError):
    code = "bad_order_payload"


# Our pipeline only moves forward: a stale or duplicate snapshot must never move it back.
STATUS_RANK = {"open": 0, "paid": 1, "supplier_ordered": 2, "shipped": 3, "delivered": 4, "cancelled": 9}

SUPPORTED_LOCALES = ("en", "fr", "es", "de")


def _placed_at(payload: dict[str, Any]) -> datetime | None:
    """The store's created_at; an order whose created_at is missing or unreadable is still taken."""
    try:
        return _time(payload["created_at"], "created_at") if payload.get("created_at") else None
    except BadOrderPayload:
        return None


def _time(value: Any, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BadOrderPayload(f"{field} is not an ISO-8601 timestamp") from None
    if moment.tzinfo is None:
        raise BadOrderPayload(f"{field} has no time zone")
    return moment


def _int(value: Any, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadOrderPayload(f"{field} is not an integer") from None


def _object(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadOrderPayload(f"{field} must be an object")
    return value


def _money(value: Any, field: str) -> Decimal:
    try:
        return Decimal(str(value if value is not None else "0"))
    except InvalidOperation:
        raise BadOrderPayload(f"{field} is not an amount") from None


def customer_locale(payload: dict[str, Any], shop: Shop) -> str:
    """The customer's language, from what the checkout saw, narrowed to one we write in."""
    candidates = [payload.get("customer_locale"), _object(payload.get("client_details"), "client_details").get("accept_language")]
    for candidate in candidates:
        if not candidate:
            continue
        language = str(candidate).split(",")[0].split(";")[0].strip().lower().replace("_", "-").split("-")[0]
        if language in SUPPORTED_LOCALES:
            return language
    return shop.locale if shop.locale in SUPPORTED_LOCALES else "en"


def _upsert_customer(session: Session, shop: Shop, payload: dict[str, Any], locale: str) -> Customer | None:
    data = _object(payload.get("customer"), "customer")
    email = (data.get("email") or payload.get("email") or payload.get("contact_email") or "").strip() or None
    if not data.get("id") and not email:
        return None
    external_id = (
        str(data["id"]) if data.get("id") else "email:" + hashlib.sha256(email.lower().encode()).hexdigest()[:40]
    )
    values = {
        "shop_id": shop.id,
        "external_id": external_id,
        "email": email,
        "first_name": data.get("first_name"),
        "last_name": data.get("last_name"),
        "phone": data.get("phone") or payload.get("phone"),
        "locale": locale,
    }
    statement = insert(Customer).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[Customer.shop_id, Customer.external_id],
        set_={k: statement.excluded[k] for k in ("email", "first_name", "last_name", "phone", "locale")},
        where=Customer.redacted_at.is_(None),
    ).returning(Customer.id)
    customer_id = session.scalar(statement)
    if customer_id is None:  # redacted customers stay redacted
        customer_id = session.scalar(
            select(Customer.id).where(Customer.shop_id == shop.id, Customer.external_id == external_id)
        )
    return session.get(Customer, customer_id)


def _apply_lines(session: Session, order: Order, payload: dict[str, Any]) -> None:
    existing = {line.external_id: line for line in order.lines}
    for raw in payload.get("line_items") or []:
        if not isinstance(raw, dict) or raw.get("id") is None:
            raise BadOrderPayload("line_items[] must be objects with an id")
        line_id = _int(raw["id"], "line_items[].id")
        line = existing.get(line_id)
        if line is None:
            line = OrderLine(shop_id=order.shop_id, external_id=line_id)
            order.lines.append(line)
        line.product_id = raw.get("product_id")
        line.variant_id = raw.get("variant_id")
        line.sku = raw.get("sku") or None
        line.title = str(raw.get("title") or raw.get("name") or "Item")[:512]
        line.variant_title = raw.get("variant_title")
        line.quantity = _int(raw.get("current_quantity", raw.get("quantity")) or 0, "line_items[].quantity")
        line.price = _money(raw.get("price"), "line_items[].price")


def _apply_address(session: Session, order: Order, payload: dict[str, Any]) -> None:
    raw = payload.get("shipping_address")
    if not isinstance(raw, dict):
        return
    address = session.get(DeliveryAddress, order.id) or DeliveryAddress(order_id=order.id, shop_id=order.shop_id)
    address.name = raw.get("name") or " ".join(filter(None, [raw.get("first_name"), raw.get("last_name")])) or None
    address.company = raw.get("company")
    address.address1, address.address2 = raw.get("address1"), raw.get("address2")
    address.city, address.province_code, address.zip = raw.get("city"), raw.get("province_code"), raw.get("zip")
    address.country_code = (raw.get("country_code") or "").upper()[:2] or None
    address.phone = raw.get("phone")
    session.add(address)


def _target_status(topic: str, payload: dict[str, Any]) -> str:
    if topic == "orders/cancelled" or payload.get("cancelled_at"):
        return "cancelled"
    if topic == "orders/paid" or payload.get("financial_status") in ("paid", "partially_refunded", "refunded"):
        return "paid"
    return "open"


def lock_store_order(session: Session, shop_id: int, external_id: int) -> None:
    """The transaction-long lock of one store order, taken before anything else by every writer of
    it (snapshots, refunds, claims), including before its row exists."""
    session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"order:{shop_id}:{external_id}", 0))))


def apply_snapshot(
    session: Session, shop: Shop, topic: str, payload: dict[str, Any], *, delivery_id: int | None = None,
    kind: str = "order.snapshot_applied",
) -> tuple[Order, list[str]]:
    """Upsert an order from one of its webhooks (or, with kind="order.imported", from the history
    import); returns the order and what changed.

    Older snapshots (by the store's updated_at) are recorded as evidence but never applied.
    """
    if payload.get("id") is None or payload.get("updated_at") is None:
        raise BadOrderPayload("an order payload needs id and updated_at")
    external_id = _int(payload["id"], "id")
    updated_at = _time(payload["updated_at"], "updated_at")
    # Serialises snapshots of one order across workers, including before its row exists: without
    # it, orders/create and orders/updated racing for a new order both insert and one fails.
    lock_store_order(session, shop.id, external_id)
    order = session.scalar(
        select(Order).where(Order.shop_id == shop.id, Order.external_id == external_id).with_for_update(key_share=True)
    )
    changes: list[str] = []
    is_new = order is None
    if is_new:
        locale = customer_locale(payload, shop)
        order = Order(
            shop_id=shop.id,
            external_id=external_id,
            name=str(payload.get("name") or f"#{payload.get('order_number', external_id)}"),
            currency=str(payload.get("currency") or shop.currency)[:3],
            total_price=_money(payload.get("total_price"), "total_price"),
            locale=locale,
            status="open",
            source_updated_at=updated_at,
            # When the customer placed it, as the store says (the insights count orders by it).
            placed_at=_placed_at(payload),
        )
        session.add(order)
        session.flush()
        changes.append("created")
    stale = not is_new and updated_at < order.source_updated_at
    if not stale:
        order.source_updated_at = updated_at
        order.name = str(payload.get("name") or order.name)
        order.currency = str(payload.get("currency") or order.currency)[:3]
        order.total_price = _money(payload.get("total_price", order.total_price), "total_price")
        order.financial_status = payload.get("financial_status") or order.financial_status
        order.fulfillment_status = payload.get("fulfillment_status")
        # A redacted customer's order keeps no personal data, whatever a later snapshot carries:
        # neither a new customer row (an email-keyed one was renamed by the redaction, so the
        # upsert would not find it) nor the shipping address is written back.
        current = session.get(Customer, order.customer_id) if order.customer_id else None
        redacted = current is not None and current.redacted_at is not None
        if not redacted:
            customer = _upsert_customer(session, shop, payload, order.locale)
            if customer is not None:
                order.customer_id = customer.id
                redacted = customer.redacted_at is not None
        _apply_lines(session, order, payload)
        if not redacted:
            _apply_address(session, order, payload)
            # The payload's risk facts (countries, address and e-mail checks; nothing personal).
            risk_signals.capture(session, order, payload)
    # A paid or cancelled signal moves the pipeline forward whatever the snapshot's age,
    # because payment and cancellation are never undone by a later edit.
    target = _target_status(topic, payload)
    if STATUS_RANK[target] > STATUS_RANK[order.status] and order.status != "cancelled":
        if target == "cancelled":
            order.cancelled_at = _time(payload.get("cancelled_at") or payload["updated_at"], "cancelled_at")
        order.status = target
        changes.append(target)
    evidence.record(
        session,
        chain=shop.domain,
        shop_id=shop.id,
        order_id=order.id,
        kind=kind if not stale else "order.snapshot_stale",
        source="shopify",
        occurred_at=updated_at,
        data={
            "topic": topic,
            "order": order.name,
            "external_id": external_id,
            "source_updated_at": updated_at,
            "financial_status": payload.get("financial_status"),
            "status": order.status,
            "changes": changes,
            "total_price": payload.get("total_price"),
            "currency": payload.get("currency"),
        },
        webhook_delivery_id=delivery_id,
    )
    session.flush()
    order_changed(session, order.id)  # revenue, lines and destination of the insights
    return order, changes


def find_by_name(session: Session, shop_id: int, name: str) -> Order | None:
    return session.scalar(select(Order).where(Order.shop_id == shop_id, Order.name == name))
