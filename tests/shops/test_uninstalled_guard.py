"""After app/uninstalled, work queued before it never reaches the outside world for that shop.

Each path is driven in-process with a transport that records calls: none may happen, the work
stops with a status (no exception, so no retry), and the ledger says so once.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from app.db import get_sessionmaker, utcnow
from app.fulfilments import service as fulfilments
from app.fulfilments import updates
from app.inventory import publish
from app.notifications import sending
from app.refunds import issuing
from app.refunds import service as refunds
from app.resolutions import executing
from app.resolutions.models import Resolution
from app.shops.guard import SKIPPED
from app.shops.models import Shop
from app.shops.service import uninstall
from app.suppliers import cancellation, polling
from app.suppliers import service as suppliers
from app.suppliers.models import SupplierOrder
from tests.notifications.helpers import add_shipment, schedule_held
from tests.suppliers.helpers import events, paid_order, planned


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.calls.append(str(request.url))
            return httpx.Response(503, json={"error": "must not be called"})

        return httpx.MockTransport(handle)


def _uninstall(shop: Shop) -> None:
    with get_sessionmaker()() as session:
        uninstall(session, session.get(Shop, shop.id))
        session.commit()


def _skipped(shop: Shop, thing: str) -> list:
    return events(shop.domain, f"{thing}.{SKIPPED}")


def _set(model, row_id: int, **values) -> None:
    with get_sessionmaker()() as session:
        row = session.get(model, row_id)
        for name, value in values.items():
            setattr(row, name, value)
        session.commit()


def test_supplier_order_queued_before_uninstall_is_not_placed(db, shop):
    _, so = planned(db, shop)
    _uninstall(shop)
    remote = Recorder()
    assert suppliers.place(so.id, transport=remote.transport()) == SKIPPED
    assert suppliers.place(so.id, transport=remote.transport()) == SKIPPED
    assert remote.calls == []
    [event] = _skipped(shop, "supplier_order")
    assert event.order_id == so.order_id and event.data["subject"] == str(so.id)


def test_supplier_cancel_and_poll_do_not_call_after_uninstall(db, shop):
    _, so = planned(db, shop)
    _set(SupplierOrder, so.id, status="cancelling", external_id="SUP-9")
    _uninstall(shop)
    remote = Recorder()
    assert cancellation.cancel_at_supplier(so.id, transport=remote.transport()) == SKIPPED
    _set(SupplierOrder, so.id, status="placed", poll_after=utcnow() - timedelta(minutes=1))
    assert polling.poll(so.id, transport=remote.transport()) == SKIPPED
    assert remote.calls == []
    with get_sessionmaker()() as session:
        assert session.get(SupplierOrder, so.id).poll_after is None  # no more polls for it
    assert len(_skipped(shop, "supplier_cancel")) == len(_skipped(shop, "supplier_poll")) == 1


def test_customer_message_queued_before_uninstall_is_not_sent(db, shop):
    order = paid_order(db, shop)
    notification = schedule_held(db, order)
    assert notification is not None
    _uninstall(shop)
    assert sending.send(notification.id).outcome == SKIPPED
    assert sending.send(notification.id).outcome == "skipped"
    [event] = _skipped(shop, "notification")
    assert event.data["channel"] == notification.channel


def test_store_pushes_queued_before_uninstall_are_not_made(db, shop):
    order = paid_order(db, shop)
    shipment = add_shipment(db, order)
    with get_sessionmaker()() as session:
        row = session.get(type(shipment), shipment.id)
        event_id = updates.queue_event(session, row, "in_transit", utcnow())
        row.store_tracking_synced = False
        session.commit()
    _uninstall(shop)
    store = Recorder()
    assert fulfilments.push_to_store(shipment.id, transport=store.transport()) == SKIPPED
    assert updates.push_event(event_id, transport=store.transport()) == SKIPPED
    assert updates.update_tracking(shipment.id, transport=store.transport()) == SKIPPED
    assert store.calls == []
    for thing in ("fulfilment", "fulfilment_event", "fulfilment_tracking"):
        assert len(_skipped(shop, thing)) == 1, thing


def test_approved_refund_is_not_executed_after_uninstall(db, shop):
    order = paid_order(db, shop)
    with get_sessionmaker()() as session:
        resolution = Resolution(shop_id=shop.id, order_id=order.id, reason="damaged", status="approved",
                                policy_version="1", policy_digest="0" * 64, remedy="full_refund",
                                amount=Decimal("10.00"), currency="USD")
        session.add(resolution)
        refund = refunds.request_refund(session, session.get(Shop, shop.id), session.get(type(order), order.id),
                                        amount=Decimal("10.00"), reason="damaged", issued_by="dispute",
                                        key=f"dg-guard-{order.id}")
        session.commit()
        resolution_id, refund_id = resolution.id, refund.id
    _uninstall(shop)
    store = Recorder()
    assert executing.execute(resolution_id) == SKIPPED
    assert issuing.issue(refund_id, transport=store.transport()) == SKIPPED
    assert issuing.issue(refund_id, transport=store.transport()) == SKIPPED
    assert store.calls == []
    assert len(_skipped(shop, "resolution")) == 1
    assert len(_skipped(shop, "refund")) == 1


@pytest.mark.parametrize("runs", [2])
def test_inventory_is_not_published_after_uninstall(db, shop, runs):
    _uninstall(shop)
    store = Recorder()
    for _ in range(runs):
        report = publish.publish(shop.id, transport=store.transport())
        assert report.skipped_shop_uninstalled and report.as_data()["status"] == SKIPPED
    assert store.calls == []
    assert len(_skipped(shop, "inventory_publish")) == 1
