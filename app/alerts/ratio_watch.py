"""Warning the merchant before a network's line is crossed: once per month, programme and level.

Each run reads the current month so far (and the last one, whose late disputes still arrive): a
reading at an early-warning or threshold level not yet on record for that month becomes a
RatioWarning row per variant, a ledger event, and one e-mail per programme and level (the mail's
key is the month, programme and level, so a second run, or a second variant, sends nothing more).
The dashboard's Home lists this month's warnings (app/web/attention.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.alerts import merchant_mail
from app.alerts.models import RatioWarning
from app.alerts.page_text import TEXT
from app.disputes import ratios
from app.evidence import service as evidence
from app.shops.models import Shop
from app.templating import format_percent


def _percent(value, locale: str) -> str:
    return format_percent(float(value), locale, places=2)


def check_shop(session: Session, shop: Shop, *, now: datetime | None = None) -> list[RatioWarning]:
    """New warnings of the shop's last two months (the caller commits)."""
    now = now or datetime.now(UTC)
    new: list[RatioWarning] = []
    found = [r for r in ratios.readings(session, shop.id, months=2, now=now) if r.level is not None]
    mails: dict[tuple, list[ratios.Reading]] = {}
    for reading in found:
        threshold = reading.crossed.ratio if reading.crossed else reading.early_warning
        warning_id = session.scalar(insert(RatioWarning).values(
            shop_id=shop.id, month=reading.month, programme=reading.programme, variant=reading.variant,
            level=reading.level, ratio=round(reading.ratio, 5), threshold=threshold,
        ).on_conflict_do_nothing().returning(RatioWarning.id))
        if warning_id is None:
            continue
        new.append(session.get(RatioWarning, warning_id))
        evidence.record(session, chain=shop.domain, shop_id=shop.id, kind="ratio.warning", source="dropguard", data={
            "month": reading.month.isoformat(), "programme": reading.programme, "variant": reading.variant,
            "level": reading.level, "line": reading.crossed.name if reading.crossed else "early_warning",
            "count": reading.count, "transactions": reading.base, "ratio": str(round(reading.ratio, 5)),
            "threshold": str(threshold), "count_floor_met": reading.count_met})
        mails.setdefault((reading.month, reading.programme, reading.level), []).append(reading)
    for (month, programme, level), group in mails.items():
        _mail(session, shop, month, programme, level, group)
    return new


def _mail(session: Session, shop: Shop, month, programme: str, level: str, group: list[ratios.Reading]) -> None:
    locale = shop.locale if shop.locale in ("en", "fr") else "en"
    t = TEXT.translator(locale)
    name = t(f"ratio.programme.{programme}")
    lines = [t(f"mail.ratio.intro.{level}", programme=name, month=month.strftime("%Y-%m")), ""]
    for reading in group:
        threshold = reading.crossed.ratio if reading.crossed else reading.early_warning
        lines.append(t("mail.ratio.line", variant=t(f"ratio.variant.{reading.variant}"), count=reading.count,
                       base=reading.base, ratio=_percent(reading.ratio, locale), threshold=_percent(threshold, locale)))
        if not reading.count_met:
            lines.append(t("mail.ratio.floor", floor=(reading.crossed or reading.line).min_count))
    lines += ["", t("mail.ratio.advice"), t("mail.ratio.network_note")]
    merchant_mail.queue(session, shop, key=f"ratio:{month.isoformat()}:{programme}:{level}", kind="ratio_warning",
                        subject=t(f"mail.ratio.subject.{level}", programme=name, month=month.strftime("%Y-%m")),
                        body="\n".join(lines))


def current_warnings(session: Session, shop: Shop, level: str, *, now: datetime | None = None) -> int:
    """Programmes with a warning at `level` this month (Home's attention list)."""
    month = ratios.month_start(now or datetime.now(UTC))
    return session.scalar(select(func.count(func.distinct(RatioWarning.programme))).where(
        RatioWarning.shop_id == shop.id, RatioWarning.month == month, RatioWarning.level == level)) or 0


def check_all(*, now: datetime | None = None) -> int:
    """Beat: every installed shop."""
    from app.db import session_scope

    count = 0
    with session_scope() as session:
        shop_ids = list(session.scalars(select(Shop.id).where(Shop.status == "installed").order_by(Shop.id)))
    for shop_id in shop_ids:
        with session_scope() as session:
            count += len(check_shop(session, session.get(Shop, shop_id), now=now))
    return count
