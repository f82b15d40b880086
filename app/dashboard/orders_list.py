"""The merchant's orders list: search, filters, sorting and keyset pagination, all in SQL.

A page is read with a keyset (the sort value and id of the last row seen), never OFFSET, so the
thousandth page costs what the first does. The list's query parameters are read here and every
value is checked: a hand-edited link gets a sentence saying what was wrong, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pycountry
from markupsafe import Markup, escape
from sqlalchemy import ColumnElement, Select, and_, exists, func, literal_column, select, text, tuple_, union
from sqlalchemy.orm import Session

from app.dashboard import filters as _filters  # also registers the cross-domain filters
from app.fulfilments.models import Shipment
from app.orders.models import Customer, DeliveryAddress, Order
from app.shops.models import Shop
from app.suppliers.models import Supplier, SupplierOrder
from app.web import order_filters

PAGE_SIZE = 50
STATUSES = ("open", "paid", "supplier_ordered", "shipped", "delivered", "cancelled")
# sort key -> (column, descending)
SORTS: dict[str, tuple[Any, bool]] = {
    "newest": (Order.created_at, True),
    "oldest": (Order.created_at, False),
    "total_high": (Order.total_price, True),
    "total_low": (Order.total_price, False),
}
SEARCH_MAX = 120
_ORDER_NUMBER = re.compile(r"^#?\s*(\d{1,12})$")


class BadQuery(ValueError):
    """A list parameter that cannot be read: `key` names it, the message says why (a phrase key)."""

    def __init__(self, key: str, reason: str, **params: Any) -> None:
        super().__init__(reason)
        self.key, self.reason, self.params = key, reason, params


@dataclass
class ListQuery:
    search: str = ""
    status: str = ""
    chosen: dict[str, str] = field(default_factory=dict)  # the registered filters (app/web/order_filters)
    country: str = ""
    supplier_id: int | None = None
    carrier: str = ""
    since: date | None = None
    until: date | None = None
    sort: str = "newest"
    after: tuple[Any, int] | None = None
    before: tuple[Any, int] | None = None

    def params(self, **change: Any) -> dict[str, str]:
        """The query parameters of this list (without the cursor), for links and the form."""
        values = {
            "q": self.search, "status": self.status, "country": self.country,
            "supplier": str(self.supplier_id) if self.supplier_id else "", "carrier": self.carrier,
            "from": self.since.isoformat() if self.since else "", "to": self.until.isoformat() if self.until else "",
            "sort": self.sort if self.sort != "newest" else "", **self.chosen,
        }
        values.update(change)
        return {k: v for k, v in values.items() if v}

    @property
    def filtered(self) -> bool:
        return bool(self.search or self.status or self.chosen or self.country or self.supplier_id or self.carrier
                    or self.since or self.until)


# ---- reading the query string ---------------------------------------------------------------------


def encode_cursor(value: Any, order_id: int) -> str:
    raw = f"{value.isoformat() if isinstance(value, datetime) else value}|{order_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        value, _, order_id = raw.rpartition("|")
        column, _ = SORTS[sort]
        parsed: Any = datetime.fromisoformat(value) if column is Order.created_at else Decimal(value)
        return parsed, int(order_id)
    except (binascii.Error, UnicodeDecodeError, ValueError, InvalidOperation) as error:
        raise BadQuery("cursor", "bad.cursor") from error


def _date(key: str, value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise BadQuery(key, "bad.date", value=value[:20]) from error


def parse(params: dict[str, str], shop_supplier_ids: set[int] | None = None) -> tuple[ListQuery, list[BadQuery]]:
    """The list query a link asks for, and what in it could not be read (left out of the query)."""
    query, problems = ListQuery(), []

    def take(key: str, read):
        value = (params.get(key) or "").strip()
        if not value:
            return
        try:
            read(value)
        except BadQuery as problem:
            problems.append(problem)

    def search(value: str) -> None:
        if len(value) > SEARCH_MAX:
            raise BadQuery("q", "bad.search_long", max=SEARCH_MAX)
        query.search = value

    def status(value: str) -> None:
        if value not in STATUSES:
            raise BadQuery("status", "bad.choice", value=value[:30])
        query.status = value

    def country(value: str) -> None:
        if len(value) != 2 or pycountry.countries.get(alpha_2=value.upper()) is None:
            raise BadQuery("country", "bad.country", value=value[:30])
        query.country = value.upper()

    def supplier(value: str) -> None:
        if not value.isdigit() or (shop_supplier_ids is not None and int(value) not in shop_supplier_ids):
            raise BadQuery("supplier", "bad.choice", value=value[:30])
        query.supplier_id = int(value)

    def carrier(value: str) -> None:
        query.carrier = value[:64]

    def since(value: str) -> None:
        query.since = _date("from", value)

    def until(value: str) -> None:
        query.until = _date("to", value)

    def sort(value: str) -> None:
        if value not in SORTS:
            raise BadQuery("sort", "bad.choice", value=value[:30])
        query.sort = value

    for key, read in (("q", search), ("status", status), ("country", country), ("supplier", supplier),
                      ("carrier", carrier), ("from", since), ("to", until), ("sort", sort)):
        take(key, read)
    if query.since and query.until and query.since > query.until:
        problems.append(BadQuery("to", "bad.range"))
        query.until = None
    for spec in order_filters.order_filters():
        value = (params.get(spec.key) or "").strip()
        if not value:
            continue
        if value in spec.choices:
            query.chosen[spec.key] = value
        else:
            problems.append(BadQuery(spec.key, "bad.choice", value=value[:30]))
    # A cursor belongs to one sort order: read it last.
    for key in ("after", "before"):
        value = (params.get(key) or "").strip()
        if value:
            try:
                setattr(query, key, decode_cursor(value, query.sort))
            except BadQuery as problem:
                problems.append(problem)
    return query, problems


# ---- the SQL ---------------------------------------------------------------------------------------


def _zone(shop: Shop) -> ZoneInfo:
    try:
        return ZoneInfo(shop.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _day_start(day: date, shop: Shop) -> datetime:
    """Midnight of `day` in the shop's time zone, as the naive UTC the tables store."""
    local = datetime.combine(day, time.min, tzinfo=_zone(shop))
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def search_condition(shop: Shop, text_: str) -> ColumnElement[bool]:
    """An order number (#1001 or 1001), a tracking number, or part of the customer's name or e-mail
    (trigram-indexed, migrations 2026-12-04-2100). One IN over a UNION of the three index lookups,
    so the planner reads the few matching orders by id instead of testing every order of the shop."""
    number = _ORDER_NUMBER.match(text_)
    names = {text_} | ({f"#{number.group(1)}"} if number else set())
    like = "%" + text_.lower().replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"
    matches = union(
        select(Order.id).where(Order.shop_id == shop.id, Order.name.in_(names)),
        select(Order.id).where(Order.shop_id == shop.id, Order.customer_id.in_(select(Customer.id).where(
            Customer.shop_id == shop.id, customer_search_text().like(like)))),
        select(Shipment.order_id).where(Shipment.shop_id == shop.id,
                                        Shipment.tracking_number == text_.upper().replace(" ", "")),
    )
    return Order.id.in_(matches)


def customer_search_text() -> ColumnElement[str]:
    # The exact expression of the trigram index ix_customers_search (the planner matches it textually).
    space = literal_column("' '")
    return func.lower(func.coalesce(Customer.first_name, literal_column("''")).concat(space)
                      .concat(func.coalesce(Customer.last_name, literal_column("''"))).concat(space)
                      .concat(func.coalesce(Customer.email, literal_column("''"))))


def conditions(shop: Shop, query: ListQuery) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = [Order.shop_id == shop.id]
    if query.search:
        found.append(search_condition(shop, query.search))
    if query.status:
        found.append(Order.status == query.status)
    if query.country:
        found.append(exists(select(DeliveryAddress.order_id).where(
            DeliveryAddress.order_id == Order.id, DeliveryAddress.country_code == query.country)))
    if query.supplier_id:
        found.append(exists(select(SupplierOrder.id).where(
            SupplierOrder.order_id == Order.id, SupplierOrder.shop_id == shop.id,
            SupplierOrder.supplier_id == query.supplier_id)))
    if query.carrier:
        found.append(exists(select(Shipment.id).where(
            Shipment.order_id == Order.id, Shipment.shop_id == shop.id,
            func.lower(Shipment.carrier) == query.carrier.lower())))
    if query.since:
        found.append(Order.created_at >= _day_start(query.since, shop))
    if query.until:
        found.append(Order.created_at < _day_start(query.until + timedelta(days=1), shop))
    found.extend(order_filters.conditions(shop, query.chosen))
    return found


def page_select(shop: Shop, query: ListQuery, *, limit: int = PAGE_SIZE) -> Select:
    """One page of the list plus one row (to know whether there is a next page)."""
    column, descending = SORTS[query.sort]
    statement = select(Order).where(*conditions(shop, query))
    backwards = query.before is not None and query.after is None
    cursor = query.before if backwards else query.after
    if cursor is not None:
        later = descending == backwards  # the next rows have greater keys
        key, cursor_value = tuple_(column, Order.id), tuple_(*cursor)
        statement = statement.where(key > cursor_value if later else key < cursor_value)
    ascending = descending == backwards
    order_by = (column.asc(), Order.id.asc()) if ascending else (column.desc(), Order.id.desc())
    return statement.order_by(*order_by).limit(limit + 1)


@dataclass
class Page:
    orders: list[Order]
    next_cursor: str | None
    previous_cursor: str | None


def read_page(session: Session, shop: Shop, query: ListQuery, *, limit: int | None = None) -> Page:
    limit = limit or PAGE_SIZE
    column, _ = SORTS[query.sort]
    orders = list(session.scalars(page_select(shop, query, limit=limit)))
    more = len(orders) > limit
    orders = orders[:limit]
    backwards = query.before is not None and query.after is None
    if backwards:
        orders.reverse()

    def cursor(order: Order) -> str:
        return encode_cursor(getattr(order, column.key), order.id)

    if not orders:
        return Page([], None, None)
    has_next = more if not backwards else True
    has_previous = (query.after is not None) if not backwards else more
    return Page(orders, cursor(orders[-1]) if has_next else None, cursor(orders[0]) if has_previous else None)


# ---- choices the form offers ---------------------------------------------------------------------


def suppliers(session: Session, shop: Shop) -> list[Supplier]:
    return list(session.scalars(select(Supplier).where(Supplier.shop_id == shop.id).order_by(Supplier.name)))


def carriers(session: Session, shop: Shop, *, most: int = 50) -> list[str]:
    """The carriers the shop's parcels went with: a loose index scan over ix_shipments_shop_carrier
    (one probe per distinct carrier, not one row per parcel)."""
    rows = session.execute(text("""
        WITH RECURSIVE found(carrier, n) AS (
            (SELECT carrier, 1 FROM shipments WHERE shop_id = :shop AND carrier IS NOT NULL ORDER BY carrier LIMIT 1)
            UNION ALL
            SELECT (SELECT s.carrier FROM shipments s WHERE s.shop_id = :shop AND s.carrier > found.carrier
                    ORDER BY s.carrier LIMIT 1), n + 1
            FROM found WHERE found.carrier IS NOT NULL AND n < :most
        )
        SELECT carrier FROM found WHERE carrier IS NOT NULL
    """), {"shop": shop.id, "most": most})
    return [row.carrier for row in rows]


@cache
def countries() -> list[tuple[str, str]]:
    return sorted(((c.alpha_2, c.name) for c in pycountry.countries), key=lambda pair: pair[1])


@cache
def _country_options() -> str:
    return "".join(f'<option value="{code}">{escape(name)}</option>' for code, name in countries())


def country_options(chosen: str) -> Markup:
    """The country select's ~250 options, built once (a template loop over them was the list
    page's largest rendering cost); only the chosen one is marked per request."""
    options = _country_options()
    if chosen:
        options = options.replace(f'value="{chosen}">', f'value="{chosen}" selected>', 1)
    return Markup(options)  # noqa: S704 - codes are ISO letters, names escaped above


def related(session: Session, shop: Shop, orders: list[Order]) -> dict[str, dict[int, Any]]:
    """What each row shows besides the order: its customer, country, supplier orders and parcels."""
    ids = [o.id for o in orders]
    if not ids:
        return {"customers": {}, "countries": {}, "suppliers": {}, "shipments": {}}
    customer_ids = {o.customer_id for o in orders if o.customer_id}
    customers = {c.id: c for c in session.scalars(select(Customer).where(
        Customer.shop_id == shop.id, Customer.id.in_(customer_ids)))} if customer_ids else {}
    country = dict(session.execute(select(DeliveryAddress.order_id, DeliveryAddress.country_code).where(
        DeliveryAddress.shop_id == shop.id, DeliveryAddress.order_id.in_(ids))).all())
    supplier_rows: dict[int, list[tuple[str, str]]] = {}
    for order_id, status, name in session.execute(
        select(SupplierOrder.order_id, SupplierOrder.status, Supplier.name)
        .join(Supplier, Supplier.id == SupplierOrder.supplier_id)
        .where(SupplierOrder.shop_id == shop.id, SupplierOrder.order_id.in_(ids)).order_by(SupplierOrder.id)
    ):
        supplier_rows.setdefault(order_id, []).append((name, status))
    shipments: dict[int, list[Shipment]] = {}
    for shipment in session.scalars(select(Shipment).where(
            Shipment.shop_id == shop.id, Shipment.order_id.in_(ids)).order_by(Shipment.id)):
        shipments.setdefault(shipment.order_id, []).append(shipment)
    return {"customers": {o.id: customers.get(o.customer_id) for o in orders}, "countries": country,
            "suppliers": supplier_rows, "shipments": shipments}


def held_ids(session: Session, shop: Shop, orders: list[Order]) -> set[int]:
    ids = [o.id for o in orders]
    if not ids:
        return set()
    return set(session.scalars(select(Order.id).where(and_(Order.id.in_(ids), _filters.held(shop, "yes")))))
