"""The orders list's yes/no filters that span domains (held, at risk, disputed, claim open), given
to the list through app/web/order_filters.py like any domain's filter. Each condition is an EXISTS
on an indexed table, scoped to the shop, so a filter costs one index probe per order looked at."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, select

from app.disputes.models import Dispute
from app.orders.models import Order
from app.resolutions.models import Resolution
from app.risk.models import RiskScore
from app.shops.models import Shop
from app.suppliers.ordering import HOLDING, policy_of
from app.suppliers.tables import OrderFlag
from app.web.order_filters import register_order_filter

YES = {"yes": "filter.yes", "no": "filter.no"}
# A claim the merchant or the pipeline still has to act on (app/resolutions/models.py).
OPEN_CLAIM = ("offered", "approved", "pending_review", "awaiting_return", "failed")


def _either(found: ColumnElement[bool], value: str) -> ColumnElement[bool]:
    return found if value == "yes" else ~found


def held(shop: Shop, value: str) -> ColumnElement[bool]:
    return _either(exists(select(OrderFlag.id).where(
        OrderFlag.order_id == Order.id, OrderFlag.shop_id == shop.id, OrderFlag.kind.in_(HOLDING),
        OrderFlag.resolved_at.is_(None))), value)


def at_risk(shop: Shop, value: str) -> ColumnElement[bool]:
    """At or above the shop's hold line (Settings → ordering), the line the review policy holds at."""
    _, threshold = policy_of(shop)
    return _either(exists(select(RiskScore.order_id).where(
        RiskScore.order_id == Order.id, RiskScore.shop_id == shop.id, RiskScore.probability >= threshold)), value)


def disputed(shop: Shop, value: str) -> ColumnElement[bool]:
    return _either(exists(select(Dispute.id).where(Dispute.order_id == Order.id, Dispute.shop_id == shop.id)), value)


def claim_open(shop: Shop, value: str) -> ColumnElement[bool]:
    return _either(exists(select(Resolution.id).where(
        and_(Resolution.order_id == Order.id, Resolution.shop_id == shop.id, Resolution.status.in_(OPEN_CLAIM)))),
        value)


register_order_filter("held", "filter.held", YES, held, order=10)
register_order_filter("at_risk", "filter.at_risk", YES, at_risk, order=20)
register_order_filter("disputed", "filter.disputed", YES, disputed, order=30)
register_order_filter("claim_open", "filter.claim_open", YES, claim_open, order=40)
