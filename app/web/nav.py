"""The dashboard's navigation: one list every page module adds itself to.

A module that serves a merchant page registers it at import time, e.g.
    nav.register("shipments", "Shipments", "/admin/shipments", order=30)
Slots: orders 10, review 15, suppliers 20, inventory 25, shipments 30, resolutions 40, insights 46, risk 47,
notifications 45, privacy 50, settings 60.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    path: str
    order: int
    # Other paths that belong to this item (an order's page belongs to Orders).
    prefixes: tuple[str, ...] = ()


_ITEMS: dict[str, NavItem] = {}


def register(key: str, label: str, path: str, *, order: int, prefixes: tuple[str, ...] = ()) -> None:
    _ITEMS[key] = NavItem(key=key, label=label, path=path, order=order, prefixes=prefixes)


def items() -> list[NavItem]:
    return sorted(_ITEMS.values(), key=lambda item: (item.order, item.label))


def active_key(path: str) -> str | None:
    """The item the page at `path` belongs to: the longest matching path or prefix."""
    best, best_length = None, -1
    for item in _ITEMS.values():
        for candidate in (item.path, *item.prefixes):
            matches = path == candidate or path.startswith(candidate.rstrip("/") + "/")
            if matches and len(candidate) > best_length:
                best, best_length = item.key, len(candidate)
    return best
