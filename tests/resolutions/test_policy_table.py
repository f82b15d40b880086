"""The resolution policy cannot be gamed: one table of claims and what the policy makes of each,
then the same rules through the customer's form, the e-mail, the merchant's queue and two racing
accepts."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from app.db import session_scope, utcnow
from app.notifications.models import Notification
from app.notifications.rendering import stage_facts
from app.outbox.models import OutboxMessage
from app.resolutions import policy as policies
from app.resolutions import service
from app.resolutions.models import Resolution
from app.shops.models import Shop
from app.status.tokens import token_for
from tests.factories import session_token
from tests.notifications.helpers import kinds, paid_order
from tests.resolutions.helpers import PNG, STORED_PHOTO, delivered, placed_days_ago, report

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)
PLACED = NOW - timedelta(days=30)
DELIVERED = NOW - timedelta(days=2)
POLICY = policies.for_shop(Shop(settings={}, currency="USD"))


def _days(n: float) -> datetime:
    return NOW - timedelta(days=n)


# reason, parcel, order currency, photos, total -> refusal | (remedy: auto) | "queue" (no offers)
TABLE = [
    # Evidence: a photo for problems with the item itself.
    ("damaged", policies.Parcel(PLACED, DELIVERED), "USD", 0, "30.00", "resolution.photo_required"),
    ("not_as_described", policies.Parcel(PLACED, DELIVERED), "USD", 0, "30.00", "resolution.photo_required"),
    ("damaged", policies.Parcel(PLACED, DELIVERED), "USD", 1, "30.00",
     {"reship": True, "partial_refund": True, "full_refund": True}),
    # Parcel state: the item's problems only once delivered.
    ("not_as_described", policies.Parcel(PLACED, expected_by=_days(-1)), "USD", 2, "30.00",
     "resolution.not_delivered_yet"),
    ("damaged", policies.Parcel(PLACED), "USD", 1, "30.00", "resolution.not_delivered_yet"),
    ("not_as_described", policies.Parcel(PLACED, DELIVERED), "USD", 1, "30.00",
     {"partial_refund": True, "return_first": False}),
    # "Not received" only once overdue (20 days, and 2 past the carrier's estimate), or lost.
    ("not_received", policies.Parcel(_days(5)), "USD", 0, "30.00", "resolution.not_yet_due"),
    ("not_received", policies.Parcel(_days(25), expected_by=_days(1)), "USD", 0, "30.00", "resolution.not_yet_due"),
    ("not_received", policies.Parcel(_days(25), expected_by=_days(3)), "USD", 0, "30.00",
     {"reship": True, "full_refund": True}),
    ("not_received", policies.Parcel(_days(5), lost=True), "USD", 0, "30.00", {"reship": True, "full_refund": True}),
    # The carrier says delivered: a "not received" claim is the merchant's to decide.
    ("not_received", policies.Parcel(PLACED, DELIVERED), "USD", 0, "30.00", {"reship": False, "full_refund": False}),
    # Money: the limit is in the shop's currency; another currency is never decided automatically.
    ("damaged", policies.Parcel(PLACED, DELIVERED), "USD", 1, "80.00",
     {"reship": False, "partial_refund": True, "full_refund": False}),
    ("damaged", policies.Parcel(PLACED, DELIVERED), "EUR", 1, "30.00",
     {"reship": False, "partial_refund": False, "full_refund": False}),
    # Windows run from delivery; outside it there is no offer (the queue).
    ("damaged", policies.Parcel(_days(90), _days(40)), "USD", 1, "30.00", "queue"),
    ("changed_mind", policies.Parcel(PLACED, DELIVERED), "USD", 0, "30.00",
     {"return_first": False, "store_credit": False}),
    ("i_want_it_free", policies.Parcel(PLACED, DELIVERED), "USD", 1, "30.00", "resolution.bad_reason"),
]


@pytest.mark.parametrize(("reason", "parcel", "currency", "photos", "total", "expected"), TABLE)
def test_policy_table(reason, parcel, currency, photos, total, expected):
    judged = policies.assess(POLICY, reason, parcel=parcel, total=Decimal(total), currency=currency,
                             shop_currency="USD", photos=photos, now=NOW)
    if isinstance(expected, str) and expected.startswith("resolution."):
        assert (judged.refusal, judged.offers) == (expected, ())
        if expected == "resolution.not_yet_due":
            assert judged.available_from > NOW
    elif expected == "queue":
        assert judged.opened and judged.offers == ()
    else:
        assert judged.opened
        assert {offer.remedy: offer.auto for offer in judged.offers} == expected
        for offer in judged.offers:  # every decision says why, for the merchant's queue
            assert offer.why
            assert ("other_currency" in offer.why) == (currency != "USD")


def test_not_yet_due_says_when(db, make_shop):
    shop = make_shop()
    order = paid_order(db, shop)
    with pytest.raises(service.ResolutionError) as refused:
        service.report(db, shop, order, reason="not_received", message="", photos=[], photo_names=[],
                       locale="en", ip=None, user_agent=None)
    assert refused.value.code == "resolution.not_yet_due"
    assert refused.value.available_from.date() == (order.placed_at + timedelta(days=20)).date()
    db.rollback()
    assert db.scalars(select(Resolution).where(Resolution.order_id == order.id)).all() == []


@pytest.fixture
def upload_dir(tmp_path, monkeypatch):
    from app.config import get_settings

    monkeypatch.setattr(get_settings(), "uploads_dir", str(tmp_path / "uploads"))
    return tmp_path / "uploads"


@pytest.mark.parametrize(("lang", "phrase"), [("en", "at least one photo"), ("fr", "au moins une photo"),
                                              ("es", "al menos una foto"), ("de", "mindestens ein Foto")])
def test_the_form_refuses_a_damaged_claim_without_a_photo_and_stores_nothing(db, client, make_shop, upload_dir,
                                                                               lang, phrase):
    shop = make_shop()
    order = paid_order(db, shop)
    delivered(db, order)
    refused = report(client, token_for(order), reason="damaged", message="Broken", lang=lang)
    assert refused.status_code == 400 and phrase in refused.text and "Broken" in refused.text
    assert db.scalars(select(Resolution).where(Resolution.order_id == order.id)).all() == []
    with_photo = report(client, token_for(order), reason="damaged", lang=lang,
                        files=[("photos", ("box.png", PNG, "image/png"))])
    assert with_photo.status_code == 303


def test_the_form_says_from_when_not_received_can_be_reported(db, client, make_shop, upload_dir):
    shop = make_shop()
    order = paid_order(db, shop)
    refused = report(client, token_for(order), reason="not_received", message="Where is it?")
    assert refused.status_code == 400 and "still within its delivery time" in refused.text
    assert str((order.placed_at + timedelta(days=20)).year) in refused.text
    on_the_way = report(client, token_for(order), reason="not_as_described",
                        files=[("photos", ("box.png", PNG, "image/png"))])
    assert on_the_way.status_code == 400 and "once your parcel has been delivered" in on_the_way.text


def _hold(db) -> None:
    db.flush()
    db.execute(update(OutboxMessage).where(OutboxMessage.dispatched_at.is_(None)).values(dispatched_at=utcnow()))


def test_a_pending_claim_promises_nothing_on_its_page_or_in_its_email(db, client, make_shop):
    shop = make_shop()
    shop.settings = {**(shop.settings or {}), "resolutions": {"max_auto_refund": "5.00"}}
    db.commit()
    order = paid_order(db, shop)
    delivered(db, order)
    resolution = service.report(db, shop, order, reason="damaged", message="Cracked", photos=[STORED_PHOTO],
                                photo_names=["box.png"], locale="en", ip=None, user_agent=None)
    service.accept(db, shop, order, resolution, remedy="full_refund", ip=None, user_agent=None)
    _hold(db)
    db.commit()
    assert resolution.status == "pending_review"
    page = client.get(f"/status/{token_for(order)}/problem/{resolution.id}")
    assert "Outcome" not in page.text and "You asked for: a full refund" in page.text
    assert "Nothing is decided yet" in page.text
    (email,) = db.scalars(select(Notification).where(Notification.order_id == order.id,
                                                     Notification.stage.like("resolution_update:%"))).all()
    facts = stage_facts(email.context, "en", order.currency)["resolution"]
    assert (facts["status"], facts["remedy"], facts["amount"]) == ("submitted", "", "")

    service.decide(db, shop, resolution, approve=True, remedy="full_refund", note="")
    _hold(db)
    db.commit()
    page = client.get(f"/status/{token_for(order)}/problem/{resolution.id}")
    assert "Outcome: a full refund" in page.text
    approved = db.scalars(select(Notification).where(Notification.order_id == order.id,
                                                     Notification.stage == f"resolution_update:{resolution.id}.approved")
                          ).one()
    assert approved.context["remedy"] == "full_refund" and approved.context["amount"] == str(order.total_price)


def test_automatic_decisions_are_shown_to_the_merchant_with_photos_and_reasons(db, client, make_shop):
    shop, other = make_shop(), make_shop()
    order = paid_order(db, shop)
    delivered(db, order)
    resolution = service.report(db, shop, order, reason="damaged", message="Cracked lid", photos=[STORED_PHOTO],
                                photo_names=["box.png"], locale="en", ip=None, user_agent=None)
    service.accept(db, shop, order, resolution, remedy="partial_refund", ip=None, user_agent=None)
    _hold(db)
    db.commit()
    assert resolution.status == "approved" and resolution.decided_by == "customer"
    page = client.get("/admin/resolutions", params={"id_token": session_token(shop.domain)})
    assert f'data-auto-resolution-id="{resolution.id}"' in page.text
    assert "Cracked lid" in page.text and f"/admin/resolutions/{resolution.id}/photos/{STORED_PHOTO['name']}" in page.text
    assert "within your automatic limit" in page.text and "photo provided" in page.text
    theirs = client.get("/admin/resolutions", params={"id_token": session_token(other.domain)})
    assert f'data-auto-resolution-id="{resolution.id}"' not in theirs.text


def test_a_claim_in_another_currency_goes_to_the_merchant_and_says_why(db, client, make_shop):
    shop = make_shop()
    order = paid_order(db, shop)
    db.execute(update(type(order)).where(type(order).id == order.id).values(currency="EUR"))
    db.commit()
    db.refresh(order)
    delivered(db, order)
    resolution = service.report(db, shop, order, reason="damaged", message="", photos=[STORED_PHOTO],
                                photo_names=["a.png"], locale="en", ip=None, user_agent=None)
    assert not any(offer["auto"] for offer in resolution.offers)
    service.accept(db, shop, order, resolution, remedy="partial_refund", ip=None, user_agent=None)
    _hold(db)
    db.commit()
    assert resolution.status == "pending_review"
    page = client.get("/admin/resolutions", params={"id_token": session_token(shop.domain)})
    assert "no exchange rate is applied, so you decide" in page.text


def test_two_racing_accepts_record_the_approval_once(db, make_shop):
    shop = make_shop()
    order = paid_order(db, shop)
    placed_days_ago(db, order, 30)
    resolution = service.report(db, shop, order, reason="not_received", message="", photos=[], photo_names=[],
                                locale="en", ip=None, user_agent=None)
    _hold(db)
    db.commit()
    # Both requests read the claim as offered before either writes.
    barrier, outcomes = threading.Barrier(2), []

    def accept(remedy: str) -> None:
        with session_scope() as session:
            own_shop = session.get(Shop, shop.id)
            own = session.get(Resolution, resolution.id)
            own_order = session.get(type(order), order.id)
            assert own.status == "offered"
            barrier.wait()
            try:
                service.accept(session, own_shop, own_order, own, remedy=remedy, ip=None, user_agent=None)
                outcomes.append("accepted")
            except service.ResolutionError:
                session.rollback()
                outcomes.append("refused")

    threads = [threading.Thread(target=accept, args=(remedy,)) for remedy in ("full_refund", "reship")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["accepted", "refused"]
    ledger = kinds(order.id, "resolution.")
    assert ledger.count("resolution.approved") == 1 and ledger.count("resolution.policy_accepted") == 1
    executes = db.scalars(select(OutboxMessage).where(OutboxMessage.task_name == "resolutions.execute",
                                                      OutboxMessage.args == [resolution.id])).all()
    assert len(executes) == 1
