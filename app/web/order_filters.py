"""Filters domains add to the merchant's orders list (app/dashboard): each names a query parameter,
the choices the merchant sees, and the SQL condition on `orders` a choice means — so the list
filters by risk, disputes, claims… without the dashboard knowing those tables.

    register_order_filter("disputed", "orders.filter.disputed", {"yes": "orders.filter.yes"},
                          lambda shop, value: Order.id.in_(select(Dispute.order_id).where(...)))

`condition(shop, value)` gets only a value listed in `choices`; it must scope any subquery to the
shop (the list is scoped to it too, but a subquery must not read another shop's rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement

from app.shops.models import Shop

Condition = Callable[[Shop, str], ColumnElement[bool]]


@dataclass(frozen=True)
class OrderFilter:
    key: str
    label_key: str
    # value -> phrase key
    choices: dict[str, str]
    condition: Condition
    order: int


_FILTERS: dict[str, OrderFilter] = {}


def register_order_filter(key: str, label_key: str, choices: dict[str, str], condition: Condition, *,
                          order: int = 50) -> None:
    _FILTERS[key] = OrderFilter(key=key, label_key=label_key, choices=choices, condition=condition, order=order)


def order_filters() -> list[OrderFilter]:
    return sorted(_FILTERS.values(), key=lambda f: (f.order, f.key))


def conditions(shop: Shop, chosen: dict[str, str]) -> list[ColumnElement[bool]]:
    """The SQL conditions of the chosen filters; unknown keys and values are ignored (the page
    shows only valid choices, so anything else came from a hand-edited link)."""
    found = []
    for key, value in chosen.items():
        spec = _FILTERS.get(key)
        if spec is not None and value in spec.choices:
            found.append(spec.condition(shop, value))
    return found
