"""A year of one shop's orders with outcomes from a latent model, fed through the real webhooks:
the learned model beats the rules and is calibrated on the later held-out months."""

from __future__ import annotations

import math
import time
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import get_sessionmaker
from app.risk import service, training
from app.risk.models import RiskModel, RiskOutcome, RiskScore, RiskSignal
from app.risk.scoring import active_model
from app.shops.models import Shop
from app.shops.service import add_shop
from tests.risk.generator import deliveries_for, feed, now, plan_year

ORDERS = 1000


@pytest.fixture(scope="module")
def year_shop(app):
    domain = f"year-{uuid.uuid4().hex[:10]}.myshopify.com"
    with get_sessionmaker()() as session:
        shop = add_shop(session, domain=domain, access_token="shpat_" + uuid.uuid4().hex)
        session.commit()
    moment = now()
    year = plan_year(11, orders=ORDERS, now=moment)
    started = time.monotonic()
    with TestClient(app) as client:
        applied = feed(client, domain, deliveries_for(year, until=moment))
    fed_in = time.monotonic() - started
    with get_sessionmaker()() as session:
        shop = session.get(Shop, shop.id)
        report = training.train(session, shop, now=moment)
        session.commit()
    return {"shop": shop, "year": year, "report": report, "applied": applied, "fed_in": fed_in, "now": moment}


def test_the_year_arrived_through_the_webhooks(year_shop):
    shop, year = year_shop["shop"], year_shop["year"]
    with get_sessionmaker()() as session:
        signals = session.scalar(select(func.count()).select_from(RiskSignal).where(RiskSignal.shop_id == shop.id))
        bad_orders = session.scalar(select(func.count(func.distinct(RiskOutcome.order_id)))
                                    .where(RiskOutcome.shop_id == shop.id, RiskOutcome.bad.is_(True)))
        first = session.scalar(select(func.min(RiskSignal.placed_at)).where(RiskSignal.shop_id == shop.id))
    assert signals == ORDERS
    expected_bad = sum(1 for o in year.orders if o.outcome and o.outcome[1] <= year_shop["now"])
    assert bad_orders == expected_bad
    # The orders keep the store's own times, a year back, not the time they were delivered here.
    assert first < year_shop["now"] - timedelta(days=300)


def test_learned_model_beats_the_rules_and_is_calibrated_on_the_held_out_months(year_shop):
    report = year_shop["report"]
    assert report.status == "active", report
    evaluation = report.evaluation
    learned, rules = evaluation["learned"], evaluation["rules"]
    test_period = evaluation["periods"]["test"]
    # The held-out months are the latest mature ones, after everything the model was fitted on.
    assert test_period["from"] > evaluation["periods"]["train"]["to"]
    assert evaluation["positives"]["test"] >= 30
    assert learned["auc"] >= 0.83
    assert learned["auc"] >= rules["auc"] + 0.015
    assert learned["brier"] <= rules["brier"] - 0.02
    assert learned["brier"] <= evaluation["base_rate_brier"] * 0.75
    # Calibrated: the mean predicted probability is within sampling error of the observed rate of
    # the held-out months (2.5 standard errors), each bin is close to what it predicted, and both
    # are far closer than the rules' fixed points get.
    observed, orders = evaluation["base_rate"]["test"], evaluation["examples"]["test"]
    tolerance = 2.5 * math.sqrt(observed * (1 - observed) / orders)
    assert abs(evaluation["mean_predicted"]["learned"] - observed) <= tolerance
    assert abs(evaluation["mean_predicted"]["rules"] - observed) > 2 * abs(evaluation["mean_predicted"]["learned"] - observed)

    def bin_error(curve):
        return sum(abs(b["predicted"] - b["observed"]) * b["orders"] for b in curve) / sum(b["orders"] for b in curve)

    def noise(curve):
        # What a perfectly calibrated model's bins would miss by on average, from sampling alone:
        # E|observed - predicted| = sqrt(2/pi) * sqrt(p(1-p)/n) per bin.
        return sum(math.sqrt(2 / math.pi) * math.sqrt(b["predicted"] * (1 - b["predicted"]) / b["orders"])
                   * b["orders"] for b in curve) / sum(b["orders"] for b in curve)

    learned_curve, rules_curve = evaluation["calibration_curve"]["learned"], evaluation["calibration_curve"]["rules"]
    assert bin_error(learned_curve) <= 1.5 * noise(learned_curve)
    assert bin_error(rules_curve) > 1.5 * noise(rules_curve)  # the rules' fixed points are not calibrated
    assert bin_error(learned_curve) < bin_error(rules_curve) - 0.05


def test_the_model_is_stored_for_this_shop_only_and_explains_from_its_own_weights(year_shop):
    shop = year_shop["shop"]
    with get_sessionmaker()() as session:
        model = session.scalar(select(RiskModel).where(RiskModel.shop_id == shop.id, RiskModel.status == "active"))
        assert model is not None and model.version == "learned-1"
        coefficients = model.evaluation["coefficients"]
        # The latent model's causes carry the largest weights.
        for cause in ("forwarder", "prior_refunds", "destination_rate", "product_rate"):
            assert coefficients[cause] > 0.3, (cause, coefficients)
        # A fraud-ring order placed now: high, for the reasons the model weighs most.
        fraud = next(o for o in reversed(year_shop["year"].orders) if o.fraud)
        from app.orders.models import Order

        order = session.scalar(select(Order).where(Order.shop_id == shop.id, Order.external_id == fraud.id))
        score = service.score_order(session, order, trigger="test")
        session.commit()
        assert score.model_kind == "learned" and score.model_version == "learned-1"
        assert score.level == "high"
        keys = [r["key"] for r in score.reasons]
        assert "forwarder" in keys
        # Each reason's weight is the model's own contribution: coefficient x standardised distance.
        learned = active_model(session, shop.id)
        _, contributions = learned.decision([score.features[name] for name in service.FEATURES])
        for reason in score.reasons:
            assert reason["weight"] == pytest.approx(contributions[reason["key"]], abs=1e-3)
        other = session.scalar(select(func.count()).select_from(RiskScore).where(
            RiskScore.model_id == model.id, RiskScore.shop_id != shop.id))
        assert other == 0


def test_the_cli_retrains_reports_the_held_out_evaluation_and_rescores_open_orders(year_shop, make_shop):
    from typer.testing import CliRunner

    from app.cli import cli

    shop = year_shop["shop"]
    result = CliRunner().invoke(cli, ["risk", "train", "--shop", shop.domain])
    assert result.exit_code == 0, result.output
    assert f"{shop.domain}: model learned-2 active" in result.output
    assert "held-out period" in result.output and "ROC AUC" in result.output and "base rate Brier" in result.output
    rescored = int(result.output.rsplit("re-scored ", 1)[1].split()[0])
    with get_sessionmaker()() as session:
        recent = session.scalar(select(func.count()).select_from(RiskSignal).where(
            RiskSignal.shop_id == shop.id, RiskSignal.placed_at >= year_shop["now"] - timedelta(days=60)))
        scores = session.scalars(select(RiskScore).where(RiskScore.shop_id == shop.id,
                                                         RiskScore.trigger == "train")).all()
        statuses = dict(session.execute(select(RiskModel.version, RiskModel.status)
                                        .where(RiskModel.shop_id == shop.id)).all())
    assert 0 < rescored <= recent and len(scores) == rescored
    assert {s.model_version for s in scores} == {"learned-2"}
    assert statuses == {"learned-1": "retired", "learned-2": "active"}

    fresh = make_shop()
    result = CliRunner().invoke(cli, ["risk", "train", "--shop", fresh.domain])
    assert result.exit_code == 0 and "not trained (0 refunded or disputed orders" in result.output
    result = CliRunner().invoke(cli, ["risk", "train", "--shop", "nobody.myshopify.com"])
    assert result.exit_code == 2 and "nobody.myshopify.com is not an installed shop" in result.output
