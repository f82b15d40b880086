"""An order's life at the supplier: received -> confirmed -> shipped (or cancelled), with a signed
callback at each transition. Automatic steps are runner jobs, so they survive a restart."""

from __future__ import annotations

import json
import uuid
from typing import Any

from app.db import utcnow
from app.sandbox import delivery, runner
from app.sandbox.supplier import state, tracking

NEXT = {"received": "confirmed", "confirmed": "shipped"}
ADVANCE_JOB = "supplier.advance"


class AlreadyShipped(Exception):
    pass


def _advance(order: dict[str, Any], expected: str | None) -> bool:
    current = order["status"]
    if current not in NEXT or (expected is not None and current != expected):
        # A step scheduled before a manual advance or a cancel is stale: nothing to do.
        return False
    order["status"] = NEXT[current]
    now = utcnow().isoformat()
    if order["status"] == "confirmed":
        order["confirmed_at"] = now
    else:
        parcel = tracking.assign()
        order.update(
            shipped_at=now, tracking_number=parcel.number, carrier=parcel.carrier, tracking_url=parcel.url
        )
    return True


def advance(order_id: str, *, expected: str | None = None) -> tuple[dict[str, Any] | None, bool]:
    return state.update_order(order_id, lambda order: _advance(order, expected))


def cancel(order_id: str) -> tuple[dict[str, Any] | None, bool]:
    def change(order: dict[str, Any]) -> bool:
        if order["status"] == "shipped":
            raise AlreadyShipped(order_id)
        if order["status"] == "cancelled":
            return False
        order.update(status="cancelled", cancelled_at=utcnow().isoformat())
        return True

    return state.update_order(order_id, change)


def callback(order: dict[str, Any]) -> delivery.Delivery:
    body = {
        "event_id": str(uuid.uuid4()),
        "type": f"order.{order['status']}",
        "occurred_at": utcnow().isoformat(),
        "order": state.public(order),
    }
    return delivery.Delivery(
        url=order["callback_url"],
        body=json.dumps(body),
        headers={"Content-Type": "application/json", "User-Agent": "sandbox-supplier/1.0"},
        signer="supplier",
        label=body["type"],
        backoff=list(delivery.SUPPLIER_BACKOFF),
    )


def schedule_next(order: dict[str, Any]) -> None:
    rules = state.behaviour()
    if not rules["auto_advance"] or order["status"] not in NEXT:
        return
    delay = float(rules["confirm_after_s"] if order["status"] == "received" else rules["ship_after_s"])
    runner.schedule(ADVANCE_JOB, {"order_id": order["id"], "expected": order["status"]}, delay=delay)


@runner.handler(ADVANCE_JOB)
def _advance_job(payload: dict[str, Any]) -> None:
    order, changed = advance(payload["order_id"], expected=payload["expected"])
    if order is None or not changed:
        return
    # Callback first, then the next step, so callbacks of one order arrive in lifecycle order.
    delivery.send_sync(callback(order))
    schedule_next(order)
