"""The paid path: scoring never stops an order; a shop that reviews above risk holds what could not
be scored."""

from __future__ import annotations

from sqlalchemy import select

from app.evidence.models import EvidenceEvent
from app.risk import history
from app.suppliers import service
from app.suppliers.tables import OrderFlag
from tests.suppliers.helpers import hold_outbox, paid_order, supplier_orders


def _broken(*args, **kwargs):
    raise RuntimeError("the risk tables are unreachable")


def test_a_scoring_failure_is_recorded_and_the_order_goes_on(db, shop, monkeypatch):
    monkeypatch.setattr(history, "load_live", _broken)
    order = paid_order(db, shop)
    service.plan_for_order(db, order)
    hold_outbox(db)
    db.commit()
    assert len(supplier_orders(order.id)) == 1
    kinds = db.scalars(select(EvidenceEvent.kind).where(EvidenceEvent.order_id == order.id)).all()
    assert "risk.score_failed" in kinds and "supplier_order.planned" in kinds


def test_a_shop_reviewing_above_risk_holds_an_order_that_could_not_be_scored(db, shop, monkeypatch):
    shop.settings = {"ordering": {"policy": "review", "risk_threshold": 0.9}}
    db.commit()
    monkeypatch.setattr(history, "load_live", _broken)
    order = paid_order(db, shop)
    service.plan_for_order(db, order)
    hold_outbox(db)
    db.commit()
    assert supplier_orders(order.id) == []
    flag = db.scalar(select(OrderFlag).where(OrderFlag.order_id == order.id))
    assert flag.kind == "review" and "could not be scored" in flag.reason
