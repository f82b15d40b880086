"""The alert intake: signature and body checked before anything is stored, duplicates change
nothing, and the decision from the order's ledger (in-process; the worker's run is in the e2e)."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app.alerts import service
from app.alerts.models import PreDisputeAlert
from app.db import utcnow
from app.refunds.models import Refund
from app.tracking import service as tracking
from app.tracking.statuses import Normalised, Provider, Reason, Status
from app.webhooks.models import WebhookDelivery
from tests.alerts.helpers import alert_body, alert_kinds, alert_row, signed
from tests.suppliers.helpers import hold_outbox, paid_order
from tests.tracking.helpers import shipment_for


def _post(client, payload, **kwargs):
    body, headers = signed(payload, **kwargs)
    return client.post("/webhooks/alerts", content=body, headers=headers)


def _stored(db, external_id: str) -> int:
    return db.scalar(select(func.count()).select_from(WebhookDelivery).where(
        WebhookDelivery.source == "alerts", WebhookDelivery.event_id == external_id))


def test_unsigned_wrongly_signed_or_stale_alerts_are_refused_and_nothing_is_stored(client, db, shop):
    payload = alert_body(shop.domain)
    body, headers = signed(payload)
    missing = client.post("/webhooks/alerts", content=body, headers={"Content-Type": "application/json"})
    wrong = _post(client, payload, secret="not-the-provider-secret")
    stale = _post(client, payload, now=time.time() - 3600)
    tampered = client.post("/webhooks/alerts", content=body.replace(b"19.90", b"99.90"), headers=headers)
    assert [r.status_code for r in (missing, wrong, stale, tampered)] == [401, 401, 401, 401]
    assert {r.json()["error"] for r in (missing, wrong, stale, tampered)} == {"bad_signature"}
    assert "X-Timestamp" in stale.json()["detail"] or "far" in stale.json()["detail"]
    assert _stored(db, payload["id"]) == 0


def test_bad_bodies_get_a_400_with_the_reason(client, shop):
    cases = {
        "type": alert_body(shop.domain, type="chargeback"),
        "amount": alert_body(shop.domain, amount="-3"),
        "currency": alert_body(shop.domain, currency="dollars"),
        "shop": alert_body(shop.domain, shop="evil.example.com"),
        "order_reference or arn": alert_body(shop.domain, order_reference=None, arn=None),
        "created_at": alert_body(shop.domain, created_at="yesterday"),
    }
    for field, payload in cases.items():
        response = _post(client, payload)
        assert response.status_code == 400, (field, response.text)
        assert field in response.json()["detail"], (field, response.json())


def test_a_duplicate_alert_is_recorded_once(client, db, shop):
    payload = alert_body(shop.domain)
    first, again = _post(client, payload), _post(client, payload)
    assert first.status_code == 200 and first.json()["status"] == "queued"
    assert again.status_code == 200 and again.json() == {"status": "duplicate", "alert_id": None}
    assert db.scalar(select(func.count()).select_from(PreDisputeAlert).where(
        PreDisputeAlert.external_id == payload["id"])) == 1
    row = alert_row(payload["id"])
    assert row.order_id is None and row.reason_family == "not_received" and row.status == "received"
    assert row.outcome_due_at - row.received_at == timedelta(hours=24)
    assert alert_kinds(row.id) == ["alert.received"]


def test_an_alert_for_a_shop_we_do_not_serve_is_answered_404(client):
    response = _post(client, alert_body("nobody-here.myshopify.com"))
    assert response.status_code == 404 and response.json()["status"] == "unknown_shop"


def _alert_on(db, client, shop, order, **overrides) -> PreDisputeAlert:
    payload = alert_body(shop.domain, **{"order_reference": order.name, "amount": str(order.total_price), **overrides})
    assert _post(client, payload).status_code == 200
    return alert_row(payload["id"])


def _decide(db, alert: PreDisputeAlert) -> PreDisputeAlert:
    outcome = service.decide(db, alert.id)
    hold_outbox(db)
    db.commit()
    db.expire_all()
    assert outcome == db.get(PreDisputeAlert, alert.id).status
    return db.get(PreDisputeAlert, alert.id)


def test_not_shipped_is_refunded_once_through_the_store_path(client, db, shop):
    order = paid_order(db, shop)
    hold_outbox(db)
    db.commit()
    alert = _decide(db, _alert_on(db, client, shop, order))
    assert (alert.decision, alert.decision_rule, alert.status) == ("refund", "not_shipped", "refund_requested")
    refund = db.get(Refund, alert.refund_id)
    assert (refund.issued_by, refund.status, refund.amount) == ("alert", "requested", order.total_price)
    assert refund.idempotency_key == service.refund_key(alert)
    # A second run of the decision (a redelivered task) asks for nothing more.
    assert service.decide(db, alert.id) == "refund_requested"
    db.commit()
    assert db.scalar(select(func.count()).select_from(Refund).where(Refund.order_id == order.id)) == 1
    assert alert_kinds(alert.id) == ["alert.received", "alert.decided", "alert.refund_requested"]


def test_delivered_with_the_carriers_scan_is_fought(client, db, shop):
    order, shipment = shipment_for(db, shop)
    tracking.apply_scan(db, shipment, Normalised(Status.DELIVERED, "Delivered", None, Provider.SEVENTEENTRACK), [],
                        "17track")
    hold_outbox(db)
    db.commit()
    alert = _decide(db, _alert_on(db, client, shop, order))
    assert (alert.decision, alert.decision_rule, alert.outcome, alert.status) == (
        "fight", "delivered_with_proof", "decline", "outcome_due")
    assert alert.refund_id is None and alert.decision_facts["delivered_proof"]
    assert alert.decision_facts["cited_events"]


def test_a_parcel_the_carrier_lost_is_refunded(client, db, shop):
    order, shipment = shipment_for(db, shop)
    tracking.apply_scan(db, shipment, Normalised(Status.EXCEPTION, "Lost", None, Provider.SEVENTEENTRACK,
                                                 reason=Reason.LOST), [], "17track")
    hold_outbox(db)
    db.commit()
    alert = _decide(db, _alert_on(db, client, shop, order))
    assert (alert.decision, alert.decision_rule) == ("refund", "lost_in_transit")


def test_in_transit_within_the_promise_is_fought_and_past_it_refunded(client, db, shop):
    order, shipment = shipment_for(db, shop)
    shipment.expected_by = utcnow() + timedelta(days=5)
    db.commit()
    on_time = _decide(db, _alert_on(db, client, shop, order))
    assert (on_time.decision, on_time.decision_rule) == ("fight", "in_transit_on_time")
    late_order, late = shipment_for(db, shop)
    late.expected_by = utcnow() - timedelta(days=2)
    db.commit()
    past = _decide(db, _alert_on(db, client, shop, late_order))
    assert (past.decision, past.decision_rule) == ("refund", "undelivered_past_promise")


def test_money_already_back_and_unknown_orders_are_answered_without_a_refund(client, db, shop):
    unknown = _decide(db, _alert_on(db, client, shop, paid_order(db, shop), order_reference="#nope"))
    assert (unknown.decision, unknown.outcome) == ("none", "transaction_not_found")
    order = paid_order(db, shop)
    db.add(Refund(shop_id=shop.id, order_id=order.id, status="confirmed", amount=order.total_price,
                  currency=order.currency, reason="other", issued_by="store", attempts=0))
    db.commit()
    refunded = _decide(db, _alert_on(db, client, shop, order))
    assert (refunded.decision, refunded.outcome) == ("none", "previously_refunded")
    assert Decimal(refunded.decision_facts["refunded"]) == order.total_price


def test_a_refund_still_pending_at_the_store_is_reported_before_the_deadline(client, db, shop):
    order = paid_order(db, shop)
    hold_outbox(db)
    db.commit()
    alert = _decide(db, _alert_on(db, client, shop, order))
    refund = db.get(Refund, alert.refund_id)
    refund.status, refund.external_id = "issued", "990001"
    db.commit()
    # Far from the deadline: wait for the store's confirmation.
    assert refund.id not in service.issued_near_deadline(db)
    assert service.refund_settled(db, refund.id) == "refund_requested"
    db.get(PreDisputeAlert, alert.id).outcome_due_at = utcnow() + timedelta(minutes=90)
    db.commit()
    assert refund.id in service.issued_near_deadline(db)
    assert service.refund_settled(db, refund.id, accept_issued=True) == "outcome_due"
    hold_outbox(db)
    db.commit()
    db.expire_all()
    settled = db.get(PreDisputeAlert, alert.id)
    assert (settled.outcome, settled.status) == ("refunded", "outcome_due")
    assert alert_kinds(alert.id)[-1] == "alert.refund_settled"
