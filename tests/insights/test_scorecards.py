"""Scorecards and analytics against figures computed by hand from a generated history.

Eight orders of two suppliers, to two countries, each driven through the real paths (see
history.py). Times are relative to now: the SLA's tracking condition is judged against when the
tracking number reached us, which in a generated history is the moment of the test.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import utcnow
from app.insights import advice, aggregates, analytics, queries, scorecards
from app.insights.facts import month_of
from app.insights.queries import Filters
from tests.factories import session_token
from tests.insights.history import History, money
from tests.notifications import helpers as notification_helpers

smtp_catcher = notification_helpers.smtp_catcher
H = timedelta(hours=1)
D = timedelta(days=1)


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app)


@pytest.fixture
def history(db, client, shop):
    h = History(db, client, shop)
    h.supplier("Alpha")
    h.supplier("Bravo")
    h.map_products([(8001, "Alpha", "10.00"), (8002, "Bravo", "25.00")])
    return h


def _life(h: History, *, T, country, product, price, confirm, ship, scan, end, end_step="delivered"):
    order = h.order(placed_at=T, country=country, product=product, price=price)
    h.place(order, T)
    h.confirm(order, T + confirm)
    number = h.ship(order, T + ship)
    steps = [("picked_up", T + scan)]
    if end_step == "delivered":
        h.scans(number, [*steps, ("delivered", T + end)])
    else:  # two reports, as a carrier sends them: on its way back, then back at the sender
        h.scans(number, [*steps, ("returning", T + end)])
        h.scans(number, [*steps, ("returning", T + end), ("returned", T + end + H)])
    return order


def _build(h: History):
    T = (utcnow() - 6 * D).replace(microsecond=0)
    a = [
        _life(h, T=T, country="US", product=1, price="50.00", confirm=2 * H, ship=1 * D, scan=2 * D, end=4 * D),
        _life(h, T=T, country="US", product=1, price="50.00", confirm=4 * H, ship=2 * D, scan=3 * D, end=5 * D),
        _life(h, T=T, country="DE", product=1, price="50.00", confirm=6 * H, ship=1 * D, scan=2 * D, end=5.5 * D),
        _life(h, T=T, country="DE", product=1, price="50.00", confirm=2 * H, ship=1 * D, scan=2 * D, end=3 * D),
    ]
    b = [
        _life(h, T=T, country="US", product=2, price="60.00", confirm=30 * H, ship=5.5 * D, scan=5.6 * D, end=5.9 * D),
        _life(h, T=T, country="US", product=2, price="60.00", confirm=10 * H, ship=2 * D, scan=2.5 * D, end=3 * D,
              end_step="returning"),
        _life(h, T=T, country="DE", product=2, price="60.00", confirm=26 * H, ship=3 * D, scan=3.5 * D, end=4.5 * D),
        _life(h, T=T, country="DE", product=2, price="60.00", confirm=20 * H, ship=4 * D, scan=4.5 * D, end=5.5 * D),
    ]
    h.dispute(a[3], reason="product_not_received", amount="40.00", at=T + 5 * D)
    h.dispute(b[3], reason="product_unacceptable", amount="60.00", at=T + 5.8 * D)
    h.claim(b[2], "damaged", accept="partial_refund", message="The glass top arrived cracked")
    h.claim(b[3], "not_as_described", deny=True, message="Nothing like the photos")
    h.refresh()
    return T, a, b


def test_supplier_scorecards_match_hand_computed_figures(db, history, shop):
    T, a, b = _build(history)
    cards = {c.supplier: c for c in scorecards.scorecards(db, shop.id)}
    alpha, bravo = cards["Alpha"], cards["Bravo"]

    assert alpha.orders == bravo.orders == 4
    assert alpha.confirm_hours == pytest.approx((2 + 4 + 6 + 2) / 4)
    assert alpha.ship_days == pytest.approx((1 + 2 + 1 + 1) / 4)
    assert alpha.first_scan_days == pytest.approx(1.0)
    assert alpha.delivery_days_mean == pytest.approx((4 + 5 + 5.5 + 3) / 4, abs=0.006)  # shown to 2 decimals
    # Whole days 3, 4, 5, 5: nearest rank.
    assert (alpha.delivery_days_p50, alpha.delivery_days_p90) == (4, 5)
    assert alpha.on_time_rate == 1.0 and alpha.sla_decided == 4
    assert alpha.loss_rate == 0 and alpha.exception_rate == 0
    assert alpha.dispute_rate == 0.25 and alpha.dispute_cents == money("40.00")
    assert alpha.disputes_by_reason == {"product_not_received": 1}
    assert alpha.revenue_cents == money("200.00") and alpha.cost_cents == money("40.00")
    assert alpha.margin_cents == money("200.00") - money("40.00") - money("40.00")
    assert alpha.claim_rate == 0

    assert bravo.confirm_hours == pytest.approx((30 + 10 + 26 + 20) / 4)
    assert bravo.ship_days == pytest.approx((5.5 + 2 + 3 + 4) / 4, abs=0.006)
    assert bravo.first_scan_days == pytest.approx((0.1 + 0.5 + 0.5 + 0.5) / 4, abs=0.006)
    assert bravo.delivery_days_mean == pytest.approx((5.9 + 4.5 + 5.5) / 3, abs=0.006)
    assert (bravo.delivery_days_p50, bravo.delivery_days_p90) == (5, 5)  # 4, 5, 5 (one never delivered)
    # b1 confirmed 30 h and shipped 5.5 d after placing, b3 confirmed after 26 h: SLA 24 h / 5 d.
    assert bravo.on_time_rate == 0.5
    assert bravo.loss_rate == 0.25 and bravo.exception_rate == 0.25  # returned to sender
    assert bravo.dispute_rate == 0.25 and bravo.dispute_cents == money("60.00")
    assert bravo.claim_rate == 0.5
    assert bravo.margin_cents == money("240.00") - money("100.00") - money("60.00")
    # Ranking: the problems' cost share of revenue, 60/240 before 40/200.
    ranked = [c.supplier for c in scorecards.scorecards(db, shop.id)]
    assert ranked == ["Bravo", "Alpha"]

    by_lane = {(c.supplier, c.destination): c for c in scorecards.scorecards(db, shop.id, by_destination=True)}
    assert by_lane[("Bravo", "US")].on_time_rate == 0.5 and by_lane[("Bravo", "DE")].on_time_rate == 0.5
    assert by_lane[("Bravo", "US")].loss_rate == 0.5 and by_lane[("Bravo", "DE")].loss_rate == 0
    assert by_lane[("Alpha", "DE")].dispute_rate == 0.5 and by_lane[("Alpha", "US")].dispute_rate == 0

    trend = scorecards.trend(db, shop.id)
    assert {(r["supplier"], r["period"], r["orders"]) for r in trend} == {
        ("Alpha", month_of(T), 4), ("Bravo", month_of(T), 4)}


def test_refund_and_dispute_analytics_with_drill_down(db, history, shop):
    T, a, b = _build(history)
    by_destination = {r["key"]: r for r in analytics.by_dimension(db, shop.id, "destination")}
    assert by_destination["US"]["orders"] == 4 and by_destination["US"]["disputed"] == 0
    assert by_destination["DE"]["dispute_rate"] == 0.5
    assert by_destination["DE"]["dispute_cents"] == money("100.00")
    by_product = {r["label"]: r for r in analytics.by_dimension(db, shop.id, "product")}
    assert by_product["Product 2"]["claim_rate"] == 0.5 and by_product["Product 1"]["claimed"] == 0
    by_reason = {r["key"]: r for r in analytics.by_dimension(db, shop.id, "reason")}
    assert by_reason["dispute:product_unacceptable"]["rate"] == 1 / 8
    assert by_reason["dispute:product_not_received"]["cents"] == money("40.00")
    by_carrier = analytics.by_dimension(db, shop.id, "carrier")
    assert [(r["key"], r["orders"]) for r in by_carrier] == [("China Post", 8)]

    disputed = {f.order_name for f in queries.drill(db, shop.id, Filters(), outcome="dispute")}
    assert disputed == {a[3].name, b[3].name}
    assert {f.order_name for f in queries.drill(db, shop.id, Filters(), outcome="dispute",
                                                reason="product_unacceptable")} == {b[3].name}
    assert {f.order_name for f in queries.drill(db, shop.id, Filters(), outcome="lost")} == {b[1].name}
    assert {f.order_name for f in queries.drill(db, shop.id, Filters(destination="DE"), outcome="late")} == {b[2].name}

    # The claim accepted within policy is a legitimate request 1.5 days after delivery; the denied one is not.
    distribution = advice.request_distribution(db, shop.id)
    assert distribution["damaged"] == {1: {"n": 1, "legit": 1}}
    assert distribution["not_as_described"] == {0: {"n": 1, "legit": 0}}
    remedies = {r["remedy"]: r for r in advice.remedy_effect(db, shop.id)}
    assert remedies["partial_refund"]["claims"] == 1 and remedies["partial_refund"]["disputed_after"] == 0


def test_the_api_answers_the_same_figures_and_csv(client, db, history, shop, make_shop):
    _build(history)
    headers = {"Authorization": f"Bearer {session_token(shop.domain)}"}
    rows = client.get("/api/insights/scorecards", headers=headers).json()["rows"]
    assert [r["supplier"] for r in rows] == ["Bravo", "Alpha"] and rows[0]["on_time_rate"] == 0.5
    csv = client.get("/api/insights/scorecards?format=csv", headers=headers)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("supplier_id,supplier,destination,orders") and len(lines) == 3
    assert ",60.00," in lines[1]  # Bravo's disputed amount, in currency units
    drill = client.get("/api/insights/orders?outcome=lost", headers=headers).json()["rows"]
    assert len(drill) == 1
    for path in ("/api/insights/analytics?dimension=reason&format=csv", "/api/insights/trend?format=csv",
                 "/api/insights/notification-effect?format=csv", "/api/insights/orders?format=csv",
                 "/api/insights/advice?format=csv", "/api/insights/messages?format=csv"):
        response = client.get(path, headers=headers)
        assert response.status_code == 200 and response.text.count("\r\n") >= 1, path
    # Another shop sees none of it; bad filters are refused with a reason.
    other = {"Authorization": f"Bearer {session_token(make_shop().domain)}"}
    assert client.get("/api/insights/scorecards", headers=other).json()["rows"] == []
    assert client.get("/api/insights/orders?outcome=lost", headers=other).json()["rows"] == []
    bad = client.get("/api/insights/analytics?from=2026-13", headers=headers)
    assert bad.status_code == 400 and "YYYY-MM" in bad.json()["detail"]
    assert client.get("/api/insights/analytics?dimension=colour", headers=headers).status_code == 422
    assert client.get("/api/insights/orders?outcome=lost&reason=x", headers=headers).status_code == 400


def test_incremental_aggregates_equal_a_full_recomputation_after_random_events(db, history, shop):
    import random

    rng = random.Random(12)
    T = (utcnow() - 6 * D).replace(microsecond=0)
    orders = [history.order(placed_at=T + i * H, country=rng.choice(["US", "DE"]), product=rng.choice([1, 2]),
                            price=rng.choice(["20.00", "45.00", "70.00"])) for i in range(8)]
    stage = {o.id: 0 for o in orders}
    numbers: dict[int, str] = {}
    for _ in range(40):
        order = rng.choice(orders)
        step = stage[order.id]
        if step == 0:
            history.place(order, T + H)
        elif step == 1:
            history.confirm(order, T + rng.choice([2, 20, 30]) * H)
        elif step == 2:
            numbers[order.id] = history.ship(order, T + rng.choice([1, 2, 5.5]) * D)
        elif step == 3:
            history.scans(numbers[order.id], [("picked_up", T + 3 * D)])
        elif step == 4:
            history.scans(numbers[order.id], [("picked_up", T + 3 * D), ("delivered", T + rng.choice([4, 5]) * D)])
        elif step == 5:
            history.dispute(order, reason=rng.choice(["fraudulent", "product_not_received"]), amount="20.00",
                            at=T + 5 * D)
        elif step == 6:
            history.claim(order, rng.choice(["damaged", "wrong_item"]), accept=rng.choice([None, "reship"]))
        stage[order.id] = min(step + 1, 7)
        # The analytics queue: some refreshes run at once, some later, some twice, in any order.
        pending = [o.id for o in orders if rng.random() < 0.4] + [order.id] * rng.randint(0, 2)
        rng.shuffle(pending)
        history.refresh(pending)
        if rng.random() < 0.3:
            db.expire_all()
            assert aggregates.stored(db, shop.id) != {} or not pending
    history.refresh()  # the queue catches up with every order
    db.expire_all()
    expected = aggregates.expected_from_sources(db, shop.id)
    assert len(expected) > 10 and any(table == "b" for table, _ in expected)
    assert aggregates.stored(db, shop.id) == expected
    # And a rebuild from scratch lands on the same rows.
    before = aggregates.stored(db, shop.id)
    aggregates.rebuild_shop(db, shop.id)
    db.commit()
    assert aggregates.stored(db, shop.id) == before


def test_notification_effect_splits_delayed_orders_by_when_the_customer_was_told(db, history, shop, smtp_catcher):
    from app.fulfilments.models import Shipment
    from app.notifications import sending
    from app.notifications import service as notifications
    from app.notifications.models import Notification
    from app.tracking import delays
    from tests.suppliers.helpers import hold_outbox

    now = utcnow().replace(microsecond=0)
    T = now - 30 * D
    groups = {"early": now, "late": now - 2 * D, "none": now}
    orders = {}
    for group, detected_at in groups.items():
        order = history.order(placed_at=T, product=1)
        history.place(order, T)
        history.confirm(order, T + 2 * H)
        history.ship(order, T + D)  # and never scanned: "no first scan" once the days have passed
        if group == "none":
            notifications.unsubscribe(db, db.get(type(order), order.id), ip=None, user_agent=None)
            db.commit()
        shipment = db.scalars(select(Shipment).where(Shipment.order_id == order.id)).one()
        assert "no_first_scan" in delays.check(db, shipment.id, now=detected_at)
        hold_outbox(db)
        db.commit()
        # Every message of the order in turn, as the worker sends them (a later one waits for the
        # earlier ones: the delay notice never overtakes the shipping confirmation).
        for notification in db.scalars(select(Notification).where(Notification.order_id == order.id)
                                       .order_by(Notification.id)):
            sending.send(notification.id)
        orders[group] = order
    history.dispute(orders["late"], reason="product_not_received", amount="40.00", at=now)
    history.claim(orders["none"], "not_received", message="Still nothing")
    history.refresh()
    effect = {row["group"]: row for row in analytics.notification_effect(db, shop.id)}
    assert {g: effect[g]["orders"] for g in groups} == {"early": 1, "late": 1, "none": 1}
    assert (effect["late"]["disputed"], effect["late"]["dispute_rate"]) == (1, 1.0)
    assert effect["early"]["dispute_rate"] == 0 and effect["early"]["claim_rate"] == 0
    assert effect["none"]["claim_rate"] == 1.0


def test_batched_refresh_takes_the_pending_orders_once_and_lands_on_the_recomputation(db, history, shop):
    from sqlalchemy import func, text

    from app.db import get_sessionmaker
    from app.insights.models import PendingRefresh
    from app.outbox.models import OutboxMessage

    db.execute(text("DELETE FROM insights_pending_refreshes"))  # earlier tests' orders: not this one's count
    db.commit()
    T = (utcnow() - 6 * D).replace(microsecond=0)
    orders = [history.order(placed_at=T + i * H, country=("US", "DE")[i % 2], product=1 + i % 2, price="45.00")
              for i in range(5)]
    for order in orders:
        history.place(order, T + H)
        history.confirm(order, T + 3 * H)
    db.expire_all()
    # Every change left a pending row (several per order), and no per-change task.
    pending = db.scalars(select(PendingRefresh.order_id)).all()
    assert set(pending) == {o.id for o in orders} and len(pending) > len(orders)
    assert db.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.task_name == "insights.refresh_order",
        OutboxMessage.args[0].as_integer().in_([o.id for o in orders]))) == 0
    # Rows another batch holds are skipped, not waited for; rows of the same order coalesce.
    with get_sessionmaker()() as holder:
        holder.execute(text("SELECT id FROM insights_pending_refreshes ORDER BY id LIMIT 2 FOR UPDATE"))
        with get_sessionmaker()() as other:
            rest = aggregates.refresh_pending_batch(other, limit=1000)
            other.commit()
        holder.rollback()
    assert rest == len(pending) - 2
    with get_sessionmaker()() as session:
        assert aggregates.refresh_pending_batch(session) == 2
        session.commit()
    db.expire_all()
    assert db.scalars(select(PendingRefresh)).all() == []
    assert aggregates.stored(db, shop.id) == aggregates.expected_from_sources(db, shop.id) != {}
    # A batch that rolls back (a worker killed mid-batch) leaves its rows for the next one.
    history.ship(orders[0], T + 2 * D)
    with get_sessionmaker()() as doomed:
        assert aggregates.refresh_pending_batch(doomed) >= 1
        doomed.rollback()
    with get_sessionmaker()() as session:
        assert aggregates.refresh_pending_batch(session) >= 1
        session.commit()
    db.expire_all()
    assert aggregates.stored(db, shop.id) == aggregates.expected_from_sources(db, shop.id)
