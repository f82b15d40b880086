"""The order page: held banner and its actions, the proof view's chain check, French."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from app.db import get_engine
from app.evidence.models import EvidenceEvent
from app.suppliers import ordering
from app.suppliers.models import SupplierOrder
from app.suppliers.tables import OrderFlag
from tests.factories import session_token
from tests.notifications.helpers import add_shipment, paid_order


@pytest.fixture
def pages(app) -> TestClient:
    return TestClient(app)


@pytest.fixture
def held(db, shop):
    order = paid_order(db, shop, number=6100)
    ordering.raise_flag(db, shop, order, "review", "the order's risk is high: check it", {"policy": "review"})
    db.commit()
    return order


def _post(pages, shop, path, **fields):
    return pages.post(path, data={"id_token": session_token(shop.domain), **fields}, follow_redirects=False)


def test_a_held_order_says_why_and_offers_the_fix(pages, auth_headers, shop, held):
    html = pages.get(f"/admin/orders/{held.id}", headers=auth_headers(shop.domain)).text
    assert "This order is held: it has not been sent to a supplier" in html
    assert re.search(r'data-hold-kind="review"><strong>Held for review</strong>: the order&#39;s risk is high', html)
    assert f'action="/admin/orders/{held.id}/release"' in html
    assert f"/admin/orders/{held.id}/address" not in html  # a review hold is released, not fixed by an address edit


def test_release_needs_a_reason_and_records_it(db, pages, shop, held):
    refused = _post(pages, shop, f"/admin/orders/{held.id}/release", reason="ok")
    assert refused.status_code == 422 and "say why in 5 to 500 characters" in refused.text
    assert db.scalar(select(func.count()).select_from(SupplierOrder).where(SupplierOrder.order_id == held.id)) == 0
    done = _post(pages, shop, f"/admin/orders/{held.id}/release", reason="I called the customer: all fine")
    assert done.status_code == 303 and "notice=Released" in done.headers["location"]
    db.expire_all()
    overridden = db.scalar(select(EvidenceEvent).where(EvidenceEvent.order_id == held.id,
                                                       EvidenceEvent.kind == "order.hold_overridden"))
    assert overridden.source == "merchant"
    assert overridden.data == {"holds": ["review"], "reason": "I called the customer: all fine"}
    assert db.scalar(select(func.count()).select_from(SupplierOrder).where(SupplierOrder.order_id == held.id)) == 1
    # Twice: nothing more is placed.
    again = _post(pages, shop, f"/admin/orders/{held.id}/release", reason="I called the customer: all fine")
    assert again.status_code == 303 and "This+order+is+not+held." in again.headers["location"]
    assert db.scalar(select(func.count()).select_from(SupplierOrder).where(SupplierOrder.order_id == held.id)) == 1


def test_an_address_edit_that_the_supplier_cannot_use_is_refused_with_the_field(db, pages, shop):
    order = paid_order(db, shop, number=6200)
    ordering.raise_flag(db, shop, order, "address", "phone '123' is not a valid number for US", {"fields": ["phone"]})
    db.commit()
    html = pages.get(f"/admin/orders/{order.id}", headers={"Authorization": f"Bearer {session_token(shop.domain)}"}).text
    assert 'id="fix-phone"' in html and f'action="/admin/orders/{order.id}/address"' in html
    refused = _post(pages, shop, f"/admin/orders/{order.id}/address", phone="12", zip="ABC")
    assert refused.status_code == 422
    assert re.search(r'id="fix-phone-error">phone &#39;12&#39; is not a valid number for US', refused.text)
    assert 'id="fix-zip-error">postcode &#39;ABC&#39; does not match the US format' in refused.text
    assert 'value="ABC"' in refused.text  # the merchant's input is kept to correct
    assert db.scalar(select(func.count()).select_from(EvidenceEvent).where(
        EvidenceEvent.order_id == order.id, EvidenceEvent.kind.like("store.mutation%"))) == 0  # store not called


def test_review_queue_order_now_for_an_address_hold_uses_the_same_check(db, pages, shop):
    order = paid_order(db, shop, number=6300)
    ordering.raise_flag(db, shop, order, "address", "the city is missing", {"fields": ["city"]})
    db.commit()
    flag = db.scalar(select(OrderFlag).where(OrderFlag.order_id == order.id))
    # The stored address is fine (corrected in the store admin): "Fixed: order now" places it.
    response = _post(pages, shop, f"/admin/review/{flag.id}/release")
    assert response.status_code == 303 and "Address+fixed" in response.headers["location"]
    db.expire_all()
    assert db.get(OrderFlag, flag.id).resolved_at is not None
    assert db.scalar(select(func.count()).select_from(SupplierOrder).where(SupplierOrder.order_id == order.id)) == 1


def test_proof_names_a_changed_event(db, pages, auth_headers, shop):
    order = paid_order(db, shop, number=6400)
    add_shipment(db, order)
    target = db.scalar(select(EvidenceEvent.id).where(EvidenceEvent.order_id == order.id).order_by(EvidenceEvent.seq))
    seq = db.get(EvidenceEvent, target).seq
    with get_engine().begin() as connection:
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text("UPDATE evidence_events SET data = jsonb_set(data, '{total}', '\"0.01\"') WHERE id = :id"),
                           {"id": target})
    html = pages.get(f"/admin/orders/{order.id}/proof", headers=auth_headers(shop.domain)).text
    assert 'data-chain-intact="no"' in html and "Chain check failed" in html
    assert f"#{seq}: content does not match its digest" in html


def test_french_order_page(pages, shop, held):
    token = session_token(shop.domain)
    html = pages.get(f"/admin/orders/{held.id}?id_token={token}&shop={shop.domain}&locale=fr").text
    assert "Cette commande est en attente" in html and "Chronologie" in html
    assert "Commande reçue de la boutique" in html and "Mise en attente pour votre vérification" in html


def test_every_catalogue_kind_has_a_label_in_each_language():
    from app.dashboard.order_page import kind_labels
    from app.evidence.kinds import KINDS

    for locale in ("en", "fr"):
        labels = kind_labels(locale)
        assert {kind.label_key for kind in KINDS.values()} - set(labels) == set(), locale
        assert all(label and "_" not in label for label in labels.values()), locale


def test_claims_card_in_the_merchants_words(db, pages, auth_headers, shop):
    from decimal import Decimal

    from app.resolutions.models import Resolution

    order = paid_order(db, shop, number=6500)
    db.add(Resolution(shop_id=shop.id, order_id=order.id, reason="damaged", status="pending_review", locale="en",
                      policy_version="v1", policy_digest="d", remedy="partial_refund", amount=Decimal("12.00"),
                      currency="USD"))
    db.commit()
    html = pages.get(f"/admin/orders/{order.id}", headers=auth_headers(shop.domain)).text
    card = re.search(r'<section class="card padded" id="claims">(.*?)</section>', html, re.S).group(1)
    assert "Damaged" in card and "Waiting for you" in card and "Partial refund · $12.00" in card
    assert "pending_review" not in card.replace('data-claim="pending_review"', "")
