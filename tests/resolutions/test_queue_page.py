"""The merchant's resolution queue: listing, photos, approve/deny; never another shop's."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import update

from app.config import get_settings
from app.db import utcnow
from app.outbox.models import OutboxMessage
from app.resolutions import policy as policies
from app.resolutions import service, uploads
from app.resolutions.models import Resolution
from app.shops.models import Shop
from tests.factories import session_token
from tests.notifications.helpers import paid_order
from tests.resolutions.helpers import PNG


@pytest.fixture
def queued(db, make_shop, tmp_path, monkeypatch):
    """Two shops, each with one resolution in its queue (with a photo)."""
    monkeypatch.setattr(get_settings(), "uploads_dir", str(tmp_path / "uploads"))
    made = []
    for _ in range(2):
        shop = make_shop()
        order = paid_order(db, shop)
        photos = uploads.store(shop.id, [uploads.check("box.png", PNG)])
        resolution = service.report(db, shop, order, reason="changed_mind", message="Too big for me",
                                    photos=photos, photo_names=["box.png"], locale="en", ip=None, user_agent=None)
        service.ask_shop(db, shop, order, resolution)
        db.flush()
        db.execute(update(OutboxMessage).where(OutboxMessage.dispatched_at.is_(None),
                                               OutboxMessage.task_name.like("notifications.%"))
                   .values(dispatched_at=utcnow()))
        db.commit()
        made.append((shop, order, resolution))
    return made


def test_queue_lists_only_the_callers_resolutions(client, queued):
    (shop_a, order_a, res_a), (_, order_b, res_b) = queued
    page = client.get("/admin/resolutions", params={"id_token": session_token(shop_a.domain)})
    assert page.status_code == 200
    assert f'data-resolution-id="{res_a.id}"' in page.text and "Too big for me" in page.text
    assert f'data-resolution-id="{res_b.id}"' not in page.text and order_b.name not in page.text
    assert client.get("/admin/resolutions").status_code == 401


def test_photos_are_served_to_their_shop_only(client, queued):
    (shop_a, _, res_a), (shop_b, _, res_b) = queued
    name = res_a.photos[0]["name"]
    mine = client.get(f"/admin/resolutions/{res_a.id}/photos/{name}", params={"id_token": session_token(shop_a.domain)})
    assert mine.status_code == 200 and mine.content == PNG and mine.headers["content-type"] == "image/png"
    theirs = client.get(f"/admin/resolutions/{res_a.id}/photos/{name}",
                        params={"id_token": session_token(shop_b.domain)})
    assert theirs.status_code == 404
    tricks = client.get(f"/admin/resolutions/{res_a.id}/photos/..%2F..%2Fapp.py",
                        params={"id_token": session_token(shop_a.domain)})
    assert tricks.status_code == 404


def test_deny_with_a_note_and_other_shops_cannot_decide(db, client, queued):
    (shop_a, _, res_a), (shop_b, _, res_b) = queued
    forged = client.post(f"/admin/resolutions/{res_a.id}/decide",
                         data={"id_token": session_token(shop_b.domain), "decision": "approve", "remedy": "full_refund"})
    assert forged.status_code == 404
    db.expire_all()
    assert db.get(Resolution, res_a.id).status == "pending_review"

    answer = client.post(f"/admin/resolutions/{res_a.id}/decide", follow_redirects=False,
                         data={"id_token": session_token(shop_a.domain), "decision": "deny", "note": "Sorry"})
    assert answer.status_code == 303 and "Denied" in answer.headers["location"].replace("+", " ")
    db.expire_all()
    denied = db.get(Resolution, res_a.id)
    assert (denied.status, denied.merchant_note, denied.decided_by) == ("denied", "Sorry", "merchant")
    assert db.get(Resolution, res_b.id).status == "pending_review"


def test_approve_enqueues_the_remedy(db, client, queued):
    (shop_a, _, res_a), _ = queued
    answer = client.post(f"/admin/resolutions/{res_a.id}/decide", follow_redirects=False,
                         data={"id_token": session_token(shop_a.domain), "decision": "approve",
                               "remedy": "partial_refund", "note": "Keep it"})
    assert answer.status_code == 303
    db.expire_all()
    approved = db.get(Resolution, res_a.id)
    assert (approved.status, approved.remedy) == ("approved", "partial_refund") and approved.amount > 0


def _policy_form(token: str, **overrides) -> dict:
    form = {"id_token": token, "max_auto_refund": "20.00", "partial_refund_percent": "25"}
    for reason in ("not_received", "damaged", "not_as_described", "wrong_item", "changed_mind"):
        form[f"window_{reason}"] = "45"
    form |= {"remedy_damaged_partial_refund": "on", "remedy_damaged_store_credit": "on",
             "remedy_not_received_reship": "on", "return_first_changed_mind": "on",
             "photo_required_damaged": "on", "not_received_after_days": "12"}
    return form | overrides


def test_policy_form_saves_a_new_version_for_the_callers_shop_only(db, client, make_shop):
    shop_a, shop_b = make_shop(), make_shop()
    page = client.get("/admin/resolutions", params={"id_token": session_token(shop_a.domain)})
    assert "Your resolution policy" in page.text and "default-1" in page.text
    saved = client.post("/admin/resolutions/policy", data=_policy_form(session_token(shop_a.domain)),
                        follow_redirects=False)
    assert saved.status_code == 303 and "Policy+saved" in saved.headers["location"]
    db.expire_all()
    policy = policies.for_shop(db.get(Shop, shop_a.id))
    assert policy.max_auto_refund == Decimal("20.00") and policy.partial_refund_percent == 25
    assert policy.remedies["damaged"] == ["partial_refund", "store_credit"]
    assert policy.windows_days["wrong_item"] == 45 and policy.return_first == {"changed_mind"}
    assert policy.photo_required == {"damaged"} and policy.not_received_after_days == 12
    assert policy.version.startswith("v")
    assert policies.for_shop(db.get(Shop, shop_b.id)).version == "default-1"

    refused = client.post("/admin/resolutions/policy", follow_redirects=False,
                          data=_policy_form(session_token(shop_a.domain), partial_refund_percent="250"))
    assert "Policy+not+saved" in refused.headers["location"]
    assert client.post("/admin/resolutions/policy", data=_policy_form("")).status_code == 401
