"""Cards that domains add to the merchant's order page (app/dashboard), so the page shows each
domain's part of an order (claims, refunds, disputes, risk…) without the dashboard importing every
domain, and a new domain adds its card without editing the order page.

    register_order_panel("disputes", "disputes/_order_panel.html", build, order=60)

`build(session, shop, order)` returns the template's context, or None when the panel has nothing
to show for this order. Panels are shown in `order`, after the page's own cards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.orders.models import Order
from app.shops.models import Shop

PanelBuilder = Callable[[Session, Shop, Order], dict[str, Any] | None]


@dataclass(frozen=True)
class OrderPanel:
    key: str
    template: str
    build: PanelBuilder
    order: int


_PANELS: dict[str, OrderPanel] = {}


def register_order_panel(key: str, template: str, build: PanelBuilder, *, order: int) -> None:
    _PANELS[key] = OrderPanel(key=key, template=template, build=build, order=order)


def order_panels(session: Session, shop: Shop, order: Order) -> list[tuple[OrderPanel, dict[str, Any]]]:
    """The panels with something to show for this order, each with its context."""
    shown = []
    for panel in sorted(_PANELS.values(), key=lambda p: (p.order, p.key)):
        context = panel.build(session, shop, order)
        if context is not None:
            shown.append((panel, context))
    return shown
