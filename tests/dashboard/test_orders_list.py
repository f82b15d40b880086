"""The orders list: search, filters, sorting, keyset pages, and bad links answered with a reason."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.db import utcnow
from app.disputes.models import Dispute
from app.orders.models import Customer, Order
from app.risk.models import RiskScore
from app.suppliers.tables import OrderFlag
from tests.factories import session_token
from tests.notifications.helpers import add_shipment, paid_order


@pytest.fixture
def pages(app) -> TestClient:
    return TestClient(app)


def listed(pages, shop, **params) -> tuple[int, str, list[str]]:
    query = {"id_token": session_token(shop.domain), "shop": shop.domain, **params}
    response = pages.get("/admin/orders", params=query)
    names = re.findall(r'<tr data-order-id="\d+">\s*<td><a [^>]*>([^<]+)</a>', response.text)
    return response.status_code, response.text, names


@pytest.fixture
def shop_orders(db, make_shop):
    shop, other = make_shop(name="Mine"), make_shop(name="Theirs")
    now = utcnow()
    orders = []
    for i in range(7):
        order = paid_order(db, shop, number=5000 + i, email=f"buyer{i}@example.com", country="FR" if i % 2 else "US")
        db.execute(update(Order).where(Order.id == order.id).values(
            created_at=now - timedelta(days=10 - i), total_price=Decimal(10 + i)))
        orders.append(order)
    db.execute(update(Customer).where(Customer.id == orders[3].customer_id).values(first_name="Grace", last_name="Hopper"))
    db.commit()
    add_shipment(db, orders[2], tracking_number="LX999000111CN", carrier="China Post")
    db.add(OrderFlag(shop_id=shop.id, order_id=orders[4].id, kind="address", reason="no phone", data={}))
    db.add(RiskScore(order_id=orders[5].id, shop_id=shop.id, probability=0.91, level="high", reasons=[], features={},
                     model_kind="rules", model_version="r1", trigger="paid", digest="d", scored_at=now))
    db.add(Dispute(shop_id=shop.id, order_id=orders[6].id, external_id="dp-1", status="needs_response"))
    db.commit()
    paid_order(db, other, number=5003, email="other@example.com")
    return shop, orders


def test_newest_first_and_only_this_shop(pages, shop_orders):
    shop, orders = shop_orders
    status, html, names = listed(pages, shop)
    assert status == 200
    assert names == [f"#{5000 + i}" for i in reversed(range(7))]
    assert html.count("#5003") == 1  # the other shop's #5003 is not listed


@pytest.mark.parametrize(("search", "expected"), [
    ("#5001", ["#5001"]), ("5001", ["#5001"]), ("buyer5@example", ["#5005"]), ("BUYER5@EXAMPLE.COM", ["#5005"]),
    ("grace hop", ["#5003"]), ("LX999000111CN", ["#5002"]), ("lx999000111cn", ["#5002"]), ("nobody", []),
    ("100%_", []),
])
def test_search(pages, shop_orders, search, expected):
    shop, _ = shop_orders
    status, html, names = listed(pages, shop, q=search)
    assert status == 200
    assert names == expected
    if not expected:
        assert "No orders match these filters." in html


@pytest.mark.parametrize(("params", "expected"), [
    ({"held": "yes"}, ["#5004"]), ({"at_risk": "yes"}, ["#5005"]), ({"disputed": "yes"}, ["#5006"]),
    ({"country": "FR"}, ["#5005", "#5003", "#5001"]), ({"carrier": "china post"}, ["#5002"]),
    ({"status": "paid", "country": "US", "disputed": "no"}, ["#5004", "#5002", "#5000"]),
    ({"claim_open": "yes"}, []),
])
def test_filters(pages, shop_orders, params, expected):
    shop, _ = shop_orders
    status, _, names = listed(pages, shop, **params)
    assert status == 200
    assert names == expected


def test_held_badge_and_date_range(pages, shop_orders):
    shop, orders = shop_orders
    status, html, names = listed(pages, shop, held="yes")
    assert re.search(rf'data-order-id="{orders[4].id}">.*?data-held', html, re.S)
    day = (utcnow() - timedelta(days=8)).date().isoformat()
    status, _, names = listed(pages, shop, **{"from": day, "to": day})
    assert names == ["#5002"]


def test_sort_and_keyset_pages_both_ways(pages, shop_orders, monkeypatch):
    from app.dashboard import orders_list

    shop, _ = shop_orders
    monkeypatch.setattr(orders_list, "PAGE_SIZE", 3)
    seen, html = [], listed(pages, shop, sort="total_low")[1]
    seen += re.findall(r'<tr data-order-id="\d+">\s*<td><a [^>]*>([^<]+)</a>', html)
    pages_read = [list(seen)]
    while (nxt := re.search(r'rel="next" href="([^"]+)"', html)):
        html = pages.get(nxt.group(1).replace("&amp;", "&")).text
        rows = re.findall(r'<tr data-order-id="\d+">\s*<td><a [^>]*>([^<]+)</a>', html)
        pages_read.append(rows)
        seen += rows
    assert seen == [f"#{5000 + i}" for i in range(7)]
    assert [len(p) for p in pages_read] == [3, 3, 1]
    assert "OFFSET" not in str(orders_list.page_select(shop, orders_list.parse({"sort": "total_low"})[0]))
    back = re.search(r'rel="prev" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    html = pages.get(back).text
    assert re.findall(r'<tr data-order-id="\d+">\s*<td><a [^>]*>([^<]+)</a>', html) == ["#5003", "#5004", "#5005"]


@pytest.mark.parametrize(("params", "message"), [
    ({"status": "teleported"}, "Status: “teleported” is not one of the choices."),
    ({"held": "maybe"}, "Held: “maybe” is not one of the choices."),
    ({"country": "ZZ"}, "Country: “ZZ” is not a country code"),
    ({"from": "2026-13-45"}, "From: “2026-13-45” is not a date"),
    ({"from": "2026-05-02", "to": "2026-05-01"}, "To: the end date is before the start date."),
    ({"after": "!!not-a-cursor"}, "Page: the page link is not valid any more"),
    ({"sort": "random"}, "Sort: “random” is not one of the choices."),
    ({"supplier": "999999"}, "Supplier: “999999” is not one of the choices."),
    ({"q": "x" * 500}, "Search: a search is at most 120 characters."),
])
def test_bad_values_say_why_and_never_fail(pages, shop_orders, params, message):
    shop, _ = shop_orders
    status, html, names = listed(pages, shop, **params)
    assert status == 200
    assert message in html
    assert len(names) == 7  # the unreadable part is left out, the rest applies


def test_french(pages, shop_orders):
    shop, _ = shop_orders
    _, html, _ = listed(pages, shop, locale="fr", status="nope")
    assert "Rechercher des commandes" in html and "ne fait pas partie des choix" in html
