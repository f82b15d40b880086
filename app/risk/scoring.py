"""The two kinds of model that turn features into a probability, each with its own attributions.

Rules (day one, every shop): the shop's own base rate of refunds and disputes, moved by fixed
log-odds points per signal. Learned (once a shop has enough outcomes, app.risk.training): a
logistic regression on standardised features, calibrated on a later period (Platt or isotonic).
Both explain a score by what each feature added to its log-odds: the rules' points, or the
regression's coefficient times the order's distance from the average training order.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.risk.features import FEATURES
from app.risk.models import RiskModel

RULES_VERSION = "rules-1"
# Log-odds points per unit of each feature (features are 0/1, or scaled as app.risk.features says).
RULE_POINTS: dict[str, float] = {
    "forwarder": 1.6, "po_box": 0.7, "country_mismatch": 0.6, "name_mismatch": 0.5, "ip_mismatch": 0.8,
    "email_digits": 0.25, "email_disposable": 1.0, "email_name_mismatch": 0.3,
    "value_vs_median": 0.3, "quantity": 0.2, "returning_customer": -0.3,
    "prior_refunds": 0.9, "prior_disputes": 1.4,
    "product_rate": 0.6, "supplier_rate": 0.6, "destination_rate": 0.6, "carrier_rate": 0.6,
    "supplier_late": 0.5, "no_first_scan": 0.8, "delayed": 0.7, "delivery_problem": 0.9, "complaint": 1.5,
}
assert set(RULE_POINTS) == set(FEATURES)
# A larger order than usual is a reason; a smaller one is not a rule's business.
_ONLY_RAISING = ("value_vs_median", "quantity")


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class Scored:
    probability: float
    contributions: dict[str, float]


@dataclass(frozen=True)
class Rules:
    kind: str = "rules"
    version: str = RULES_VERSION
    model_id: int | None = None
    trained_at: datetime | None = None

    def score(self, x: list[float], base: float) -> Scored:
        contributions = {}
        for name, value in zip(FEATURES, x, strict=True):
            if name in _ONLY_RAISING:
                value = max(value, 0.0)
            contributions[name] = RULE_POINTS[name] * value
        return Scored(sigmoid(logit(base) + sum(contributions.values())), contributions)


@dataclass(frozen=True)
class Learned:
    model_id: int
    version: str
    trained_at: datetime
    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    calibration: dict[str, Any]
    kind: str = "learned"

    @classmethod
    def from_parameters(cls, model_id: int, version: str, trained_at: datetime, p: dict[str, Any]) -> Learned:
        return cls(model_id=model_id, version=version, trained_at=trained_at, names=tuple(p["features"]),
                   mean=tuple(p["mean"]), scale=tuple(p["scale"]), coef=tuple(p["coef"]),
                   intercept=float(p["intercept"]), calibration=p["calibration"])

    def decision(self, x: list[float]) -> tuple[float, dict[str, float]]:
        values = dict(zip(FEATURES, x, strict=True))
        contributions = {
            name: c * (values.get(name, 0.0) - m) / s
            for name, m, s, c in zip(self.names, self.mean, self.scale, self.coef, strict=True)
        }
        return self.intercept + sum(contributions.values()), contributions

    def calibrate(self, z: float) -> float:
        calibration = self.calibration
        if calibration["method"] == "platt":
            return sigmoid(calibration["a"] * z + calibration["b"])
        xs, ys = calibration["x"], calibration["y"]
        if z <= xs[0]:
            return ys[0]
        if z >= xs[-1]:
            return ys[-1]
        i = bisect_right(xs, z) - 1
        span = xs[i + 1] - xs[i]
        return ys[i] + (ys[i + 1] - ys[i]) * ((z - xs[i]) / span if span else 0.0)

    def score(self, x: list[float], base: float) -> Scored:
        z, contributions = self.decision(x)
        # Isotonic steps can reach 0 or 1 exactly; no order is ever certain either way.
        return Scored(min(max(self.calibrate(z), 0.001), 0.999), contributions)


Model = Rules | Learned

_cache: dict[int, Learned] = {}
_cache_lock = threading.Lock()


def active_model(session: Session, shop_id: int) -> Model:
    """The shop's active learned model, else the rules."""
    row = session.execute(
        select(RiskModel.id, RiskModel.version, RiskModel.trained_at)
        .where(RiskModel.shop_id == shop_id, RiskModel.status == "active")
        .order_by(RiskModel.id.desc()).limit(1)
    ).one_or_none()
    return model_for(session, tuple(row) if row else None)


def model_for(session: Session, active: tuple[int, str, datetime] | None) -> Model:
    """The model for an (id, version, trained_at) read with the order (None: the rules). Parameters
    are cached per process by model id: a model row never changes once trained."""
    if active is None:
        return Rules()
    model_id, version, trained_at = active
    cached = _cache.get(model_id)
    if cached is None:
        parameters = session.scalar(select(RiskModel.parameters).where(RiskModel.id == model_id))
        cached = Learned.from_parameters(model_id, version, trained_at, parameters)
        with _cache_lock:
            _cache[model_id] = cached
    return cached
