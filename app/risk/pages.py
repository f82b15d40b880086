"""The merchant's risk pages: the model page (/admin/risk: the active model, its held-out evaluation
and calibration, the models before it, how far the shop is from a learned model, retrain) and the
risk card on the order page. (The orders list's "at risk" filter is the dashboard's, against the
hold line of Settings.)"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from app.db import SessionDep
from app.orders.models import Order
from app.risk import reasons, retrain, service
from app.risk.models import RiskScore
from app.risk.overview import Overview, overview
from app.risk.page_text import TEXT
from app.shops.models import Shop
from app.templating import format_datetime, format_percent
from app.web import charts, nav
from app.web.auth import MerchantPost, MerchantShop
from app.web.forms import redirect_back
from app.web.panels import register_order_panel
from app.web.phrases import locale_of, localised
from app.web.rendering import render

router = APIRouter(prefix="/admin", include_in_schema=False)
PATH = "/admin/risk"
nav.register("risk", "nav.risk", PATH, order=47, group="insights")

def card(score: RiskScore, shop: Shop, locale: str) -> dict[str, Any]:
    """The order page's risk card in the merchant's language: the score's own reasons and the
    actions recommended for them."""
    raised, lowered = reasons.raising(score.reasons), reasons.lowered(score.reasons)
    return {
        "heading": TEXT.text(locale, "card.heading"),
        "level": score.level, "level_label": TEXT.text(locale, f"level.{score.level}"),
        "probability": TEXT.text(locale, "card.probability", probability=format_percent(score.probability, locale, 0)),
        "why": TEXT.text(locale, "card.why"), "lower": TEXT.text(locale, "card.lower"),
        "actions_heading": TEXT.text(locale, "card.actions"), "none": TEXT.text(locale, "card.none"),
        "reasons": [reasons.phrase(r, locale) for r in raised],
        "lowering": [reasons.phrase(r, locale, lowers=True) for r in lowered],
        "actions": [reasons.action_phrase(a, locale) for a in reasons.actions_for(raised)],
        "model": TEXT.text(locale, f"card.model.{score.model_kind}", version=score.model_version,
                           at=format_datetime(score.scored_at, locale, shop.timezone)),
        "model_link": TEXT.text(locale, "card.model_link"),
    }


def _order_panel(session: Session, shop: Shop, order: Order) -> dict[str, Any] | None:
    score = service.current(session, shop.id, order.id)
    if score is None:
        return None
    return {"card": lambda locale: card(score, shop, locale)}


register_order_panel("risk", "risk/_order_panel.html", _order_panel, order=30)


def _evaluation_rows(evaluation: dict[str, Any], t, number, percent) -> list[tuple[str, str, str, str]]:
    learned, rules = evaluation["learned"], evaluation["rules"]
    base = evaluation["base_rate"]
    return [
        (t("eval.auc"), number(learned["auc"], 3), number(rules["auc"], 3), number(0.5, 3)),
        (t("eval.brier"), number(learned["brier"], 4), number(rules["brier"], 4), number(evaluation["base_rate_brier"], 4)),
        (t("eval.mean"), percent(evaluation["mean_predicted"]["learned"]), percent(evaluation["mean_predicted"]["rules"]),
         percent(base["train"])),
        (t("eval.observed"), percent(base["test"]), percent(base["test"]), percent(base["test"])),
    ]


def _calibration(evaluation: dict[str, Any], locale: str, t) -> charts.Chart:
    curves = evaluation.get("calibration_curve", {})
    series = {t(f"eval.{name}"): [(p["predicted"], p["observed"]) for p in curves.get(name, [])]
              for name in ("learned", "rules") if curves.get(name)}
    return charts.curve(t("calibration.chart"), t("calibration.desc"), series, locale=locale,
                        x_title=t("calibration.x"), y_title=t("calibration.y"), unit="percent",
                        diagonal=t("calibration.diagonal"), label_column=t("calibration.group"))


def _levels(found: Overview, locale: str, t) -> charts.Chart:
    items = [(t(f"level.{level}"), found.levels.get(level, 0)) for level in service.LEVELS]
    return charts.distribution(t("levels.chart"), t("levels.desc"), items if sum(found.levels.values()) else [],
                               locale=locale, label_column=t("levels.column"), value_column=t("levels.orders"))


def _last_training(session: Session, shop: Shop, t, when) -> str | None:
    last = retrain.last_request(session, shop)
    if last is None:
        return None
    if last.outcome is None:
        return t("train.waiting", at=when(last.at))
    outcome = last.outcome
    if outcome["kind"] == "risk.training_skipped":
        return t("train.done.skipped", at=when(outcome["at"]), reason=outcome.get("reason", ""))
    status = "active" if outcome.get("status") == "active" else "rejected"
    return t(f"train.done.{status}", at=when(outcome["at"]), version=outcome.get("version", ""))


def _held_out(evaluation: dict[str, Any], t, words: dict[str, Any]) -> str:
    test = evaluation["periods"]["test"]
    return t("eval.period", start=words["day"](test["from"]), end=words["day"](test["to"]),
             orders=words["number"](evaluation["examples"]["test"]),
             positives=words["number"](evaluation["positives"]["test"]),
             base=words["percent"](evaluation["base_rate"]["test"]),
             train=words["number"](evaluation["periods"]["train"]["orders"]))


def _model_page(request: Request, session: Session, shop: Shop, *, token: str | None = None) -> HTMLResponse:
    words = localised(request, shop, TEXT)
    t, locale = words["t"], words["locale"]
    found = overview(session, shop.id)
    evaluation = found.evaluation
    shown = found.active or found.latest
    facts = [(t(f"fact.{kind}") if TEXT.has(f"fact.{kind}") else kind, count)
             for kind, count in sorted(found.facts.items(), key=lambda kv: -kv[1])]
    context = {
        **words, "found": found, "held_out": _held_out(evaluation, t, words) if evaluation else "", "shown": shown, "evaluation": evaluation,
        "evaluation_rows": _evaluation_rows(evaluation, t, words["number"], words["percent"]) if evaluation else [],
        "calibration": _calibration(evaluation, locale, t) if evaluation else None,
        "levels_chart": _levels(found, locale, t),
        "facts": facts, "request_id": retrain.new_request_id(),
        "last_training": _last_training(session, shop, t, words["when"]),
        "progress": min(found.mature_bad_orders, found.needed),
    }
    return render(request, "risk/model.html", shop, context, token=token)


@router.get("/risk", response_class=HTMLResponse)
def model_page(request: Request, session: SessionDep, shop: MerchantShop) -> HTMLResponse:
    return _model_page(request, session, shop)


@router.post("/risk/train", response_model=None)
def train(request: Request, session: SessionDep, post: MerchantPost,
          request_id: Annotated[str, Form(max_length=64)] = "") -> RedirectResponse:
    """Retrain now: enqueues risk.train_shop once per click (the form's request id)."""
    requested = retrain.request_training(session, post.shop.id, request_id)
    session.commit()
    t = TEXT.translator(locale_of(request))
    return redirect_back(PATH, post.shop, post.token, notice=t("train.requested" if requested.new else "train.already"),
                         locale=request.query_params.get("locale") or None)
