"""Policy decides: within policy a refund happens at once, exactly once at the store; outside, the queue.

The store is the sandbox store emulator behind the live server; the refund goes through
refundCreate with @idempotent(key:), so a task that runs twice, or a crash after the store
answered, still leaves exactly one refund there.
"""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select, update

from app.db import utcnow
from app.notifications.models import Notification
from app.orders.service import apply_snapshot
from app.outbox.models import OutboxMessage
from app.refunds import issuing
from app.refunds.models import Refund
from app.resolutions import executing, service
from app.resolutions.models import Resolution
from app.suppliers.models import SupplierOrder
from tests.notifications.helpers import events, kinds, paid_order
from tests.resolutions.helpers import STORED_PHOTO, delivered, placed_days_ago
from tests.suppliers.e2e import store_shop

STORE_ORDER = {
    "line_items": [{"title": "Desk lamp", "sku": "DL-1", "quantity": 1, "price": "39.90"}],
    "customer": {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"},
    "shipping_address": {"first_name": "Ada", "last_name": "Lovelace", "address1": "1 Main St", "city": "Austin",
                         "province_code": "TX", "zip": "73301", "country_code": "US"},
    "currency": "USD",
}


def _store_order(live: str, shop) -> dict:
    created = httpx.post(f"{live}/sandbox/shopify/_control/orders",
                         json={"shop": shop.domain, "order": STORE_ORDER, "paid": True}, timeout=30)
    assert created.status_code == 201, created.text
    return created.json()["order"]


def _store_refunds(live: str, store_order_id: int) -> list[dict]:
    response = httpx.get(f"{live}/sandbox/shopify/_control/orders/{store_order_id}", timeout=10)
    response.raise_for_status()
    body = response.json()
    return (body.get("order") or body).get("refunds") or []


def _hold(db) -> None:
    """The test runs the task itself: mark its outbox rows published (a live worker may exist)."""
    db.flush()
    db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.task_name.in_(["resolutions.execute", "resolutions.refund_settled", "refunds.issue",
                                            "notifications.send", "suppliers.place_order"]),
               OutboxMessage.dispatched_at.is_(None))
        .values(dispatched_at=utcnow())
    )


def _report(db, shop, order, reason: str, *, delivered_days_ago: float = 1) -> Resolution:
    """A claim the policy lets through: the parcel delivered (or overdue, for "not received"), a photo."""
    if reason == "not_received":
        placed_days_ago(db, order, 30)
    else:
        delivered(db, order, days_ago=delivered_days_ago)
    resolution = service.report(db, shop, order, reason=reason, message="It broke", photos=[STORED_PHOTO],
                                photo_names=["box.png"], locale="en", ip="203.0.113.7", user_agent="phone")
    _hold(db)
    db.commit()
    return resolution


def test_full_refund_within_policy_happens_once_even_when_the_task_runs_twice(db, live_server):
    shop = store_shop(db)
    store = _store_order(live_server, shop)
    order, _ = apply_snapshot(db, shop, "orders/paid", store)
    db.commit()
    assert order.total_price <= Decimal("50.00")  # within the default auto limit

    resolution = _report(db, shop, order, "not_received")
    assert resolution.status == "offered"
    assert [o["remedy"] for o in resolution.offers] == ["reship", "full_refund"]
    assert all(o["auto"] for o in resolution.offers)
    service.accept(db, shop, order, resolution, remedy="full_refund", ip="203.0.113.7", user_agent="phone")
    _hold(db)
    db.commit()
    assert resolution.status == "approved"

    # The claim asks app.refunds for one refund; running again finds the same one.
    assert executing.execute(resolution.id) == "refund_requested"
    assert executing.execute(resolution.id) == "refund_requested"
    (refund,) = db.scalars(select(Refund).where(Refund.resolution_id == resolution.id)).all()
    assert (refund.issued_by, refund.reason, refund.amount) == ("resolution", "not_received", order.total_price)
    db.expire_all()
    assert db.get(Resolution, resolution.id).status == "approved"  # a refund asked for is not a refund made

    assert issuing.issue(refund.id) == "confirmed"
    assert issuing.issue(refund.id) == "confirmed"  # the task runs again: nothing new
    # A crash after the store answered but before we recorded it: the retry finds our refund there.
    db.execute(update(Refund).where(Refund.id == refund.id).values(status="requested", external_id=None))
    db.commit()
    assert issuing.issue(refund.id) == "confirmed"
    settled = db.scalars(select(OutboxMessage.args).where(OutboxMessage.task_name == "resolutions.refund_settled",
                                                          OutboxMessage.args == [resolution.id])).all()
    assert settled, "the claim hears that its refund is settled"
    assert executing.refund_settled(resolution.id) == "completed"
    assert executing.refund_settled(resolution.id) == "completed"

    refunds = _store_refunds(live_server, store["id"])
    assert len(refunds) == 1
    assert Decimal(refunds[0]["transactions"][0]["amount"]) == order.total_price
    db.expire_all()
    done = db.get(Resolution, resolution.id)
    assert done.status == "completed"
    assert db.get(Refund, refund.id).external_id == str(refunds[0]["id"])
    ledger = kinds(order.id, "resolution.")
    for kind in ("resolution.reported", "resolution.policy_accepted", "resolution.approved",
                 "resolution.refund_requested", "resolution.refund_confirmed"):
        assert kind in ledger, kind
    assert ledger.count("resolution.refund_confirmed") == 1 and ledger.count("resolution.refund_requested") == 1
    (accepted,) = events(order.id, "resolution.policy_accepted")
    assert accepted.data["policy_digest"] == resolution.policy_digest and accepted.data["policy_version"]
    assert accepted.personal["ip"] == "203.0.113.7"
    keys = {e.data["idempotency_key"] for e in events(order.id, "refund.issue_attempt")}
    assert keys == {executing.refund_key(done)}
    stages = db.scalars(select(Notification.stage).where(Notification.order_id == order.id)).all()
    assert f"resolution_update:{resolution.id}.approved" in stages
    assert f"resolution_update:{resolution.id}.completed" in stages


def test_reship_places_a_new_supplier_order_with_its_own_key(db, make_shop):
    shop = make_shop()
    order = paid_order(db, shop)
    resolution = _report(db, shop, order, "damaged")
    service.accept(db, shop, order, resolution, remedy="reship", ip=None, user_agent=None)
    _hold(db)
    db.commit()
    # Asked of the supplier, not yet made: the claim stays approved (the customer is not told "done").
    assert executing.execute(resolution.id) == "reship_requested"
    assert executing.execute(resolution.id) == "reship_requested"
    db.expire_all()
    assert db.get(Resolution, resolution.id).status == "approved"
    reships = db.scalars(select(SupplierOrder).where(SupplierOrder.order_id == order.id,
                                                     SupplierOrder.idempotency_key.like("%-rs%"))).all()
    assert len(reships) == 1 and reships[0].idempotency_key.endswith(f"-rs{resolution.id}")
    assert db.get(Resolution, resolution.id).reship_supplier_order_id == reships[0].id
    queued = db.scalars(select(OutboxMessage).where(OutboxMessage.task_name == "suppliers.place_order",
                                                    OutboxMessage.args == [reships[0].id])).all()
    assert len(queued) == 1


@pytest.mark.parametrize("case", ["outside_window", "over_limit", "store_credit", "ask_shop"])
def test_outside_policy_goes_to_the_merchants_queue(db, make_shop, case):
    shop = make_shop()
    if case == "over_limit":
        shop.settings = {**(shop.settings or {}), "resolutions": {"max_auto_refund": "5.00", "version": "v7"}}
        db.commit()
    order = paid_order(db, shop)
    reason = "changed_mind" if case == "store_credit" else "damaged"
    resolution = _report(db, shop, order, reason, delivered_days_ago=400 if case == "outside_window" else 1)
    if case == "outside_window":
        assert resolution.status == "pending_review" and resolution.offers == []
    elif case == "ask_shop":
        service.ask_shop(db, shop, order, resolution)
    else:
        remedy = "store_credit" if case == "store_credit" else "full_refund"
        offer = next(o for o in resolution.offers if o["remedy"] == remedy)
        assert offer["auto"] is False
        service.accept(db, shop, order, resolution, remedy=remedy, ip=None, user_agent=None)
    _hold(db)
    db.commit()
    assert resolution.status == "pending_review"
    assert [r.id for r in service.queue(db, shop.id)] == [resolution.id]
    assert db.scalars(select(OutboxMessage).where(OutboxMessage.task_name == "resolutions.execute",
                                                  OutboxMessage.args == [resolution.id])).all() == []
    assert "resolution.queued" in kinds(order.id, "resolution.")

    # The merchant decides from the queue: deny with a note, which the customer is told.
    service.decide(db, shop, resolution, approve=False, remedy=None, note="Outside our return window.")
    _hold(db)
    db.commit()
    assert resolution.status == "denied" and service.queue(db, shop.id) == []
    notes = db.scalars(select(Notification.context).where(Notification.order_id == order.id,
                                                          Notification.stage.like("resolution_update:%"))
                        .order_by(Notification.id)).all()
    assert {"status": "denied", "note": "Outside our return window."}.items() <= notes[-1].items()


def test_return_first_waits_for_the_merchant_then_refunds(db, make_shop):
    shop = make_shop()
    order = paid_order(db, shop)
    resolution = _report(db, shop, order, "changed_mind")
    service.accept(db, shop, order, resolution, remedy="return_first", ip=None, user_agent=None)
    _hold(db)
    db.commit()
    assert resolution.status == "awaiting_return"
    assert [r.id for r in service.queue(db, shop.id)] == [resolution.id]
    service.decide(db, shop, resolution, approve=True, remedy=None, note="Parcel received.")
    db.flush()
    assert (resolution.status, resolution.remedy, resolution.amount) == ("approved", "full_refund", order.total_price)
    with pytest.raises(service.ResolutionError):
        service.decide(db, shop, resolution, approve=False, remedy=None, note="again")
    db.rollback()


def test_an_offer_not_made_cannot_be_accepted(db, make_shop):
    shop = make_shop()
    order = paid_order(db, shop)
    resolution = _report(db, shop, order, "damaged")
    with pytest.raises(service.ResolutionError):
        service.accept(db, shop, order, resolution, remedy="store_credit", ip=None, user_agent=None)
    db.rollback()


def _reship_asked(db, shop, order) -> tuple[Resolution, SupplierOrder]:
    resolution = _report(db, shop, order, "damaged")
    service.accept(db, shop, order, resolution, remedy="reship", ip=None, user_agent=None)
    _hold(db)
    db.commit()
    assert executing.execute(resolution.id) == "reship_requested"
    db.expire_all()
    resolution = db.get(Resolution, resolution.id)
    return resolution, db.get(SupplierOrder, resolution.reship_supplier_order_id)


def _supplier_says(db, so: SupplierOrder, status: str) -> None:
    """The supplier's answer as app.suppliers records it, with the claim told in the same transaction."""
    from app.resolutions import reships

    so.status, so.last_error = status, "out_of_stock: DL-1" if status == "failed" else None
    reships.supplier_order_settled(db, so.id, status)
    _hold(db)
    db.commit()
    told = db.scalars(select(OutboxMessage).where(OutboxMessage.task_name == "resolutions.reship_settled",
                                                  OutboxMessage.args == [so_resolution(db, so)])).all()
    assert told, "the claim hears how its reship went"


def so_resolution(db, so: SupplierOrder) -> int:
    return db.scalar(select(Resolution.id).where(Resolution.reship_supplier_order_id == so.id))


def test_a_reship_completes_only_when_the_supplier_accepted_it(db, make_shop):
    shop = make_shop()
    order = paid_order(db, shop)
    resolution, so = _reship_asked(db, shop, order)
    assert executing.reship_settled(resolution.id) == "approved"  # still pending at the supplier
    _supplier_says(db, so, "placed")
    assert executing.reship_settled(resolution.id) == "completed"
    assert executing.reship_settled(resolution.id) == "completed"  # told twice: nothing new
    ledger = kinds(order.id, "resolution.")
    assert ledger.count("resolution.reship_confirmed") == 1 and "resolution.reship_planned" not in ledger
    stages = db.scalars(select(Notification.stage).where(Notification.order_id == order.id)).all()
    assert f"resolution_update:{resolution.id}.completed" in stages


def test_a_refused_reship_reopens_the_claim_with_a_refund_offered(db, make_shop):
    shop = make_shop()
    order = paid_order(db, shop)
    resolution, so = _reship_asked(db, shop, order)
    _supplier_says(db, so, "failed")
    assert executing.reship_settled(resolution.id) == "reopened"
    assert executing.reship_settled(resolution.id) == "offered"  # told twice: reopened once
    db.expire_all()
    reopened = db.get(Resolution, resolution.id)
    assert (reopened.status, reopened.remedy) == ("offered", None)
    assert [(o["remedy"], o["amount"], o["auto"], o["after"]) for o in reopened.offers] == [
        ("full_refund", str(order.total_price), True, "reship_refused")]
    assert "out_of_stock" in reopened.last_error
    ledger = kinds(order.id, "resolution.")
    assert ledger.count("resolution.reship_refused") == 1 and ledger.count("resolution.reopened") == 1
    assert "resolution.reship_confirmed" not in ledger and "resolution.completed" not in ledger
    (told,) = db.scalars(select(Notification).where(
        Notification.order_id == order.id, Notification.stage == f"resolution_update:{resolution.id}.reopened.{so.id}"))
    assert told.context["status"] == "reopened" and told.context["remedy"] == ""
    # The customer takes the refund: carried out like any refund within policy.
    service.accept(db, shop, order, reopened, remedy="full_refund", ip=None, user_agent=None)
    _hold(db)
    db.commit()
    assert reopened.status == "approved"
    assert executing.execute(resolution.id) == "refund_requested"
