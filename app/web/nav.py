"""The dashboard's navigation: one list every page module adds itself to, in groups.

A module that serves a merchant page registers it at import time, e.g.
    nav.register("shipments", "nav.shipments", "/admin/shipments", order=30, group="orders")
`label` is a phrase key (app/web/phrases.py `phrase`; a label that is no key is shown as written).
The top bar shows Home and the groups; a group's own items are its secondary menu, shown under the
bar on its pages (and all of them in the menu on a phone), so the bar fits at any width from 1024 px
however many pages the domains add.

Groups: orders, customers, suppliers, insights, settings (GROUPS). Slots: orders 10, review 15,
suppliers 20, health 22, inventory 25, shipments 30, disputes 35, resolutions 40, notifications 45,
insights 46, risk 47, privacy 50, settings 60.
"""

from __future__ import annotations

from dataclasses import dataclass

# (key, phrase key) in the order the bar shows them.
GROUPS = (
    ("orders", "nav.group.orders"),
    ("customers", "nav.group.customers"),
    ("suppliers", "nav.group.suppliers"),
    ("insights", "nav.group.insights"),
    ("settings", "nav.group.settings"),
)
HOME_PATH = "/admin"
# Pages registered before groups existed, and pages whose module does not say: where they belong.
DEFAULT_GROUPS = {
    "orders": "orders", "review": "orders", "shipments": "orders", "disputes": "orders", "alerts": "orders",
    "resolutions": "customers", "notifications": "customers", "privacy": "settings",
    "suppliers": "suppliers", "health": "suppliers", "inventory": "suppliers",
    "insights": "insights", "risk": "insights", "ratios": "insights", "settings": "settings",
}


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    path: str
    order: int
    group: str
    # Other paths that belong to this item (an order's page belongs to Orders).
    prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class NavGroup:
    key: str
    label: str
    items: tuple[NavItem, ...]

    @property
    def path(self) -> str:
        return self.items[0].path


_ITEMS: dict[str, NavItem] = {}


def register(key: str, label: str, path: str, *, order: int, prefixes: tuple[str, ...] = (),
             group: str | None = None) -> None:
    group = group or DEFAULT_GROUPS.get(key, "settings")
    if group not in dict(GROUPS):
        raise ValueError(f"unknown nav group {group!r}; one of {[g for g, _ in GROUPS]}")
    _ITEMS[key] = NavItem(key=key, label=label, path=path, order=order, group=group, prefixes=prefixes)


def items() -> list[NavItem]:
    return sorted(_ITEMS.values(), key=lambda item: (item.order, item.label))


def groups() -> list[NavGroup]:
    """The groups that have pages, each with its items in order."""
    found = []
    for key, label in GROUPS:
        members = tuple(item for item in items() if item.group == key)
        if members:
            found.append(NavGroup(key=key, label=label, items=members))
    return found


def active_key(path: str) -> str | None:
    """The item the page at `path` belongs to: the longest matching path or prefix."""
    best, best_length = None, -1
    for item in _ITEMS.values():
        for candidate in (item.path, *item.prefixes):
            matches = path == candidate or path.startswith(candidate.rstrip("/") + "/")
            if matches and len(candidate) > best_length:
                best, best_length = item.key, len(candidate)
    return best


def group_of(key: str | None) -> str | None:
    item = _ITEMS.get(key or "")
    return item.group if item else None
