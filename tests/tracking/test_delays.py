"""Delays and exceptions with time travel ("now" is an argument), route windows, invalid numbers."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import get_sessionmaker, utcnow
from app.fulfilments.models import Shipment
from app.orders.models import Order
from app.suppliers import service as suppliers
from app.suppliers.models import SupplierOrder
from app.suppliers.tasks import process_callback
from app.tracking import delays, service, windows
from app.tracking.aggregators import seventeentrack
from app.tracking.statuses import Normalised, Provider, Status, from_cj
from tests.suppliers.helpers import (
    FakeSupplier,
    callback_body,
    events,
    hold_outbox,
    outbox,
    planned,
    signed_callback,
)
from tests.tracking.helpers import (
    alerts_of,
    journey,
    notifications_of,
    reload,
    seventeentrack_webhook,
    shipment_for,
)


def _scan(db, shipment, steps, now):
    body, _ = seventeentrack_webhook(shipment.tracking_number, steps)
    update = seventeentrack.parse_webhook(body)
    outcome = service.apply_scan(db, db.get(Shipment, shipment.id), update.latest, update.events, "17track", now=now)
    hold_outbox(db)
    db.commit()
    return outcome


def _detect(db, shipment, now):
    raised = delays.check(db, shipment.id, now=now)
    hold_outbox(db)
    db.commit()
    return raised


def test_no_first_scan_alerts_once_with_an_honest_new_estimate(db, shop):
    shipped = utcnow() - timedelta(days=1)
    order, shipment = shipment_for(db, shop, shipped_at=shipped)
    first_estimate = reload(shipment.id).expected_by
    assert first_estimate == shipped + timedelta(days=20)  # the default window until a route has history
    assert _detect(db, shipment, shipped + timedelta(days=4)) == []
    later = shipped + timedelta(days=6)
    assert _detect(db, shipment, later) == ["no_first_scan"]
    assert _detect(db, shipment, later + timedelta(hours=1)) == []
    # The beat's sweep sees it too, and raises nothing twice.
    with db.begin_nested():
        assert shipment.id not in delays.detect(db, now=later + timedelta(hours=2))
    db.rollback()

    (alert,) = alerts_of(shipment.id)
    assert alert.condition == "no_first_scan" and alert.resolved_at is None
    (message,) = notifications_of(order.id, "delayed")
    moved = reload(shipment.id)
    assert moved.expected_by >= first_estimate and moved.expected_from >= later + timedelta(days=3)
    assert message.context["reason"] == "no_first_scan"
    assert message.context["estimate_to"] == moved.expected_by.date().isoformat()
    (event,) = events(shop.domain, "shipment.alert")
    assert event.data["condition"] == "no_first_scan" and event.data["previous_expected_by"]


def test_stuck_in_transit_alerts_then_resolves_when_the_parcel_moves(db, shop):
    shipped = utcnow() - timedelta(days=30)
    order, shipment = shipment_for(db, shop, shipped_at=shipped)
    steps = journey(shipped, ["info_received", "picked_up", "departed_origin"])
    assert _scan(db, shipment, steps, now=steps[-1][1]) == "changed"
    assert reload(shipment.id).status == "in_transit"
    assert _detect(db, shipment, steps[-1][1] + timedelta(days=5)) == []
    assert _detect(db, shipment, steps[-1][1] + timedelta(days=8)) == ["no_scan"]
    # Much later it is past the route's window too: a second alert, still one customer message.
    assert _detect(db, shipment, shipped + timedelta(days=25)) == ["past_window"]
    assert len(notifications_of(order.id, "delayed")) == 1
    more = journey(shipped, ["info_received", "picked_up", "departed_origin", "customs"], timedelta(days=1))
    more[-1] = ("customs", shipped + timedelta(days=26))
    assert _scan(db, shipment, more, now=shipped + timedelta(days=26)) == "unchanged"  # same status, new scan
    by_condition = {a.condition: a for a in alerts_of(shipment.id)}
    assert by_condition["past_window"].resolved_at is None
    # A new scan does not close "stuck" by itself unless the status moves; arrival does.
    arrived = [*more, ("arrived_destination", shipped + timedelta(days=27)),
               ("out_for_delivery", shipped + timedelta(days=28))]
    assert _scan(db, shipment, arrived, now=shipped + timedelta(days=28)) == "changed"
    assert {a.condition: a.resolved_at is not None for a in alerts_of(shipment.id)}["no_scan"] is True


def test_delivery_failure_and_return_alert_and_tell_the_customer_once(db, shop):
    shipped = utcnow() - timedelta(days=12)
    order, shipment = shipment_for(db, shop, shipped_at=shipped)
    names = ["info_received", "picked_up", "departed_origin", "customs", "arrived_destination",
             "out_for_delivery", "delivery_failed"]
    steps = journey(shipped, names)
    assert _scan(db, shipment, steps, now=steps[-1][1]) == "changed"
    assert reload(shipment.id).status_reason == "recipient_unavailable"
    steps = journey(shipped, [*names, "returning"])
    assert _scan(db, shipment, steps, now=steps[-1][1]) == "changed"
    assert _detect(db, shipment, steps[-1][1] + timedelta(hours=1)) == []  # already raised on arrival
    assert [a.condition for a in alerts_of(shipment.id)] == ["delivery_failed", "returning"]
    (message,) = notifications_of(order.id, "exception")
    assert message.context["reason"] == "delivery_failed"


def test_route_window_is_learned_after_five_deliveries(db, shop):
    base = utcnow() - timedelta(days=90)
    durations = [8, 9, 10, 11, 30]
    shipments = []
    for days in durations[:4]:
        _, shipment = shipment_for(db, shop, shipped_at=base)
        shipments.append(shipment)
        row = db.get(Shipment, shipment.id)
        row.status, row.delivered_at = "delivered", base + timedelta(days=days)
        db.commit()
    supplier_id = db.scalar(select(SupplierOrder.supplier_id).where(SupplierOrder.id == shipments[0].supplier_order_id))
    route = {"shop_id": shop.id, "supplier_id": supplier_id, "country": "US", "carrier": "China Post"}
    assert not windows.window_for_route(db, **route).learned  # four points: still the default
    _, shipment = shipment_for(db, shop, shipped_at=base)
    row = db.get(Shipment, shipment.id)
    row.status, row.delivered_at = "delivered", base + timedelta(days=30)
    db.commit()
    window = windows.window_for_route(db, **route)
    assert (window.typical_days, window.late_days, window.points) == (10, 30, 5)
    assert windows.window_for_route(db, **{**route, "country": "FR"}).points == 0  # another route
    _, new = shipment_for(db, shop, shipped_at=utcnow())
    assert reload(new.id).expected_by == reload(new.id).shipped_at + timedelta(days=30)


def test_an_invalid_number_is_flagged_and_never_announced(db, shop):
    order, shipment = shipment_for(db, shop, number="1234-NOT-A-NUMBER")
    row = reload(shipment.id)
    assert row.flags == ["invalid_number"] and not service.announceable(row)
    assert [a.condition for a in alerts_of(shipment.id)] == ["invalid_number"]
    assert len(events(shop.domain, "shipment.number_invalid")) == 1
    # The supplier corrects it: flag cleared, the shipped message goes out once, the store is updated.
    db.get(Order, order.id).status = "shipped"
    assert service.change_tracking(db, db.get(Shipment, shipment.id), tracking_number="LX123456785CN",
                                   carrier="China Post", tracking_url=None, source="supplier")
    hold_outbox(db)
    db.commit()
    row = reload(shipment.id)
    assert row.flags == [] and row.tracking_number == "LX123456785CN" and not row.store_tracking_synced
    assert len(notifications_of(order.id, "shipped")) == 1
    assert len(outbox("fulfilments.update_tracking", shipment.id)) == 1
    assert len(outbox("tracking.register", shipment.id)) == 2  # the old number, then the new one
    (changed,) = events(shop.domain, "shipment.tracking_changed")
    assert changed.data["previous_number"] == "1234-NOT-A-NUMBER"


def test_a_status_from_an_unknown_provider_value_does_not_move_the_parcel(db, shop):
    _, shipment = shipment_for(db, shop)
    unknown = Normalised(Status.PENDING, "Teleported", None, Provider.SEVENTEENTRACK, recognised=False)
    assert service.apply_scan(db, db.get(Shipment, shipment.id), unknown, [], "17track") == "unchanged"
    db.rollback()


def test_the_shipped_email_waits_for_a_valid_number(db, shop, app):
    order, so = planned(db, shop)
    suppliers.place(so.id, transport=FakeSupplier().transport())
    client = TestClient(app)
    shipped = {"tracking_number": "12345", "carrier": "Mystery Post", "tracking_url": None}
    body, headers = signed_callback(callback_body(so.idempotency_key, "order.shipped", **shipped))
    response = client.post("/webhooks/suppliers/generic", content=body, headers=headers)
    assert response.status_code == 200, response.text
    process_callback.run(response.json()["delivery_id"])
    (shipment,) = _shipments(order.id)
    assert shipment.flags == ["invalid_number"]
    assert notifications_of(order.id, "shipped") == []  # held back: the customer never gets "12345"
    assert len(outbox("fulfilments.push_to_store", shipment.id)) == 1  # the store is still fulfilled
    assert [a.condition for a in alerts_of(shipment.id)] == ["invalid_number"]


def _shipments(order_id: int) -> list[Shipment]:
    with get_sessionmaker()() as session:
        return list(session.scalars(select(Shipment).where(Shipment.order_id == order_id)))


def test_a_suppliers_own_tracking_status_moves_the_parcel_like_a_scan(db, shop):
    order, shipment = shipment_for(db, shop, shipped_at=utcnow() - timedelta(days=3))
    at = utcnow().replace(microsecond=0) - timedelta(days=1)
    apply = service.apply_supplier_status
    args = {"supplier_order_id": shipment.supplier_order_id, "source": "cj"}
    assert apply(db, tracking_number="LX000000000CN", normalised=from_cj(10), at=at, **args) == "unknown_number"
    assert apply(db, tracking_number=shipment.tracking_number, normalised=from_cj(10), at=at, **args) == "changed"
    assert apply(db, tracking_number=shipment.tracking_number, normalised=from_cj(10), at=at, **args) == "unchanged"
    hold_outbox(db)
    db.commit()
    row = reload(shipment.id)
    assert (row.status, row.provider, row.raw_status, row.first_scan_at) == ("out_for_delivery", "cj", "10", at)
    assert len(notifications_of(order.id, "out_for_delivery")) == 1


def test_a_carrier_scan_proves_a_number_our_format_check_refused(db, shop):
    shipped = utcnow() - timedelta(days=4)
    order, shipment = shipment_for(db, shop, number="ZZ99REGIONAL123", shipped_at=shipped)
    assert not service.announceable(reload(shipment.id))
    steps = journey(shipped, ["info_received"])
    assert _scan(db, shipment, steps, now=steps[-1][1]) == "unchanged"
    assert not service.announceable(reload(shipment.id))  # label information is no proof
    steps = journey(shipped, ["info_received", "picked_up"])
    assert _scan(db, shipment, steps, now=steps[-1][1]) == "changed"
    row = reload(shipment.id)
    assert service.announceable(row) and row.status == "in_transit"
    assert len(notifications_of(order.id, "shipped")) == 1
    assert alerts_of(shipment.id)[0].resolved_at is not None
    assert len(events(shop.domain, "shipment.number_confirmed")) == 1
