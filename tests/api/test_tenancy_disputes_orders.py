"""Tenant isolation for the dispute, outcome, branding and order-fix routes: shop B's session token
with shop A's ids finds nothing and changes nothing (a 404 exactly like a missing id)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.disputes.models import Dispute
from app.evidence.models import EvidenceEvent
from app.orders.models import Order
from app.outbox.models import OutboxMessage
from app.shops.models import Shop
from app.suppliers import ordering
from tests.disputes.scenario import delivered_with_partial_refund
from tests.factories import session_token
from tests.suppliers.helpers import paid_order

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")


def _bearer(shop: Shop) -> dict[str, str]:
    return {"Authorization": f"Bearer {session_token(shop.domain)}"}


def _form(shop: Shop, **fields: str) -> dict[str, str]:
    return {"id_token": session_token(shop.domain), **fields}


def test_another_shops_dispute_is_not_found_anywhere(db, shop, make_shop, client, post_webhook):
    _, _, payload = delivered_with_partial_refund(db, shop, client, post_webhook)
    dispute = db.scalar(select(Dispute).where(Dispute.external_id == str(payload["id"])))
    other = make_shop()
    for path in (f"/api/disputes/{dispute.id}", f"/api/disputes/{dispute.id}/evidence.pdf",
                 f"/api/disputes/{dispute.id}/evidence-export.json"):
        assert client.get(path, headers=_bearer(other)).status_code == 404, path
        assert client.get(path, headers=_bearer(shop)).status_code == 200, path
    listed = client.get("/api/disputes", headers=_bearer(other))
    assert listed.status_code == 200 and dispute.external_id not in listed.text
    assert dispute.external_id in client.get("/api/disputes", headers=_bearer(shop)).text
    token = session_token(other.domain)
    for path in (f"/admin/disputes/{dispute.id}/evidence.pdf", f"/admin/disputes/{dispute.id}/evidence-export.json"):
        assert client.get(f"{path}?id_token={token}").status_code == 404, path

    # Their posts change nothing of shop A's dispute.
    edited = client.post(f"/admin/disputes/{dispute.id}/narrative",
                         data=_form(other, text="not theirs", action="save"), follow_redirects=False)
    submitted = client.post(f"/admin/disputes/{dispute.id}/submit", data=_form(other), follow_redirects=False)
    assert edited.status_code == 404 and submitted.status_code == 404
    db.expire_all()
    assert db.get(Dispute, dispute.id).narrative is None
    assert db.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.task_name == "disputes.submit")) == 0


def test_another_shops_order_proof_and_fixes_are_not_found(db, shop, make_shop, client):
    order = paid_order(db, shop, number=7301)
    ordering.raise_flag(db, shop, order, "review", "the order's risk is high: check it", {"policy": "review"})
    db.commit()
    before = db.scalar(select(func.count()).select_from(EvidenceEvent).where(EvidenceEvent.order_id == order.id))
    other = make_shop()
    token = session_token(other.domain)
    assert client.get(f"/admin/orders/{order.id}/proof?id_token={token}").status_code == 404
    assert client.get(f"/admin/orders/{order.id}/proof?id_token={session_token(shop.domain)}").status_code == 200
    for path, fields in ((f"/admin/orders/{order.id}/address", {"phone": "+12175550123"}),
                         (f"/admin/orders/{order.id}/order-now", {}),
                         (f"/admin/orders/{order.id}/release", {"reason": "not theirs to release"})):
        answer = client.post(path, data=_form(other, **fields), follow_redirects=False)
        assert answer.status_code == 404, (path, answer.status_code)
    db.expire_all()
    assert db.get(Order, order.id).status == order.status
    assert db.scalar(select(func.count()).select_from(EvidenceEvent).where(
        EvidenceEvent.order_id == order.id)) == before


def test_branding_is_each_shops_own(db, make_shop, client):
    mine, theirs = make_shop(name="Lumen"), make_shop(name="Atelier")
    saved = client.post("/admin/notifications/branding", data=_form(mine, display_name="Lumen Paris", colour="#aa3300"),
                        follow_redirects=False)
    assert saved.status_code == 303, saved.text
    # A shop named by the client is ignored: the token decides.
    page = client.get(f"/admin/notifications/branding?id_token={session_token(theirs.domain)}&shop={mine.domain}")
    assert page.status_code == 200 and "Lumen Paris" not in page.text
    db.expire_all()
    assert "branding" not in (db.get(Shop, theirs.id).settings or {})
    assert (db.get(Shop, mine.id).settings or {}).get("branding")


def test_ratios_and_digest_check_are_each_shops_own(db, shop, make_shop, client):
    from app.alerts.models import ChainDigest

    paid_order(db, shop, number=7302)
    db.commit()
    other = make_shop()
    ratios = client.get(f"/admin/outcomes/ratios?id_token={session_token(other.domain)}")
    assert ratios.status_code == 200 and shop.domain not in ratios.text
    checked = client.post("/admin/outcomes/digests/check", data=_form(other), follow_redirects=False)
    assert checked.status_code == 303
    assert db.scalar(select(func.count()).select_from(ChainDigest).where(ChainDigest.shop_id == shop.id)) == 0
    assert db.scalar(select(func.count()).select_from(EvidenceEvent).where(
        EvidenceEvent.shop_id == shop.id, EvidenceEvent.kind == "ledger.digest_check_failed")) == 0
