"""Features are time-safe: what an order's features say as of its moment ignores every event after
it (later orders, outcomes, assignments, delays), and the live path computes what the sweep does."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from app.db import utcnow
from app.disputes import service as disputes
from app.orders.service import apply_snapshot
from app.risk import history, service, training
from app.risk.features import FEATURES, OrderFacts, Outcome, sweep
from app.risk.models import RiskSignal
from tests.factories import order_payload

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _order(order_id: int, at: datetime, *, customer: int | None = 1, destination: str = "BR",
           products: tuple[str, ...] = ("p1",), **facts) -> OrderFacts:
    return OrderFacts(order_id=order_id, placed_at=at, customer_id=customer, destination=destination, value=40.0,
                      quantity=1, facts=facts, products=products)


def _features_of(orders, outcomes, target: OrderFacts, at: datetime) -> list[float]:
    features, _ = sweep(orders, outcomes, landmarks={target.order_id: [at]})
    return features[(target.order_id, at)][0]


def test_an_orders_features_ignore_everything_after_its_moment():
    earlier = [_order(i, T0 - timedelta(days=40 - i)) for i in range(1, 6)]
    outcomes = {1: Outcome(T0 - timedelta(days=20), T0 - timedelta(days=20), None),
                2: Outcome(T0 - timedelta(days=10), None, T0 - timedelta(days=10))}
    target = _order(100, T0)
    target.supplier = ("7", T0 + timedelta(hours=2))
    target.carrier = ("china post", T0 + timedelta(days=3))
    target.events = [(T0 + timedelta(days=6), "no_first_scan"), (T0 + timedelta(days=9), "complaint")]
    before = _features_of(earlier + [target], outcomes, target, T0)

    # Everything that happens from the order's moment on: more orders of the same customer,
    # product and destination, their refunds and disputes, the order's own dispute, an outcome of
    # an earlier order that only became known later, and an order placed at the very same instant.
    later = [_order(200 + i, T0 + timedelta(days=i + 1)) for i in range(10)]
    same_instant = _order(300, T0)
    more = dict(outcomes)
    more.update({200 + i: Outcome(T0 + timedelta(days=i + 2), T0 + timedelta(days=i + 2), None) for i in range(10)})
    more[100] = Outcome(T0 + timedelta(days=30), None, T0 + timedelta(days=30))
    more[3] = Outcome(T0 + timedelta(days=1), T0 + timedelta(days=1), None)
    after = _features_of(earlier + [target, same_instant] + later, more, target, T0)
    assert after == before

    # And the test can fail: the same kind of event one day *before* the order does change them.
    more[3] = Outcome(T0 - timedelta(days=1), T0 - timedelta(days=1), None)
    changed = _features_of(earlier + [target] + later, more, target, T0)
    named = dict(zip(FEATURES, changed, strict=True))
    assert changed != before
    assert named["prior_refunds"] > dict(zip(FEATURES, before, strict=True))["prior_refunds"]


def test_later_landmarks_see_what_happened_by_then_and_nothing_more():
    target = _order(1, T0)
    target.supplier = ("7", T0 + timedelta(hours=2))
    target.events = [(T0 + timedelta(days=6), "no_first_scan"), (T0 + timedelta(days=20), "complaint")]
    features, _ = sweep([target], {}, landmarks={1: [T0, T0 + timedelta(days=14)]})
    at_placement = dict(zip(FEATURES, features[(1, T0)][0], strict=True))
    two_weeks = dict(zip(FEATURES, features[(1, T0 + timedelta(days=14))][0], strict=True))
    assert at_placement["no_first_scan"] == 0 and two_weeks["no_first_scan"] == 1
    assert two_weeks["complaint"] == 0  # the complaint came after day 14


def _apply(db, shop, *, created: datetime, customer_id: int, country: str = "BR", **kwargs):
    payload = order_payload(financial_status="pending", updated_at=created, country=country, **kwargs)
    payload["created_at"] = created.isoformat()
    payload["customer"]["id"] = customer_id
    order, _ = apply_snapshot(db, shop, "orders/create", payload)
    return order, payload


def test_the_database_history_is_loaded_without_leaking_the_future(db, make_shop):
    shop = make_shop()
    customer = 880_000 + uuid.uuid4().int % 1000
    start = utcnow() - timedelta(days=100)
    first, first_payload = _apply(db, shop, created=start, customer_id=customer)
    target, _ = _apply(db, shop, created=start + timedelta(days=30), customer_id=customer)
    # Before the target: the first order was refunded (the store's snapshot says so).
    refunded = dict(first_payload, financial_status="refunded", updated_at=(start + timedelta(days=20)).isoformat())
    apply_snapshot(db, shop, "orders/updated", refunded)
    training.refresh(db, shop)
    db.commit()

    def features() -> list[float]:
        orders = history.load(db, shop.id)
        facts = next(o for o in orders if o.order_id == target.id)
        return _features_of(orders, history.shop_outcomes(db, shop.id), facts, facts.placed_at)

    before = features()
    assert dict(zip(FEATURES, before, strict=True))["prior_refunds"] == 1.0
    # After the target: a dispute on it and on the first order, and a new refunded order.
    for order in (target, first):
        disputes.upsert(db, shop, {"id": uuid.uuid4().int % 10**9, "order_id": order.external_id,
                                   "status": "needs_response", "reason": "fraudulent", "amount": "39.80",
                                   "initiated_at": (start + timedelta(days=45)).isoformat()})
    late, late_payload = _apply(db, shop, created=start + timedelta(days=50), customer_id=customer)
    apply_snapshot(db, shop, "orders/updated", dict(late_payload, financial_status="refunded",
                                                    updated_at=(start + timedelta(days=55)).isoformat()))
    training.refresh(db, shop)
    db.commit()
    assert features() == before


def test_the_live_score_computes_what_the_sweep_computes(db, make_shop):
    shop = make_shop()
    customer = 990_000 + uuid.uuid4().int % 1000
    start = utcnow() - timedelta(days=20)
    for day in range(0, 15, 3):
        order, payload = _apply(db, shop, created=start + timedelta(days=day), customer_id=customer + day)
        if day % 2 == 0:
            apply_snapshot(db, shop, "orders/updated", dict(payload, financial_status="refunded",
                                                            updated_at=(start + timedelta(days=day + 1)).isoformat()))
    training.refresh(db, shop)
    new, _ = _apply(db, shop, created=utcnow() - timedelta(minutes=1), customer_id=customer + 99, country="BR")
    db.commit()
    placed_at = db.get(RiskSignal, new.id).placed_at
    live = service.compute(db, new, at=placed_at)
    orders = history.load(db, shop.id)
    facts = next(o for o in orders if o.order_id == new.id)
    swept = _features_of(orders, history.shop_outcomes(db, shop.id), facts, placed_at)
    assert [live.features[name] for name in FEATURES] == [round(v, 4) for v in swept]
    assert live.features["destination_rate"] > 0  # Brazil's refunds are in the live counts


def test_an_imported_dispute_without_a_time_is_a_label_dated_when_we_learned_it(db, make_shop):
    from app.disputes.models import Dispute
    from app.risk import outcomes

    shop = make_shop()
    order, _ = _apply(db, shop, created=utcnow() - timedelta(days=200), customer_id=uuid.uuid4().int % 10**6)
    # As the history import stores it: the store's dispute id and status, no initiation time.
    db.add(Dispute(shop_id=shop.id, order_id=order.id, external_id=str(uuid.uuid4().int % 10**9), status="lost"))
    db.flush()
    outcomes.collect(db, shop)
    fact = outcomes.by_order(db, shop.id)[order.id]
    assert fact.untimed_bad and fact.first_bad_at > utcnow() - timedelta(minutes=5)  # when we learned it
    facts = next(o for o in history.load(db, shop.id) if o.order_id == order.id)
    assert training._label(facts, history.shop_outcomes(db, shop.id)[order.id], 60) == 1
    db.rollback()
