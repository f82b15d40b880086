"""Learning one shop's model from its own history, honestly.

- Labels need time: an order is trained on only once `risk_label_days` have passed since it was
  placed (a chargeback can come weeks later), and its label is whether a bad outcome (refund or
  dispute of any kind) happened within that window. Younger orders still count in the history
  the features read, never as examples.
- Time split: the mature orders in time order; the oldest 80 % train the regression, the most
  recent 20 % (the held-out period) evaluate it against the rules and the base rate. The
  calibration is learned inside the training period, forward in time: the training period is cut
  in five blocks, and each of the last two is scored by a regression fitted on the blocks before
  it only (as the deployed model will score the weeks after its training). The model that is
  evaluated is the model that is used.
- Landmarks: every fit order is an example at the moment it was placed and again two weeks later
  (with what had happened by then: a late supplier, no first scan, a complaint), unless its
  outcome was already known by then; the held-out period is scored at placement, as the paid
  path scores.
- A model that does not beat the rules on the held-out period (higher AUC and lower Brier score)
  is kept as "rejected" with its evaluation, and the rules go on scoring.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import utcnow
from app.evidence import service as evidence
from app.risk import history, outcomes
from app.risk.features import FEATURES, OrderFacts, Outcome, SweepCounts, sweep
from app.risk.models import RiskModel, RiskRate
from app.risk.scoring import Rules
from app.shops.models import Shop

LANDMARKS = (timedelta(0), timedelta(days=14))
TRAIN_SHARE = 0.8
FOLDS = 5
CALIBRATION_BLOCKS = 2
# Isotonic calibration needs many positives to be smoother than Platt's two parameters.
ISOTONIC_FROM = 200
CALIBRATION_BINS = 10


@dataclass
class Report:
    shop: str
    status: str  # active | rejected | skipped
    reason: str | None = None
    version: str | None = None
    evaluation: dict[str, Any] = field(default_factory=dict)
    rescored: int = 0


def _label(order: OrderFacts, outcome: Outcome | None, label_days: int) -> int:
    """Bad within the label window; an outcome whose source gave no time counts whenever we
    learned of it (the imported history's disputes)."""
    if outcome is None:
        return 0
    bad = outcome.first_bad_at
    return int(outcome.untimed_bad or (bad is not None and bad <= order.placed_at + timedelta(days=label_days)))


def write_rates(session: Session, shop_id: int, counts: SweepCounts, at: datetime) -> int:
    """Replace the shop's risk_rates with the sweep's final counts (what live scores read)."""
    session.execute(delete(RiskRate).where(RiskRate.shop_id == shop_id))
    median = counts.median_value()
    rows = [{"shop_id": shop_id, "dimension": "shop", "key": "all", "orders": int(counts.orders),
             "bad": int(counts.bad), "median_value": round(median, 2) if median is not None else None,
             "computed_at": at}]
    rows += [{"shop_id": shop_id, "dimension": dimension, "key": key[:64], "orders": int(n), "bad": int(b),
              "median_value": None, "computed_at": at}
             for (dimension, key), (n, b) in counts.keys.items()]
    for start in range(0, len(rows), 5000):
        session.execute(insert(RiskRate), rows[start:start + 5000])
    return len(rows)


def refresh(session: Session, shop: Shop, *, now: datetime | None = None) -> int:
    """Collect new outcome facts and recompute the history counts live scores read (flushes)."""
    now = now or utcnow()
    outcomes.collect(session, shop)
    orders = history.load(session, shop.id)
    _, counts = sweep(orders, history.shop_outcomes(session, shop.id), landmarks={})
    written = write_rates(session, shop.id, counts, now)
    session.flush()
    return written


def _metrics(y: list[int], p: list[float]) -> dict[str, float]:
    from sklearn.metrics import brier_score_loss, roc_auc_score

    return {"auc": round(float(roc_auc_score(y, p)), 4), "brier": round(float(brier_score_loss(y, p)), 5)}


def calibration_curve(y: list[int], p: list[float], bins: int = CALIBRATION_BINS) -> list[dict[str, float]]:
    """Held-out orders in bins of equal size by predicted probability: mean predicted vs observed."""
    import numpy as np

    order = np.argsort(np.asarray(p), kind="stable")
    groups = [g for g in np.array_split(order, min(bins, len(order))) if len(g)]
    ys, ps = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    return [{"predicted": round(float(ps[g].mean()), 4), "observed": round(float(ys[g].mean()), 4),
             "orders": int(len(g))} for g in groups]


def _fit(X, y):  # noqa: N803 - the usual names
    from sklearn.linear_model import LogisticRegression

    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-9] = 1.0  # a feature that never varied carries no weight (its value is 0)
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit((X - mean) / scale, y)
    return mean, scale, model.coef_[0], float(model.intercept_[0])


def _calibrate(z, y) -> dict[str, Any]:
    import numpy as np
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    if int(np.sum(y)) >= ISOTONIC_FROM:
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(z, y)
        return {"method": "isotonic", "x": [float(v) for v in iso.X_thresholds_],
                "y": [float(v) for v in iso.y_thresholds_]}
    platt = LogisticRegression(C=1e4, max_iter=1000).fit(np.asarray(z).reshape(-1, 1), y)
    return {"method": "platt", "a": float(platt.coef_[0][0]), "b": float(platt.intercept_[0])}


def _period(orders: list[OrderFacts]) -> dict[str, Any]:
    return {"from": orders[0].placed_at.isoformat(), "to": orders[-1].placed_at.isoformat(), "orders": len(orders)}


def train(session: Session, shop: Shop, *, now: datetime | None = None) -> Report:
    """Train, evaluate and store a new model for one shop (flushes; the caller commits)."""
    import numpy as np

    from app.risk.scoring import Learned

    settings = get_settings()
    now = now or utcnow()
    label_days = settings.risk_label_days
    outcomes.collect(session, shop)
    orders = sorted(history.load(session, shop.id), key=lambda o: (o.placed_at, o.order_id))
    known = history.shop_outcomes(session, shop.id)
    cutoff = now - timedelta(days=label_days)
    mature = [o for o in orders if o.placed_at <= cutoff]
    labels = {o.order_id: _label(o, known.get(o.order_id), label_days) for o in mature}
    positives = sum(labels.values())
    n_train = int(len(mature) * TRAIN_SHARE)
    train_part, test = mature[:n_train], mature[n_train:]
    needed = settings.risk_min_outcomes
    if positives < needed or min(sum(labels[o.order_id] for o in part) for part in (train_part, test)) < 5:
        _, counts = sweep(orders, known, landmarks={})
        write_rates(session, shop.id, counts, now)
        reason = (f"{positives} refunded or disputed orders older than {label_days} days; "
                  f"a model needs {needed}, with some in each period")
        evidence.record(session, chain=shop.domain, shop_id=shop.id, kind="risk.training_skipped",
                        source="dropguard", data={"reason": reason, "mature_orders": len(mature),
                                                  "positives": positives})
        session.flush()
        return Report(shop=shop.domain, status="skipped", reason=reason)

    landmarks: dict[int, list[datetime]] = {}
    for order in train_part:
        outcome = known.get(order.order_id)
        landmarks[order.order_id] = [
            order.placed_at + offset for offset in LANDMARKS
            if offset == timedelta(0) or not (outcome and outcome.first_bad_at
                                              and outcome.first_bad_at <= order.placed_at + offset)
        ]
    for order in test:
        landmarks[order.order_id] = [order.placed_at]
    features, counts = sweep(orders, known, landmarks=landmarks)

    def rows(part: list[OrderFacts], all_landmarks: bool):
        X, y, bases, block = [], [], [], []  # noqa: N806
        for index, order in enumerate(part):
            for moment in (landmarks[order.order_id] if all_landmarks else [order.placed_at]):
                x, base = features[(order.order_id, moment)]
                X.append(x)
                y.append(labels[order.order_id])
                bases.append(base)
                block.append(index * FOLDS // len(part))
        return np.asarray(X, dtype=float), np.asarray(y, dtype=int), bases, np.asarray(block)

    X_fit, y_fit, _, blocks = rows(train_part, True)  # noqa: N806
    X_test, y_test, base_test, _ = rows(test, False)  # noqa: N806
    # Forward scores: each of the last blocks scored by a regression fitted on the blocks before it,
    # so the calibration learns how scores map to outcomes on later orders the model never saw.
    z_forward, y_forward = [], []
    for block in range(FOLDS - CALIBRATION_BLOCKS, FOLDS):
        past, held = blocks < block, blocks == block
        if not held.any() or len(set(y_fit[past])) < 2:
            continue
        m, sc, c, b = _fit(X_fit[past], y_fit[past])
        z_forward.append(((X_fit[held] - m) / sc) @ c + b)
        y_forward.append(y_fit[held])
    calibration = _calibrate(np.concatenate(z_forward), np.concatenate(y_forward))
    mean, scale, coef, intercept = _fit(X_fit, y_fit)
    count = session.scalar(select(func.count()).select_from(RiskModel).where(RiskModel.shop_id == shop.id)) or 0
    version = f"learned-{count + 1}"
    parameters = {"features": list(FEATURES), "mean": [float(v) for v in mean], "scale": [float(v) for v in scale],
                  "coef": [float(v) for v in coef], "intercept": intercept, "calibration": calibration}
    learned = Learned.from_parameters(0, version, now, parameters)
    rules = Rules()
    p_learned = [learned.score(list(x), 0.0).probability for x in X_test]
    p_rules = [rules.score(list(x), base).probability for x, base in zip(X_test, base_test, strict=True)]
    fit_rate = float(y_fit.mean())
    y_list = [int(v) for v in y_test]
    evaluation = {
        "label_days": label_days,
        "periods": {"train": _period(train_part), "test": _period(test)},
        "examples": {"train": len(y_fit), "test": len(y_test)},
        "positives": {"train": int(y_fit.sum()), "test": int(y_test.sum())},
        "base_rate": {"train": round(fit_rate, 4), "test": round(float(y_test.mean()), 4)},
        "learned": _metrics(y_list, p_learned),
        "rules": _metrics(y_list, p_rules),
        "base_rate_brier": round(float(np.mean((np.asarray(y_list) - fit_rate) ** 2)), 5),
        "calibration_curve": {"learned": calibration_curve(y_list, p_learned),
                              "rules": calibration_curve(y_list, p_rules)},
        "calibration_method": calibration["method"],
        "mean_predicted": {"learned": round(statistics.fmean(p_learned), 4),
                           "rules": round(statistics.fmean(p_rules), 4)},
        "coefficients": {name: round(float(c / s), 4) for name, c, s in zip(FEATURES, coef, scale, strict=True)},
    }
    better = (evaluation["learned"]["auc"] > evaluation["rules"]["auc"]
              and evaluation["learned"]["brier"] < evaluation["rules"]["brier"])
    status = "active" if better else "rejected"
    if better:
        session.execute(update(RiskModel).where(RiskModel.shop_id == shop.id, RiskModel.status == "active")
                        .values(status="retired"))
    session.add(RiskModel(shop_id=shop.id, version=version, kind="learned", status=status, trained_at=now,
                          data_through=cutoff, label_days=label_days, parameters=parameters, evaluation=evaluation))
    write_rates(session, shop.id, counts, now)
    evidence.record(session, chain=shop.domain, shop_id=shop.id, kind="risk.model_trained", source="dropguard",
                    data={"version": version, "status": status, "data_through": cutoff,
                          "learned": evaluation["learned"], "rules": evaluation["rules"],
                          "base_rate_brier": evaluation["base_rate_brier"], "examples": evaluation["examples"]})
    session.flush()
    reason = None if better else "did not beat the rules on the held-out period"
    return Report(shop=shop.domain, status=status, reason=reason, version=version, evaluation=evaluation)
