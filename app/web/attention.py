"""What needs the merchant today: items domains add to the dashboard's Home (held orders, open
claims, disputes nearing their deadline, parcels in trouble, suppliers breaching SLA…), each a
count with a link, computed per request with one small query each.

    register_attention("disputes_due", "home.attention.disputes_due", "/admin/disputes?due=soon",
                       count_due_disputes, tone="critical", order=10)

`count(session, shop)` returns how many things wait; items at 0 are not shown. Each domain keeps its
items in `app/<domain>/attention.py`, imported by its pages module (app/suppliers/attention.py…).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.shops.models import Shop

Counter = Callable[[Session, Shop], int]


@dataclass(frozen=True)
class AttentionItem:
    key: str
    # Phrase key in a registered Phrasebook (app/web/phrases.py), given {count}; "<key>_one" for one.
    label_key: str
    path: str
    count: Counter
    tone: str  # critical | warning | info
    order: int


_ITEMS: dict[str, AttentionItem] = {}


def register_attention(key: str, label_key: str, path: str, count: Counter, *, tone: str = "warning",
                       order: int = 50) -> None:
    if tone not in ("critical", "warning", "info"):
        raise ValueError(f"unknown tone {tone!r}")
    _ITEMS[key] = AttentionItem(key=key, label_key=label_key, path=path, count=count, tone=tone, order=order)


def waiting(session: Session, shop: Shop) -> list[tuple[AttentionItem, int]]:
    """The items with something waiting, most urgent first."""
    found = []
    for item in sorted(_ITEMS.values(), key=lambda i: (i.order, i.key)):
        count = item.count(session, shop)
        if count:
            found.append((item, count))
    return found
