"""The merchant's insights pages (nav: Insights): supplier scorecards, refund and dispute analytics
with drill-down to the orders and the notification effect, refund-policy advice with its one-click
change, and classified customer complaints with the merchant's corrections. Every table downloads
as CSV (?format=csv&table=…), every chart carries its numbers as a table. The figures come from the
read models (app/insights/scorecards.py, analytics.py, advice.py, messages.py), never a page scan."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import SessionDep
from app.errors import NotFound
from app.insights import advice, analytics, export, messages, queries, scorecards
from app.insights.classifier import REASONS
from app.insights.page_text import TEXT
from app.insights.queries import Filters
from app.resolutions import policy as policies
from app.shops.models import Shop
from app.suppliers.models import Supplier
from app.web import charts, nav
from app.web.auth import MerchantPost, MerchantShop
from app.web.errors import PageNotFound
from app.web.forms import redirect_back
from app.web.phrases import locale_of, localised
from app.web.rendering import render, session_query

router = APIRouter(prefix="/admin/insights", include_in_schema=False)
PATH = "/admin/insights"
nav.register("insights", "nav.insights", PATH, order=46, group="insights")
TABS = (("suppliers", PATH), ("refunds", f"{PATH}/refunds"), ("policy", f"{PATH}/policy"),
        ("complaints", f"{PATH}/complaints"))
Format = Annotated[str, Query(pattern="^(html|csv)$")]
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_FILTER_KEYS = ("from", "to", "supplier_id", "destination", "carrier", "product")


class _Unreadable(ValueError):
    pass


def _month(value: str | None, name: str) -> date | None:
    if not value:
        return None
    match = _MONTH.match(value)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise _Unreadable(f"{name} must be a month as YYYY-MM")
    return date(int(match.group(1)), int(match.group(2)), 1)


def _filters(request: Request) -> tuple[Filters, dict[str, str], str | None]:
    """The page's filters from its query, the raw values to keep in links, and why they were
    ignored if they could not be read (a hand-edited link shows everything rather than failing)."""
    raw = {k: request.query_params.get(k, "").strip()[:64] for k in _FILTER_KEYS}
    raw = {k: v for k, v in raw.items() if v}
    try:
        start, end = _month(raw.get("from"), "from"), _month(raw.get("to"), "to")
        if start and end and start > end:
            raise _Unreadable("from is after to")
        supplier = raw.get("supplier_id")
        if supplier is not None and not supplier.isdigit():
            raise _Unreadable("supplier_id must be a number")
        scope = Filters(start, end, int(supplier) if supplier else None,
                        raw["destination"].upper() if raw.get("destination") else None,
                        raw.get("carrier"), raw.get("product"))
    except _Unreadable as error:
        return Filters(), {}, str(error)
    return scope, raw, None


def _csv(rows: list[dict[str, Any]], name: str) -> Response:
    columns = list(rows[0]) if rows else ["empty"]
    return export.csv_response(rows, columns, name)


def _suppliers(session: Session, shop_id: int) -> list[tuple[int, str]]:
    return list(session.execute(select(Supplier.id, Supplier.name).where(Supplier.shop_id == shop_id)
                                .order_by(Supplier.name)).all())


def _base(request: Request, session: Session, shop: Shop, tab: str, raw: dict[str, str],
          problem: str | None) -> dict[str, Any]:
    words = localised(request, shop, TEXT)
    t = words["t"]
    keep = {"locale": words["locale"]} if words["locale"] != "en" else {}

    signed_in = session_query(request.query_params.get("id_token", ""), shop)

    def link(path: str, **params: Any) -> str:
        """A link inside the insights pages that keeps the merchant signed in, in their language."""
        query = urlencode({**keep, **{k: v for k, v in params.items() if v not in (None, "")}})
        return f"{path}?" + "&".join(part for part in (query, signed_in) if part)

    return {
        **words, "tab": tab, "tabs": TABS, "raw": raw, "link": link, "keep": keep,
        "problem": t("bad_filter", reason=problem) if problem else "",
        "suppliers": _suppliers(session, shop.id), "currency": shop.currency,
        "reason_label": lambda reason: _reason_label(t, reason),
    }


def _reason_label(t, reason: str | None) -> str:
    if not reason:
        return t("unknown")
    return t(f"reason.{reason}") if TEXT.has(f"reason.{reason}") else reason.replace("_", " ")


def _cents(value: int | None) -> float | None:
    return None if value is None else value / 100


# -- Supplier scorecards -----------------------------------------------------------------------

def _scorecard_charts(session: Session, shop: Shop, scope: Filters, cards: list[scorecards.Scorecard],
                      t, locale: str) -> dict[str, charts.Chart]:
    label = (lambda c: f"{c.supplier} → {c.destination or '?'}") if any(c.destination for c in cards) else (
        lambda c: c.supplier)
    ranking = charts.ranking(t("suppliers.ranking"), t("suppliers.ranking.desc"),
                             [(label(c), c.problem_cost_share or 0) for c in cards if c.orders],
                             locale=locale, unit="percent", label_column=t("supplier"),
                             value_column=t("col.problem_share"))
    trend = scorecards.trend(session, shop.id, scope)
    periods = sorted({r["period"] for r in trend})
    names = sorted({r["supplier"] for r in trend})
    by_key = {(r["supplier"], r["period"]): r for r in trend}
    months = [p.strftime("%Y-%m") for p in periods]

    def series(measure: str) -> dict[str, list[float | None]]:
        return {n: [by_key.get((n, p), {}).get(measure) for p in periods] for n in names}

    delivery: dict[int, int] = {}
    for row in queries.breakdown(session, shop.id, scope, "delivery_days", names=("n",)):
        delivery[row["bucket"]] = delivery.get(row["bucket"], 0) + row["n"]
    days = range(0, max(delivery) + 1) if delivery else range(0)
    return {
        "ranking": ranking,
        "refunds": charts.trend(t("suppliers.trend.refunds"), t("suppliers.trend.refunds.desc"), months,
                                series("refund_rate"), locale=locale, unit="percent", label_column=t("month")),
        "on_time": charts.trend(t("suppliers.trend.on_time"), t("suppliers.trend.on_time.desc"), months,
                                series("on_time_rate"), locale=locale, unit="percent", label_column=t("month")),
        "delivery": charts.distribution(t("suppliers.delivery"), t("suppliers.delivery.desc"),
                                        [(str(d), delivery.get(d, 0)) for d in days], locale=locale,
                                        label_column=t("suppliers.delivery.days"), value_column=t("orders")),
        "trend_rows": trend,
    }


@router.get("", response_class=HTMLResponse, response_model=None)
def suppliers_page(request: Request, session: SessionDep, shop: MerchantShop, by: str = "supplier",
                   format: Format = "html", table: str = "scorecards") -> Response:
    scope, raw, problem = _filters(request)
    by_destination = by == "destination"
    if format == "csv":  # the table only: no charts drawn for a download
        if table == "trend":
            return _csv(scorecards.trend(session, shop.id, scope), "supplier-trend")
        cards = scorecards.scorecards(session, shop.id, scope, by_destination=by_destination)
        return _csv([c.as_row() for c in cards], f"supplier-scorecards-{'lanes' if by_destination else 'suppliers'}")
    cards = scorecards.scorecards(session, shop.id, scope, by_destination=by_destination)
    context = _base(request, session, shop, "suppliers", raw, problem)
    t, locale = context["t"], context["locale"]
    built = _scorecard_charts(session, shop, scope, cards, t, locale)
    flagged = [(c, f) for c in cards for f in c.flags]
    context.update(cards=cards, by=("destination" if by_destination else "supplier"), built=built, flagged=flagged)
    return render(request, "insights/suppliers.html", shop, context)


# -- Refunds and disputes ----------------------------------------------------------------------

def _drill_params(dimension: str, row: dict[str, Any], raw: dict[str, str]) -> dict[str, Any]:
    """The drill-down link of one analytics row: the page's filters narrowed to the row's value."""
    params: dict[str, Any] = dict(raw)
    if dimension == "reason":
        return {**params, "outcome": row["kind"], "reason": row["label"]}
    key = {"supplier": "supplier_id", "destination": "destination", "carrier": "carrier", "product": "product"}.get(dimension)
    if key:
        params[key] = row["key"] if row["key"] is not None else ""
    elif dimension == "period":
        params["from"] = params["to"] = str(row["key"])[:7]
    return params


@router.get("/refunds", response_class=HTMLResponse, response_model=None)
def refunds_page(request: Request, session: SessionDep, shop: MerchantShop, dimension: str = "supplier",
                 format: Format = "html", table: str = "breakdown") -> Response:
    if dimension not in analytics.DIMENSIONS:
        dimension = "supplier"
    scope, raw, problem = _filters(request)
    if format == "csv":  # the one table asked for
        if table == "notification":
            return _csv(analytics.notification_effect(session, shop.id, scope), "notification-effect")
        if table == "months":
            return _csv(analytics.by_dimension(session, shop.id, "period", scope), "refunds-disputes-by-month")
        return _csv(analytics.by_dimension(session, shop.id, dimension, scope), f"refunds-disputes-by-{dimension}")
    rows = analytics.by_dimension(session, shop.id, dimension, scope)
    effect = analytics.notification_effect(session, shop.id, scope)
    months = analytics.by_dimension(session, shop.id, "period", scope) if dimension != "period" else rows
    context = _base(request, session, shop, "refunds", raw, problem)
    t, locale = context["t"], context["locale"]
    dimension_label = t(f"dim.{dimension}").lower()
    if dimension == "reason":
        items = [(f"{t('kind.' + r['kind'])}: {_reason_label(t, r['label'])}", _cents(r["cents"])) for r in rows]
    else:
        items = [(r["label"], _cents(r["refund_cents"] + r["dispute_cents"])) for r in rows]
    notice_groups = [t(f"notice.{g}") for g in analytics.NOTICE_GROUPS]
    context.update(
        dimension=dimension, dimensions=analytics.DIMENSIONS, rows=rows, effect=effect,
        drill=lambda row: _drill_params(dimension, row, raw),
        ranking=charts.ranking(t("refunds.ranking", dimension=dimension_label), t("refunds.ranking.desc"), items,
                               locale=locale, unit="money", currency=shop.currency,
                               label_column=t(f"dim.{dimension}"), value_column=t("refunds.amount")),
        trend=charts.trend(t("refunds.trend"), t("refunds.trend.desc"), [str(r["key"])[:7] for r in months],
                           {t("col.refunded"): [r["refund_rate"] for r in months],
                            t("col.disputed"): [r["dispute_rate"] for r in months]},
                           locale=locale, unit="percent", label_column=t("month")),
        notice=charts.comparison(t("notice.chart"), t("notice.desc"), notice_groups,
                                 {t("notice.claims"): [r["claim_rate"] for r in effect],
                                  t("notice.disputes"): [r["dispute_rate"] for r in effect],
                                  t("notice.refunds"): [r["refund_rate"] for r in effect]},
                                 locale=locale, unit="percent", label_column=t("notice.group"))
        if any(r["orders"] for r in effect) else None,
        dimension_label=dimension_label,
    )
    return render(request, "insights/refunds.html", shop, context)


@router.get("/orders", response_class=HTMLResponse, response_model=None)
def drill_page(request: Request, session: SessionDep, shop: MerchantShop, outcome: str = "any",
               reason: Annotated[str, Query(max_length=64)] = "", format: Format = "html") -> Response:
    """The orders behind a figure (newest first, at most queries.DRILL_LIMIT)."""
    if outcome not in queries.OUTCOMES:
        outcome = "any"
    scope, raw, problem = _filters(request)
    try:
        found = queries.drill(session, shop.id, scope, outcome=outcome, reason=reason or None)
    except ValueError as error:
        found, problem = [], str(error)
    names = dict(_suppliers(session, shop.id))
    rows = [{"order": f.order_name, "order_id": f.order_id, "period": f.period, "supplier": names.get(f.supplier_id, ""),
             "destination": f.destination, "carrier": f.carrier, "product": f.product_title,
             "revenue": f.revenue, "currency": f.currency,
             "refund_reasons": f.facts.get("refund_reasons") or [], "dispute_reasons": f.facts.get("dispute_reasons") or [],
             "claim_reasons": f.facts.get("claim_reasons") or []} for f in found]
    if format == "csv":
        return _csv([{k: v for k, v in r.items() if k != "order_id"} for r in rows], f"orders-{outcome}")
    context = _base(request, session, shop, "refunds", raw, problem)
    context.update(rows=rows, outcome=outcome, reason=reason, limit=queries.DRILL_LIMIT, outcomes=queries.OUTCOMES)
    return render(request, "insights/orders.html", shop, context)


# -- Refund-policy advice ----------------------------------------------------------------------

def _advice_title(t, r: advice.Recommendation) -> str:
    n = r.numbers
    if r.kind == "window":
        reason = _reason_label(t, n["reason"])
        if "suggested_window_days" in n:
            return t("policy.window", reason=reason, suggested=n["suggested_window_days"])
        return t("policy.window.wait", reason=reason)
    if r.kind == "description":
        return t("policy.description", product=n["product"])
    if r.kind == "stricter_terms":
        return t("policy.terms")
    return t("policy.remedy.keep" if "note" in n else "policy.remedy.stop", remedy=t(f"remedy.{n['remedy']}"))


def _numbers(r: advice.Recommendation, words: dict[str, Any]) -> list[tuple[str, str]]:
    t = words["t"]
    shown = []
    for key, value in r.numbers.items():
        if key in ("reason", "product", "product_key", "remedy", "note", "by_reason") or not TEXT.has(f"n.{key}"):
            continue
        if isinstance(value, float) and ("rate" in key or "covers" in key or key == "share"):
            text = words["percent"](value)
        elif value is None:
            text = t("none")
        else:
            text = words["number"](value)
        shown.append((t(f"n.{key}"), text))
    return shown


@router.get("/policy", response_class=HTMLResponse, response_model=None)
def policy_page(request: Request, session: SessionDep, shop: MerchantShop, share: float = advice.DEFAULT_SHARE,
                format: Format = "html") -> Response:
    if share not in advice.SHARES:
        share = advice.DEFAULT_SHARE
    found = advice.recommendations(session, shop, share=share)
    distribution = advice.request_distribution(session, shop.id)
    remedies = advice.remedy_effect(session, shop.id)
    if format == "csv":
        return _csv([{"id": r.id, "kind": r.kind, "applied": r.applied,
                      **{k: v for k, v in r.numbers.items() if not isinstance(v, dict)}} for r in found], "policy-advice")
    context = _base(request, session, shop, "policy", {}, None)
    t, locale = context["t"], context["locale"]
    policy = policies.for_shop(shop)
    histograms = []
    for reason, buckets in sorted(distribution.items()):
        days = range(0, max(buckets) + 1)
        histograms.append(charts.comparison(
            t("policy.distribution", reason=_reason_label(t, reason)),
            t("policy.distribution.desc", window=policy.windows_days.get(reason, "—")), [str(d) for d in days],
            {t("policy.accepted"): [buckets.get(d, {}).get("legit", 0) for d in days],
             t("policy.requests"): [buckets.get(d, {}).get("n", 0) for d in days]},
            locale=locale, unit="number", label_column=t("policy.days")))
    context.update(
        share=share, shares=advice.SHARES, distributions=histograms,
        recommendations=[{"r": r, "title": _advice_title(t, r), "numbers": _numbers(r, context)} for r in found],
        remedies=remedies,
        remedy_chart=charts.ranking(t("policy.remedies"), t("policy.remedies.desc"),
                                    [(t(f"remedy.{r['remedy']}"), r["dispute_rate"]) for r in remedies if r["claims"]],
                                    locale=locale, unit="percent", label_column=t("policy.remedy"),
                                    value_column=t("n.dispute_rate")),
    )
    return render(request, "insights/policy.html", shop, context)


@router.post("/policy/apply", response_model=None)
def apply_advice(request: Request, session: SessionDep, post: MerchantPost,
                 recommendation_id: Annotated[str, Form(max_length=200)],
                 share: Annotated[float, Form()] = advice.DEFAULT_SHARE) -> RedirectResponse:
    """One click: the recommendation is computed again now and its change saved as a new policy
    version (advice.apply raises a clear 400 when nothing is recommended under that id now)."""
    policy = advice.apply(session, post.shop, recommendation_id, share=share)
    session.commit()
    t = TEXT.translator(locale_of(request))
    return redirect_back(f"{PATH}/policy", post.shop, post.token, notice=t("policy.done", version=policy.version),
                         share=str(share), locale=request.query_params.get("locale") or None)


# -- Complaints --------------------------------------------------------------------------------

@router.get("/complaints", response_class=HTMLResponse, response_model=None)
def complaints_page(request: Request, session: SessionDep, shop: MerchantShop, urgent: bool = False,
                    format: Format = "html") -> Response:
    found = messages.recent(session, shop.id, limit=200, urgent_only=urgent)
    rows = []
    for m in found:
        reason, is_urgent = messages.effective(m)
        rows.append({"id": m.id, "received_at": m.received_at, "source": m.source, "order_id": m.order_id,
                     "language": m.language, "reason": reason, "urgent": is_urgent, "confidence": m.confidence,
                     "model_reason": m.reason, "corrected": m.corrected_at is not None, "text": m.body})
    if format == "csv":
        return _csv(rows, "customer-messages")
    context = _base(request, session, shop, "complaints", {}, None)
    t, locale = context["t"], context["locale"]
    counts = analytics.complaints(session, shop.id)
    ranked = sorted(counts, key=lambda c: (-c["messages"], c["reason"]))
    context.update(
        rows=rows, urgent=urgent, reasons=REASONS,
        chart=charts.ranking(t("complaints.chart"), t("complaints.chart.desc"),
                             [(_reason_label(t, c["reason"]), c["messages"]) for c in ranked], locale=locale,
                             label_column=t("complaints.reason"), value_column=t("complaints.messages")),
        urgent_counts={c["reason"]: c["urgent"] for c in counts},
    )
    return render(request, "insights/complaints.html", shop, context)


@router.post("/complaints/{message_id}/correct", response_model=None)
def correct_message(request: Request, session: SessionDep, post: MerchantPost,
                    message_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
                    reason: Annotated[str, Form(max_length=32)], urgent: Annotated[str, Form(max_length=8)] = "",
                    ) -> RedirectResponse:
    try:
        messages.correct(session, post.shop, message_id, reason=reason, urgent=urgent == "on")
    except NotFound:
        raise PageNotFound("message", message_id) from None
    session.commit()
    t = TEXT.translator(locale_of(request))
    return redirect_back(f"{PATH}/complaints", post.shop, post.token, fragment=f"message-{message_id}",
                         notice=t("complaints.saved"), locale=request.query_params.get("locale") or None)

