"""From a paid order to supplier orders: policy, address check, split by supplier, fallback.

plan() runs in the transaction that learns the order is paid, with the order row locked, so two
deliveries of the same paid webhook plan once: lines already held by a live supplier order are
never planned again, and an open review / address / unmapped flag holds the rest until the
merchant releases it. Each supplier order is then placed by "suppliers.place_order" (service.place).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.db import utcnow
from app.orders.models import Customer, DeliveryAddress, Order, OrderLine
from app.outbox.service import enqueue
from app.risk import service as risk
from app.shops import settings as shop_settings
from app.shops.models import Shop
from app.stockout import service as stock_choices
from app.suppliers import address as addresses
from app.suppliers.events import PLACE_TASK, record_event, record_order_event, reference_for
from app.suppliers.mapping import mappings_for_line
from app.suppliers.models import Supplier, SupplierOrder
from app.suppliers.tables import OrderFlag, SupplierOrderLine, VariantMapping

POLICIES = ("auto", "review_above_risk", "manual")
# Flags that stop planning until the merchant releases the order.
HOLDING = ("review", "address", "unmapped")
# Supplier orders whose lines are taken: not to be planned again.
LIVE = ("pending", "placed", "confirmed", "shipped", "cancelling", "reconciling")


def policy_of(shop: Shop) -> tuple[str, float]:
    """(policy, threshold) as Settings shows them (app.shops.settings; unreadable values: defaults)."""
    chosen = shop_settings.load(shop).ordering
    # The settings page stores the review policy as "review".
    return ("review_above_risk" if chosen.policy == "review" else chosen.policy), chosen.risk_threshold


# ---- flags ---------------------------------------------------------------------------------------


def open_flags(session: Session, order_id: int) -> list[OrderFlag]:
    return list(session.scalars(
        select(OrderFlag).where(OrderFlag.order_id == order_id, OrderFlag.resolved_at.is_(None)).order_by(OrderFlag.id)))


def raise_flag(session: Session, shop: Shop, order: Order, kind: str, reason: str, data: dict[str, Any], *,
               personal: dict[str, Any] | None = None) -> bool:
    """Open (or re-open) one flag per order and kind; False when it was open already."""
    statement = insert(OrderFlag).values(shop_id=shop.id, order_id=order.id, kind=kind, reason=reason, data=data)
    flag_id = session.scalar(statement.on_conflict_do_update(
        index_elements=["order_id", "kind"],
        set_={"reason": reason, "data": data, "resolved_at": None, "resolution": None, "updated_at": func.now()},
        where=OrderFlag.resolved_at.is_not(None),
    ).returning(OrderFlag.id))
    if flag_id is None:
        return False
    record_order_event(session, shop, order, f"order.flagged.{kind}", {"flag_id": flag_id, **data},
                       personal=personal)
    return True


def resolve_flag(session: Session, shop: Shop, order: Order, kind: str, resolution: str, *,
                 source: str = "merchant") -> bool:
    flag = session.scalar(select(OrderFlag).where(OrderFlag.order_id == order.id, OrderFlag.kind == kind,
                                                  OrderFlag.resolved_at.is_(None)).with_for_update())
    if flag is None:
        return False
    flag.resolved_at, flag.resolution = utcnow(), resolution
    record_order_event(session, shop, order, f"order.flag_resolved.{kind}",
                       {"flag_id": flag.id, "resolution": resolution}, source=source)
    return True


# ---- planning ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pick:
    line: OrderLine
    supplier_id: int
    mapping: VariantMapping | None  # None: the shop's default supplier by store SKU


def _covered_lines(session: Session, order_id: int) -> set[int]:
    return set(session.scalars(
        select(SupplierOrderLine.order_line_id).join(SupplierOrder, SupplierOrder.id == SupplierOrderLine.supplier_order_id)
        .where(SupplierOrder.order_id == order_id, SupplierOrder.status.in_(LIVE))))


def default_supplier(session: Session, shop_id: int) -> Supplier | None:
    return session.scalar(select(Supplier).where(Supplier.shop_id == shop_id, Supplier.is_default)
                          .order_by(Supplier.id).limit(1))


def route(found: list[VariantMapping], default: Supplier | None) -> tuple[int, VariantMapping | None] | None:
    """The routing rule: the best mapped supplier product, else the shop's default supplier by the
    store SKU, else None (the line waits for a mapping). The mapping page applies it too."""
    if found:
        return found[0].supplier_id, found[0]
    if default is not None:
        return default.id, None
    return None


def create_supplier_order(session: Session, shop: Shop, order: Order, supplier_id: int, picks: list[Pick], *,
                          replaces: SupplierOrder | None = None) -> SupplierOrder:
    """One pending supplier order with its lines, its evidence and its placement task."""
    hop = session.scalar(select(func.count()).select_from(SupplierOrder).where(
        SupplierOrder.order_id == order.id, SupplierOrder.supplier_id == supplier_id)) or 0
    so = SupplierOrder(shop_id=shop.id, order_id=order.id, supplier_id=supplier_id, status="pending", attempts=0,
                       idempotency_key=reference_for(shop.id, order.id, supplier_id, hop),
                       replaces_id=replaces.id if replaces else None)
    session.add(so)
    session.flush()
    for pick in picks:
        mapping = pick.mapping
        session.add(SupplierOrderLine(
            supplier_order_id=so.id, shop_id=shop.id, order_line_id=pick.line.id,
            mapping_id=mapping.id if mapping else None,
            supplier_sku=mapping.supplier_sku if mapping else pick.line.sku,
            supplier_variant=mapping.supplier_variant if mapping else None,
            title=pick.line.title, quantity=pick.line.quantity,
            unit_cost=mapping.unit_cost if mapping else None, currency=mapping.currency if mapping else None,
            shipping_method=mapping.shipping_method if mapping else None))
    supplier = session.get(Supplier, supplier_id)
    record_event(session, shop, so, "supplier_order.planned", {
        "supplier_id": supplier_id, "supplier": supplier.name, "protocol": supplier.protocol,
        "lines": len(picks), "quantity": sum(p.line.quantity for p in picks),
        "order_line_ids": [p.line.id for p in picks], "replaces": replaces.id if replaces else None})
    enqueue(session, PLACE_TASK, so.id)
    session.flush()
    return so


def check_address(session: Session, shop: Shop, order: Order) -> addresses.Checked:
    customer = session.get(Customer, order.customer_id) if order.customer_id else None
    name = " ".join(filter(None, [customer and customer.first_name, customer and customer.last_name]))
    return addresses.check(session.get(DeliveryAddress, order.id), fallback_name=name or None,
                           email=customer.email if customer else None)


def plan(session: Session, order: Order, *, released: bool = False) -> list[SupplierOrder]:
    """Plan what is left of a paid order. `released`: the merchant approved it (policy skipped)."""
    order = session.get(Order, order.id, with_for_update={"key_share": True}, populate_existing=True)
    if order.status == "cancelled":
        return []
    shop = session.get(Shop, order.shop_id)
    if not released and any(flag.kind in HOLDING for flag in open_flags(session, order.id)):
        return []
    covered = _covered_lines(session, order.id)
    lines = [line for line in order.lines if line.quantity > 0 and line.id not in covered]
    if not lines:
        return []
    if not released:
        policy, threshold = policy_of(shop)
        # Every paid order is scored (the merchant sees it, the store's risk card gets it); the
        # review policy holds the ones at or above the threshold with the score's reasons, and the
        # ones that could not be scored.
        paid = risk.score_paid(session, order)
        score = paid.score
        probability = score.probability if score is not None else None
        risky = probability is not None and probability >= threshold
        if policy == "manual" or (policy == "review_above_risk" and (risky or paid.failed)):
            if policy == "manual":
                reason = "the shop orders from suppliers by hand"
            elif paid.failed:
                reason = "the order's risk could not be scored: review it before it is sent"
            else:
                reason = risk.hold_reason(score, threshold, shop.locale or "en")
            data = {"policy": policy, "risk_score": probability, "threshold": threshold}
            if score is not None:
                data.update(risk_level=score.level, risk_reasons=[r["key"] for r in score.reasons if r["weight"] > 0],
                            risk_model=score.model_version)
            raise_flag(session, shop, order, "review", reason, data)
            return []
    checked = check_address(session, shop, order)
    if not checked.ok:
        raise_flag(session, shop, order, "address", "; ".join(checked.problems),
                   {"fields": checked.fields}, personal={"problems": checked.problems})
        return []
    if checked.fixes:
        record_order_event(session, shop, order, "order.address_normalised", {"fixed": checked.fixes})
    default = default_supplier(session, shop.id)
    groups: dict[int, list[Pick]] = {}
    unmapped: list[OrderLine] = []
    for line in lines:
        routed = route(mappings_for_line(session, shop.id, line), default)
        if routed is None:
            unmapped.append(line)
        else:
            groups.setdefault(routed[0], []).append(Pick(line, *routed))
    if unmapped:
        data = {"order_line_ids": [line.id for line in unmapped],
                "variant_ids": [line.variant_id for line in unmapped], "skus": [line.sku for line in unmapped]}
        record_order_event(session, shop, order, "supplier_order.unmapped", data)
        raise_flag(session, shop, order, "unmapped",
                   f"{len(unmapped)} line(s) have no supplier product: map them, then release the order", data)
    return [create_supplier_order(session, shop, order, supplier_id, picks) for supplier_id, picks in groups.items()]


# ---- fallback ------------------------------------------------------------------------------------


def fall_back(session: Session, shop: Shop, order: Order, failed: SupplierOrder, reason: str) -> list[SupplierOrder]:
    """Give the failed supplier order's lines to the next mapped supplier of each line."""
    tried: dict[int, set[int]] = {}
    for line_id, supplier_id in session.execute(
        select(SupplierOrderLine.order_line_id, SupplierOrder.supplier_id)
        .join(SupplierOrder, SupplierOrder.id == SupplierOrderLine.supplier_order_id)
        .where(SupplierOrder.order_id == order.id)
    ):
        tried.setdefault(line_id, set()).add(supplier_id)
    own_lines = session.scalars(select(SupplierOrderLine).where(SupplierOrderLine.supplier_order_id == failed.id)).all()
    if not own_lines:  # planned before mappings existed: its lines are the whole order
        return _none_left(session, shop, order, failed, reason, [line.id for line in order.lines])
    groups: dict[int, list[Pick]] = {}
    stranded: list[int] = []
    for own in own_lines:
        line = session.get(OrderLine, own.order_line_id)
        nxt = next((m for m in mappings_for_line(session, shop.id, line)
                    if m.supplier_id not in tried.get(line.id, set())), None)
        if nxt is None:
            stranded.append(line.id)
        else:
            groups.setdefault(nxt.supplier_id, []).append(Pick(line, nxt.supplier_id, nxt))
    created = []
    for supplier_id, picks in groups.items():
        so = create_supplier_order(session, shop, order, supplier_id, picks, replaces=failed)
        record_event(session, shop, failed, "supplier_order.fallback", {
            "reason": reason, "from_supplier_id": failed.supplier_id, "to_supplier_id": supplier_id,
            "to_supplier_order_id": so.id, "order_line_ids": [p.line.id for p in picks]})
        created.append(so)
    if stranded:
        _none_left(session, shop, order, failed, reason, stranded)
    return created


def _none_left(session: Session, shop: Shop, order: Order, failed: SupplierOrder, reason: str,
               line_ids: list[int]) -> list[SupplierOrder]:
    data = {"reason": reason, "order_line_ids": line_ids, "last_supplier_id": failed.supplier_id}
    record_event(session, shop, failed, "supplier_order.no_supplier_left", data)
    raise_flag(session, shop, order, "awaiting_customer_choice",
               f"no supplier can fill {len(line_ids)} line(s) ({reason}): the customer is asked to wait or to "
               "cancel and be refunded", data)
    stock_choices.ask(session, shop, order, line_ids, reason)  # the message and the status-page choice
    return []


def release(session: Session, order: Order, *, by: str = "merchant") -> list[SupplierOrder]:
    """The merchant approved a held order: resolve its holding flags and plan what is left."""
    shop = session.get(Shop, order.shop_id)
    for flag in open_flags(session, order.id):
        if flag.kind in HOLDING:
            resolve_flag(session, shop, order, flag.kind, f"released by {by}")
    planned = plan(session, order, released=True)
    return planned
