"""What the merchant's model page shows: which model scores the shop's orders, how it did on the
held-out period against the rules and the base rate, the models before it, and the outcome facts
it learns from (and how far the shop is from a learned model)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import utcnow
from app.risk import outcomes
from app.risk.models import RiskModel, RiskOutcome, RiskScore, RiskSignal
from app.risk.scoring import RULES_VERSION


@dataclass
class Overview:
    kind: str  # rules | learned
    version: str
    active: RiskModel | None
    latest: RiskModel | None
    models: list[RiskModel]
    facts: dict[str, int]
    mature_bad_orders: int
    needed: int
    label_days: int
    levels: dict[str, int] = field(default_factory=dict)

    @property
    def evaluation(self) -> dict[str, Any]:
        shown = self.active or self.latest
        return shown.evaluation if shown else {}


def overview(session: Session, shop_id: int) -> Overview:
    settings = get_settings()
    models = list(session.scalars(select(RiskModel).where(RiskModel.shop_id == shop_id)
                                  .order_by(RiskModel.id.desc()).limit(20)))
    active = next((m for m in models if m.status == "active"), None)
    cutoff = utcnow() - timedelta(days=settings.risk_label_days)
    mature_bad = session.scalar(
        select(func.count(func.distinct(RiskOutcome.order_id)))
        .join(RiskSignal, RiskSignal.order_id == RiskOutcome.order_id)
        .where(RiskOutcome.shop_id == shop_id, RiskOutcome.bad.is_(True), RiskSignal.placed_at <= cutoff)
    ) or 0
    levels = dict(session.execute(select(RiskScore.level, func.count()).where(RiskScore.shop_id == shop_id)
                                  .group_by(RiskScore.level)).all())
    return Overview(
        kind="learned" if active else "rules", version=active.version if active else RULES_VERSION,
        active=active, latest=models[0] if models else None, models=models,
        facts=outcomes.summary(session, shop_id), mature_bad_orders=int(mature_bad),
        needed=settings.risk_min_outcomes, label_days=settings.risk_label_days, levels=levels,
    )
