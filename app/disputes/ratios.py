"""The shop's dispute and fraud ratios per month against the card networks' monitoring lines.

Sources (docs/facts/disputes-risk-analytics.md, "Chargeback-ratio thresholds"):
- Visa VAMP (since 1 Apr 2025): (TC40 fraud reports + TC15 disputes) / settled card-not-present
  transactions, monthly. Merchant "excessive" at 2.20 % until 31 Mar 2026, 1.50 % from 1 Apr 2026,
  and only when fraud + disputes exceed 1,500 in the month. Vendors disagree on whether alerts
  resolved before a dispute count (Chargeback.io: no; Chargeblast: TC40s raised through CDRN do), so
  both variants are computed: `tc15_tc40` (Visa's text: disputes and fraud reports) and
  `with_alerts` (every Ethoca / CDRN / RDR alert counted as well, the pessimistic reading).
- Mastercard ECP: CTR = this month's chargebacks / LAST month's transactions. CMM from 1.0 % with
  100 chargebacks, ECM from 1.5 % (100-299), HECM from 3.0 % (300+). Stripe's "dispute activity"
  divides by the same month's payments instead; both variants are shown (`previous_month`,
  `same_month`).
- Mastercard EFM (fraud): fraud chargebacks (4837 / 4863) from 0.50 % of sales, with 1,000 sales
  and USD 50k of fraud chargebacks in the month.
- Shopify Payments: merchants report a rolling reserve when chargebacks reach about 1 %; no count
  floor, so it is the line small shops meet first.
Early warning from 0.65 % (the old Visa early-warning level the facts recommend alerting at), 0.35 %
for the fraud ratio. Count-based, by the dispute's date (as the networks count).

The store does not tell Dropguard each payment's card network, so every ratio here is the shop's
whole card activity measured against each network's line: a shop mostly paid by one network reads
that network's ratio; the page says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.alerts.models import PreDisputeAlert
from app.disputes.models import Dispute
from app.orders.models import Order

P = Decimal("0.01")  # one per cent
FRAUD_REASONS = ("fraudulent", "unrecognized")
PAID = ("paid", "partially_paid", "partially_refunded", "refunded")
LEVELS = ("early_warning", "at_threshold")


@dataclass(frozen=True)
class MonthCounts:
    """What one month of the shop's card activity holds (hand-made in tests, counted from the
    database by `history`)."""

    month: date  # first day
    transactions: int
    disputes: int  # chargebacks opened this month (inquiries excluded)
    fraud_disputes: int
    tc40: int = 0  # fraud reports received as TC40 alerts
    alerts: int = 0  # Ethoca / CDRN / RDR alerts (resolved before any dispute)


@dataclass(frozen=True)
class Line:
    name: str
    ratio: Decimal
    min_count: int = 0  # the programme applies only from this many (disputes, or fraud + disputes)


@dataclass(frozen=True)
class Programme:
    key: str
    measure: str  # disputes | fraud
    variants: tuple[str, ...]
    early_warning: Decimal
    lines: tuple[Line, ...]


def vamp_line(month: date) -> Line:
    return Line("vamp_excessive", (Decimal("2.20") if month < date(2026, 4, 1) else Decimal("1.50")) * P, 1500)


PROGRAMMES: tuple[Programme, ...] = (
    Programme("visa_vamp", "disputes", ("tc15_tc40", "with_alerts"), Decimal("0.65") * P, ()),
    Programme("mastercard_ecp", "disputes", ("previous_month", "same_month"), Decimal("0.65") * P, (
        Line("cmm", Decimal("1.00") * P, 100), Line("ecm", Decimal("1.50") * P, 100),
        Line("hecm", Decimal("3.00") * P, 300))),
    Programme("mastercard_efm", "fraud", ("fraud_chargebacks",), Decimal("0.35") * P, (
        Line("efm", Decimal("0.50") * P, 0),)),
    Programme("shopify_reserve", "disputes", ("same_month",), Decimal("0.65") * P, (
        Line("reserve", Decimal("1.00") * P, 0),)),
)
PROGRAMME_KEYS = tuple(p.key for p in PROGRAMMES)


@dataclass(frozen=True)
class Reading:
    month: date
    programme: str
    variant: str
    count: int  # the numerator
    base: int  # the denominator (transactions)
    ratio: Decimal | None  # None without transactions to divide by
    early_warning: Decimal
    line: Line  # the lowest line of the programme this month
    crossed: Line | None  # the highest line reached
    level: str | None  # early_warning | at_threshold | None
    count_met: bool  # the crossed (or lowest) line's count floor is met

    @property
    def threshold(self) -> Decimal:
        return self.line.ratio if self.level != "early_warning" else self.early_warning


def lines_for(programme: Programme, month: date) -> tuple[Line, ...]:
    """The programme's lines in force that month, lowest first."""
    return (vamp_line(month),) if programme.key == "visa_vamp" else programme.lines


def _ratio(count: int, base: int) -> Decimal | None:
    return (Decimal(count) / Decimal(base)) if base else None


def _numerator(programme: Programme, variant: str, m: MonthCounts) -> int:
    if programme.key == "visa_vamp":
        return m.disputes + m.tc40 + (m.alerts if variant == "with_alerts" else 0)
    return m.fraud_disputes if programme.measure == "fraud" else m.disputes


def evaluate(history: list[MonthCounts]) -> list[Reading]:
    """Every programme and variant for every month of `history` (consecutive months, oldest first)."""
    readings = []
    for index, m in enumerate(history):
        previous = history[index - 1] if index > 0 else None
        for programme in PROGRAMMES:
            lines = lines_for(programme, m.month)
            for variant in programme.variants:
                count = _numerator(programme, variant, m)
                if variant == "previous_month":
                    base = previous.transactions if previous and previous.month < m.month else 0
                else:
                    base = m.transactions
                ratio = _ratio(count, base)
                crossed = None
                if ratio is not None:
                    reached = [line for line in lines if ratio >= line.ratio]
                    crossed = reached[-1] if reached else None
                level = None
                if crossed is not None:
                    level = "at_threshold"
                elif ratio is not None and count and ratio >= programme.early_warning:
                    level = "early_warning"
                floor = (crossed or lines[0]).min_count
                readings.append(Reading(m.month, programme.key, variant, count, base, ratio,
                                        programme.early_warning, lines[0], crossed, level, count >= floor))
    return readings


# -- counting from the database -------------------------------------------------------------------


def month_start(moment: datetime | date) -> date:
    return date(moment.year, moment.month, 1)


def months_back(last: date, count: int) -> list[date]:
    found, year, month = [], last.year, last.month
    for _ in range(count):
        found.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return found[::-1]


def _by_month(session: Session, query) -> dict[date, tuple[int, ...]]:
    return {row[0].date() if isinstance(row[0], datetime) else row[0]: tuple(row[1:]) for row in session.execute(query)}


def history(session: Session, shop_id: int, *, months: int = 12, now: datetime | None = None) -> list[MonthCounts]:
    """The last `months` months (the current one so far included), counted by the dispute's and the
    alert's date and the order's placement (UTC months)."""
    now = now or datetime.now(UTC)
    span = months_back(month_start(now), months)
    since = datetime(span[0].year, span[0].month, 1, tzinfo=UTC)
    # One month earlier too: Mastercard divides by the previous month's sales.
    before = months_back(span[0], 2)[0]
    since_sales = datetime(before.year, before.month, 1, tzinfo=UTC)
    placed = func.coalesce(Order.placed_at, Order.created_at)

    def month_of(column):
        return func.date_trunc("month", func.timezone("UTC", column)).label("month")

    sales_month = month_of(placed)
    sales = _by_month(session, select(sales_month, func.count()).where(
        Order.shop_id == shop_id, placed >= since_sales, Order.financial_status.in_(PAID)).group_by(sales_month))
    # Inquiries move no money and are no chargeback: the type is in the dispute's ledger event.
    # Read through the order's events (indexed by order): a dispute naming no order we know has no
    # type on record and counts as a chargeback.
    not_inquiry = text("NOT EXISTS (SELECT 1 FROM evidence_events e WHERE e.order_id = disputes.order_id"
                       " AND e.kind = 'dispute.opened' AND e.data->>'dispute_id' = disputes.id::text"
                       " AND lower(e.data->>'type') = 'inquiry')")
    opened = func.coalesce(Dispute.opened_at, Dispute.created_at)
    dispute_month = month_of(opened)
    disputes = _by_month(session, select(
        dispute_month, func.count(), func.count().filter(Dispute.reason.in_(FRAUD_REASONS))
    ).where(Dispute.shop_id == shop_id, opened >= since, not_inquiry).group_by(dispute_month))
    alert_month = month_of(PreDisputeAlert.received_at)
    alerts = _by_month(session, select(
        alert_month, func.count().filter(PreDisputeAlert.alert_type == "tc40"),
        func.count().filter(PreDisputeAlert.alert_type != "tc40"),
    ).where(PreDisputeAlert.shop_id == shop_id, PreDisputeAlert.received_at >= since).group_by(alert_month))
    result = []
    for month in [before, *span]:
        d = disputes.get(month, (0, 0))
        a = alerts.get(month, (0, 0))
        result.append(MonthCounts(month, sales.get(month, (0,))[0], d[0], d[1], a[0], a[1]))
    return result


def readings(session: Session, shop_id: int, *, months: int = 12, now: datetime | None = None) -> list[Reading]:
    """Readings of the last `months` months (the extra month before them only serves as a base)."""
    counted = history(session, shop_id, months=months, now=now)
    return [r for r in evaluate(counted) if r.month >= counted[1].month]
