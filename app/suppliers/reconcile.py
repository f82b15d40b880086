"""A supplier order whose create may or may not have reached the supplier, settled by a person.

AliExpress cannot be asked "do you hold an order with our reference?", so a lost answer (or a
worker killed while the request was out) leaves the supplier order "reconciling". The merchant
looks in the AliExpress account (our reference is the out_order_id and every line's memo) and
either gives the AliExpress order number(s), checked with the supplier before they are adopted,
or confirms there is none, which is the only way such an order is ever sent again.
"""

from __future__ import annotations

import re

import httpx
from sqlalchemy.orm import Session

from app import exactly_once
from app.db import session_scope, utcnow
from app.errors import AppError
from app.orders.models import Order
from app.outbox.service import enqueue
from app.shops.models import Shop
from app.suppliers import ordering
from app.suppliers.adapters import get_adapter
from app.suppliers.events import FIRST_POLL_DELAY, PLACE_TASK, advance_order, record_event
from app.suppliers.models import Supplier, SupplierOrder
from app.suppliers.protocols import SupplierError
from app.suppliers.protocols import SupplierOrderState as S


class ReconcileError(AppError):
    code = "cannot_reconcile"


def parse_ids(text: str) -> list[str]:
    ids = [part for part in re.split(r"[\s,;]+", text.strip()) if part]
    if not ids or len(ids) > 6 or not all(part.isdigit() and len(part) <= 20 for part in ids):
        raise ReconcileError("give one to six supplier order numbers (digits), separated by commas")
    return ids


def adopt(supplier_order_id: int, external_ids: list[str], *, by: str = "merchant",
          transport: httpx.BaseTransport | None = None) -> str:
    """The supplier holds it under these numbers: check each with the supplier, then adopt them."""
    with exactly_once.advisory_lock(exactly_once.SUPPLIER_ORDER, supplier_order_id) as acquired:
        if not acquired:
            raise ReconcileError("this supplier order is busy; try again in a moment")
        with session_scope() as session:
            so = session.get(SupplierOrder, supplier_order_id)
            if so is None or so.status != "reconciling":
                raise ReconcileError("this supplier order is not waiting for reconciliation")
            supplier = session.get(Supplier, so.supplier_id)
            session.expunge(supplier)
        try:
            with get_adapter(supplier, transport=transport) as adapter:
                found = [adapter.get_order(external_id) for external_id in external_ids]
                calls = [call.as_data() for call in adapter.calls]
        except SupplierError as error:
            raise ReconcileError(f"the supplier could not be asked: {error.message}") from None
        missing = [eid for eid, snapshot in zip(external_ids, found, strict=True) if snapshot is None]
        if missing:
            raise ReconcileError("the supplier has no order " + ", ".join(missing))
        with session_scope() as session:
            order, so = exactly_once.lock_with_order(session, SupplierOrder, supplier_order_id)
            shop = session.get(Shop, so.shop_id)
            states = {snapshot.state for snapshot in found}
            so.external_id, so.last_error = ",".join(external_ids)[:128], None
            so.placed_at = so.placed_at or utcnow()
            so.status = "cancelled" if states == {S.CANCELLED} else "placed"
            if so.status == "placed":
                advance_order(order, "supplier_ordered")
                so.poll_after, so.polls = utcnow() + FIRST_POLL_DELAY, 0
            record_event(session, shop, so, "supplier_order.reconciled",
                         {"decision": "adopted", "by": by, "external_ids": external_ids,
                          "supplier_states": [s.raw_status for s in found], "calls": calls}, source="merchant")
            ordering.resolve_flag(session, shop, order, "reconcile", "adopted")
            return so.status


def resend(session: Session, supplier_order_id: int, shop_id: int, *, by: str = "merchant") -> None:
    """The merchant checked: the supplier has no such order. Send it again (flushes)."""
    so = session.get(SupplierOrder, supplier_order_id)
    if so is None or so.shop_id != shop_id or so.status != "reconciling":
        raise ReconcileError("this supplier order is not waiting for reconciliation")
    order, so = exactly_once.lock_with_order(session, SupplierOrder, supplier_order_id)
    shop = session.get(Shop, shop_id)
    so.status, so.last_error = "pending", None
    record_event(session, shop, so, "supplier_order.reconciled",
                 {"decision": "not_at_supplier", "by": by}, source="merchant")
    ordering.resolve_flag(session, shop, session.get(Order, so.order_id), "reconcile", "resent")
    enqueue(session, PLACE_TASK, so.id)
    session.flush()
