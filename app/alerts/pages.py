"""The merchant's dispute outcome pages (nav: Outcomes): win rates and recovered amounts by reason,
supplier, carrier and product; the dispute and fraud ratios against the networks' lines; the
pre-dispute alerts with the decision taken on each; the daily ledger digests and their check.
Every chart carries its numbers as a table. Home lists this domain's warnings (attention)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from app.alerts import ratio_watch, service
from app.alerts.page_text import TEXT
from app.db import SessionDep
from app.disputes import ratios, win_rates
from app.evidence import digest
from app.shops.models import Shop
from app.templating import format_percent
from app.web import charts, nav
from app.web.attention import register_attention
from app.web.auth import MerchantPost, MerchantShop
from app.web.forms import redirect_back
from app.web.phrases import localised
from app.web.rendering import render, session_query

router = APIRouter(prefix="/admin", include_in_schema=False)
PATH = "/admin/outcomes"
TABS = (("outcomes", PATH), ("ratios", f"{PATH}/ratios"), ("alerts", f"{PATH}/alerts"),
        ("digests", f"{PATH}/digests"))
nav.register("outcomes", "nav.outcomes", PATH, order=48, group="insights")

register_attention("ratio_at_threshold", "attention.ratio_at_threshold", f"{PATH}/ratios",
                   lambda session, shop: ratio_watch.current_warnings(session, shop, "at_threshold"),
                   tone="critical", order=12)
register_attention("ratio_early_warning", "attention.ratio_early_warning", f"{PATH}/ratios",
                   lambda session, shop: ratio_watch.current_warnings(session, shop, "early_warning"),
                   tone="warning", order=13)
register_attention("alerts_unreported", "attention.alerts_unreported", f"{PATH}/alerts",
                   service.count_unreported, tone="warning", order=14)


def _base(request: Request, shop: Shop, tab: str) -> dict[str, Any]:
    words = localised(request, shop, TEXT)
    keep = {"locale": words["locale"]} if words["locale"] != "en" else {}
    signed_in = session_query(request.query_params.get("id_token", ""), shop)

    def link(path: str, **params: Any) -> str:
        query = urlencode({**keep, **{k: v for k, v in params.items() if v not in (None, "")}})
        return f"{path}?" + "&".join(part for part in (query, signed_in) if part)

    return {**words, "tab": tab, "tabs": TABS, "link": link, "currency": shop.currency}


def _reason(t, reason: str | None) -> str:
    if not reason:
        return t("unknown")
    return t(f"reason.{reason}") if TEXT.has(f"reason.{reason}") else reason.replace("_", " ")


# -- outcomes -------------------------------------------------------------------------------------

@router.get("/outcomes", response_class=HTMLResponse)
def outcomes_page(request: Request, session: SessionDep, shop: MerchantShop,
                  by: str = Query("reason", pattern="^(reason|supplier|carrier|product)$")) -> HTMLResponse:
    context = _base(request, shop, "outcomes")
    t, locale = context["t"], context["locale"]
    rows = win_rates.by_dimension(session, shop, by)
    for row in rows:
        row["label"] = _reason(t, row["key"]) if by == "reason" else (row["label"] if row["key"] else t("unknown"))
    dimension = t(f"dim.{by}").lower()
    decided = [r for r in rows if r["win_rate"] is not None]
    win_chart = charts.ranking(
        t("outcomes.chart", dimension=dimension), t("outcomes.chart.desc", dimension=dimension),
        [(r["label"], r["win_rate"]) for r in sorted(decided, key=lambda r: -r["win_rate"])],
        locale=locale, unit="percent", label_column=t(f"dim.{by}"), value_column=t("col.win_rate"))
    recovered_chart = charts.ranking(
        t("outcomes.recovered.chart", dimension=dimension), t("outcomes.recovered.desc", dimension=dimension),
        [(r["label"], float(r["recovered"])) for r in sorted(rows, key=lambda r: -r["recovered"]) if r["won"]],
        locale=locale, unit="money", currency=shop.currency, label_column=t(f"dim.{by}"),
        value_column=t("col.recovered"))
    total = win_rates.totals(rows)
    summary = t("outcomes.summary", disputes=total["disputes"], won=total["won"], lost=total["lost"],
                open=total["open"], rate=format_percent(total["win_rate"], locale) if total["win_rate"] is not None
                else t("none"), recovered=context["money"](total["recovered"], shop.currency))
    return render(request, "alerts/outcomes.html", shop, {
        **context, "by": by, "dimensions": win_rates.DIMENSIONS, "rows": rows, "total": total, "summary": summary,
        "win_chart": win_chart, "recovered_chart": recovered_chart,
    })


# -- ratios ---------------------------------------------------------------------------------------

def _ratio_chart(t, locale: str, programme: ratios.Programme, readings: list[ratios.Reading]) -> charts.Chart:
    months = sorted({r.month for r in readings})
    series: dict[str, list[float | None]] = {}
    for variant in programme.variants:
        by_month = {r.month: r for r in readings if r.variant == variant}
        series[t(f"ratio.short.{variant}")] = [
            float(by_month[m].ratio) if m in by_month and by_month[m].ratio is not None else None for m in months]
    series[t("ratios.early_line", ratio=format_percent(float(programme.early_warning), locale, 2))] = [
        float(programme.early_warning) for _ in months]
    applying = [ratios.lines_for(programme, m) for m in months]
    for name, ratio in sorted({(line.name, line.ratio) for month in applying for line in month},
                              key=lambda pair: pair[1]):
        label = t("ratios.line", line=t(f"ratio.short_line.{name}"), ratio=format_percent(float(ratio), locale, 2))
        # A line that moved (VAMP on 1 April 2026) is drawn only for the months it applied to.
        series[label] = [float(ratio) if any(line.name == name and line.ratio == ratio for line in month) else None
                         for month in applying]
    return charts.trend(t("ratios.chart", programme=t(f"ratio.programme.{programme.key}")),
                        t("ratios.chart.desc", measure=t(f"measure.{programme.measure}")),
                        [m.strftime("%Y-%m") for m in months], series, locale=locale, unit="percent",
                        label_column=t("ratios.month"))


@router.get("/outcomes/ratios", response_class=HTMLResponse)
def ratios_page(request: Request, session: SessionDep, shop: MerchantShop) -> HTMLResponse:
    context = _base(request, shop, "ratios")
    t, locale = context["t"], context["locale"]
    readings = ratios.readings(session, shop.id, months=12)
    current = ratios.month_start(datetime.now(UTC))
    # The chart starts at the shop's first month with sales or disputes (a new shop is not shown
    # a year of empty months); the table holds this month so far and the last one.
    active = [r.month for r in readings if r.base or r.count]
    first = min(active) if active else current
    recent = sorted({r.month for r in readings})[-2:]
    sections = []
    for programme in ratios.PROGRAMMES:
        mine = [r for r in readings if r.programme == programme.key and r.month >= first]
        sections.append({
            "programme": programme, "chart": _ratio_chart(t, locale, programme, mine),
            "rows": sorted((r for r in mine if r.month in recent),
                           key=lambda r: (r.month, -programme.variants.index(r.variant)), reverse=True),
        })
    warnings = [r for r in readings if r.month == current and r.level]
    return render(request, "alerts/ratios.html", shop, {
        **context, "sections": sections, "warnings": warnings,
        "pct": lambda value: format_percent(float(value), locale, 2) if value is not None else t("none"),
    })


# -- alerts ---------------------------------------------------------------------------------------

@router.get("/outcomes/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, session: SessionDep, shop: MerchantShop) -> HTMLResponse:
    context = _base(request, shop, "alerts")
    return render(request, "alerts/alerts.html", shop, {**context, "alerts": service.for_shop(session, shop.id)})


# -- digests --------------------------------------------------------------------------------------

def _digest_context(request: Request, session: Session, shop: Shop) -> dict[str, Any]:
    return {**_base(request, shop, "digests"), "digests": digest.history(session, shop.id)}


@router.get("/outcomes/digests", response_class=HTMLResponse)
def digests_page(request: Request, session: SessionDep, shop: MerchantShop) -> HTMLResponse:
    return render(request, "alerts/digests.html", shop, _digest_context(request, session, shop))


@router.post("/outcomes/digests/check", response_model=None)
def check_digests(session: SessionDep, post: MerchantPost) -> RedirectResponse:
    result = digest.check(session, post.shop)
    t = TEXT.translator(post.shop.locale if post.shop.locale in ("en", "fr") else "en")
    if result.intact:
        notice = t("digests.intact", count=result.digests)
    else:
        digest.record_failure(session, post.shop, result)
        notice = t("digests.broken", day=result.broken_day, reason=result.reason)
    session.commit()
    return redirect_back(f"{PATH}/digests", post.shop, post.token, notice=notice)
