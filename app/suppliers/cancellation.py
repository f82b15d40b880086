"""Cancelling at the supplier what a cancelled store order may have left there.

Runs under the same advisory lock as placing, so a cancel never races a placement in flight:
once it holds the lock, whatever a placement did is committed and visible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from app import exactly_once
from app.db import session_scope
from app.external_calls import Call
from app.shops import guard
from app.shops.models import Shop
from app.suppliers.adapters import get_adapter
from app.suppliers.client import SupplierTemporaryError
from app.suppliers.models import Supplier, SupplierOrder
from app.suppliers.protocols import SupplierError
from app.suppliers.protocols import SupplierOrderState as S
from app.suppliers.service import SupplierOrderBusy, record_event


@dataclass
class _Outcome:
    calls: list[Call] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    adopted: str | None = None
    error: str | None = None


def _cancel_calls(
    supplier: Supplier, external_id: str | None, reference: str, transport: httpx.BaseTransport | None
) -> _Outcome:
    outcome = _Outcome()
    try:
        with get_adapter(supplier, transport=transport) as adapter:
            outcome.calls = adapter.calls
            if external_id:
                targets = external_id.split(",")  # AliExpress: one order per seller
            else:
                # Sent but never answered: whatever the supplier holds under our reference.
                found = [o for o in adapter.find_order_by_reference(reference) if o.state != S.CANCELLED]
                targets = [o.external_id for o in found]
                outcome.adopted = targets[0] if targets else None
            for target in targets:
                try:
                    adapter.cancel_order(target)
                    outcome.cancelled.append(target)
                except SupplierError as error:
                    if error.retryable:
                        raise
                    outcome.refused.append((target, error.message))
    except SupplierError as error:
        if error.retryable:
            outcome.error = error.message
        else:  # e.g. no lookup by reference at this supplier: nothing can be called
            outcome.refused.append((external_id or reference, error.message))
    return outcome


def cancel_at_supplier(supplier_order_id: int, *, transport: httpx.BaseTransport | None = None) -> str:
    """Carry out a requested cancellation; raises SupplierTemporaryError to be retried."""
    with exactly_once.advisory_lock(exactly_once.SUPPLIER_ORDER, supplier_order_id) as acquired:
        if not acquired:
            raise SupplierOrderBusy(f"supplier order {supplier_order_id} is busy")
        with session_scope() as session:
            so = session.get(SupplierOrder, supplier_order_id)
            if so is None or so.status != "cancelling":
                return so.status if so else "missing"
            shop = session.get(Shop, so.shop_id)
            if skipped := guard.skipped_uninstalled(session, shop, "supplier_cancel", so.id, order_id=so.order_id):
                return skipped
            supplier = session.get(Supplier, so.supplier_id)
            external_id, reference = so.external_id, so.idempotency_key
        outcome = _cancel_calls(supplier, external_id, reference, transport)
        with session_scope() as session:
            status = _finish(session, supplier_order_id, outcome)
    if outcome.error:
        raise SupplierTemporaryError(outcome.error)
    return status


def _finish(session, supplier_order_id: int, outcome: _Outcome) -> str:
    _, so = exactly_once.lock_with_order(session, SupplierOrder, supplier_order_id)
    shop = session.get(Shop, so.shop_id)
    calls = [call.as_data() for call in outcome.calls]
    if so.status != "cancelling":  # the supplier's own callback got here first
        record_event(session, shop, so, "supplier_order.cancel_superseded", {"calls": calls})
        return so.status
    if outcome.adopted and not so.external_id:
        so.external_id = outcome.adopted
    if outcome.error:
        so.last_error = outcome.error
        record_event(
            session, shop, so, "supplier_order.cancel_call_failed", {"error": outcome.error, "calls": calls}
        )
        return so.status
    if outcome.refused:
        reason = "; ".join(f"{target}: {message}" for target, message in outcome.refused)
        # The supplier keeps the order (usually: already shipped); its callbacks carry it on. Never
        # sent for sure and not found: a person reconciles it.
        kept = "confirmed" if so.confirmed_at else "placed" if so.external_id else "reconciling"
        so.status, so.last_error = kept, reason
        record_event(
            session,
            shop,
            so,
            "supplier_order.cancel_refused",
            {"reason": reason, "external_id": so.external_id, "calls": calls},
        )
        return so.status
    so.status, so.last_error = "cancelled", None
    record_event(
        session,
        shop,
        so,
        "supplier_order.cancelled",
        {"supplier_called": True, "external_ids": outcome.cancelled, "calls": calls},
    )
    return "cancelled"


def give_up_cancel(supplier_order_id: int, error: str) -> None:
    """The last retry failed too: recorded, left for a person to follow up."""
    with session_scope() as session:
        _, so = exactly_once.lock_with_order(session, SupplierOrder, supplier_order_id)
        if so is None or so.status != "cancelling":
            return
        shop = session.get(Shop, so.shop_id)
        so.last_error = f"cancel gave up: {error}"
        record_event(session, shop, so, "supplier_order.cancel_failed", {"reason": so.last_error})
