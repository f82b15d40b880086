"""Merchant pages: session-token auth, only the shop's own orders, evidence timeline per order."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from app.db import utcnow
from app.history.models import HistoryImport
from app.shops.service import uninstall
from tests.factories import session_token
from tests.notifications.helpers import add_shipment, paid_order, schedule_held


@pytest.fixture
def pages(app) -> Iterator[TestClient]:
    yield TestClient(app)


@pytest.fixture
def two_shops(db, make_shop):
    mine, theirs = make_shop(name="Mine"), make_shop(name="Theirs")
    my_order = paid_order(db, mine, number=710001)
    add_shipment(db, my_order, tracking_number="LX123456785CN", carrier="China Post")
    schedule_held(db, my_order)
    their_order = paid_order(db, theirs, number=720002)
    return mine, my_order, theirs, their_order


def test_requires_a_session_token(pages, shop):
    response = pages.get("/admin")
    assert response.status_code == 401
    assert "Open Dropguard from your store admin" in response.text
    forged = session_token(shop.domain, secret="not-the-app-secret")
    assert pages.get(f"/admin?id_token={forged}").status_code == 401
    expired = session_token(shop.domain, exp=1, nbf=0, iat=0)
    assert pages.get("/admin", headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    reopen = pages.get(f"/admin?shop={shop.domain}")
    assert f"/sandbox/shopify/{shop.domain}/admin" in reopen.text


def test_lists_only_the_shops_own_orders(pages, two_shops):
    mine, my_order, _, their_order = two_shops
    response = pages.get(f"/admin/orders?id_token={session_token(mine.domain)}&shop={mine.domain}")
    assert response.status_code == 200, response.text
    html = response.text
    assert my_order.name in html and their_order.name not in html
    row = re.search(rf'<tr data-order-id="{my_order.id}">(.*?)</tr>', html, re.S).group(1)
    assert "Paid" in row and "$39.80" in row
    assert "LX123456785CN" in row and "China Post" in row
    assert "shipped" in row  # the supplier order's status
    assert f'href="/admin/orders/{my_order.id}?id_token=' in row
    assert '<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js" data-api-key="test-api-key">' in html
    assert '<meta name="shopify-api-key" content="test-api-key">' in html
    assert f"frame-ancestors https://{mine.domain} https://admin.shopify.com" in response.headers["content-security-policy"]


def test_order_page_reads_as_a_merchant_and_the_proof_keeps_the_ledger(pages, auth_headers, two_shops):
    mine, my_order, _, _ = two_shops
    response = pages.get(f"/admin/orders/{my_order.id}", headers=auth_headers(mine.domain))
    assert response.status_code == 200, response.text
    html = response.text
    stages = re.findall(r'data-stage="([a-z]+)"', html)
    assert stages == ["order", "messages"]  # grouped by stage, in the catalogue's order
    moments = re.findall(r"<span data-moment>([^<]+)</span>", html)
    assert moments == ["Order received from the store", "Customer e-mail scheduled"]
    assert "order.snapshot_applied" not in html and "notification.queued" not in html  # no internal names
    assert "{&#34;" not in html and '{"' not in html  # no raw JSON
    assert "LX123456785CN" in html and "China Post" in html
    assert "Ada Lovelace" in html and "12 Analytical Row" in html and "+12175550123" in html
    proof = pages.get(f"/admin/orders/{my_order.id}/proof", headers=auth_headers(mine.domain)).text
    rows = re.findall(r'<tr data-seq="(\d+)">.*?<span class="mono muted">([a-z_.]+)</span>', proof, re.S)
    assert [kind for _, kind in rows] == ["order.snapshot_applied", "notification.queued"]
    seqs = [int(seq) for seq, _ in rows]
    assert seqs == sorted(seqs)
    assert re.search(r'<td class="mono" title="recorded [^"]+">[0-9a-f]{12}</td>', proof)
    assert 'data-chain-intact="yes"' in proof and "Chain check passed: the 2 events of this order" in proof
    assert "Personal data: kept" in proof and "ada@example.com" not in proof


def test_another_shops_order_is_not_found(pages, auth_headers, two_shops):
    mine, _, theirs, their_order = two_shops
    response = pages.get(f"/admin/orders/{their_order.id}", headers=auth_headers(mine.domain))
    assert response.status_code == 404
    assert their_order.name not in response.text
    assert pages.get(f"/admin/orders/{their_order.id}", headers=auth_headers(theirs.domain)).status_code == 200
    assert pages.get("/admin/orders/99999999999", headers=auth_headers(mine.domain)).status_code == 404
    assert pages.get("/admin/orders/not-a-number", headers=auth_headers(mine.domain)).status_code == 422


def test_uninstalled_shop_is_refused(db, pages, auth_headers, shop):
    uninstall(db, shop)
    db.commit()
    assert pages.get("/admin", headers=auth_headers(shop.domain)).status_code == 401


def test_opening_the_app_from_the_sandbox_admin_lands_on_home(pages, two_shops):
    mine, _, _, _ = two_shops
    response = pages.get(f"/sandbox/shopify/{mine.domain}/admin")  # the URL `make run` prints
    assert response.status_code == 200, response.text
    assert response.url.path == "/admin" and response.url.params["shop"] == mine.domain
    assert 'id="attention"' in response.text and 'id="setup"' in response.text


def test_orders_page_shows_only_the_shops_own_history_import(db, pages, two_shops):
    mine, _, theirs, _ = two_shops
    response = pages.get(f"/admin/orders?id_token={session_token(mine.domain)}")
    assert 'id="history-import"' not in response.text  # nothing started: no card
    since = utcnow() - timedelta(days=30)
    db.add(HistoryImport(shop_id=mine.id, status="running", since=since, orders_total=40, orders_seen=10,
                         orders_imported=9, refunds=2, fulfillments=7, disputes=1, started_at=utcnow()))
    db.add(HistoryImport(shop_id=theirs.id, status="failed", since=since, orders_total=80, orders_seen=60,
                         orders_imported=60, refunds=0, fulfillments=0, disputes=0, started_at=utcnow(),
                         error="the store refused the token"))
    db.commit()
    html = pages.get(f"/admin/orders?id_token={session_token(mine.domain)}&shop={theirs.domain}").text
    card = re.search(r'<section class="card" id="history-import"(.*?)</section>', html, re.S).group(1)
    assert 'data-history-status="running"' in card and "25%" in card
    assert "10 of 40 orders" in card and "9 imported, 2 refunds, 7 fulfilments, 1 disputes" in card
    assert "Started" in card and "Finished" not in card and "refused" not in html
    html = pages.get(f"/admin/orders?id_token={session_token(theirs.domain)}").text
    assert 'data-history-status="failed"' in html and "the store refused the token" in html and "75%" in html
