"""A customer with distinctive personal data spread over every place the app keeps it."""

from __future__ import annotations

import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db import get_sessionmaker
from app.evidence import service as evidence
from app.notifications.models import Notification
from app.orders.models import Order
from app.resolutions import uploads
from app.resolutions.models import Resolution
from app.shops.models import Shop
from app.webhooks.tasks import process_delivery
from tests.factories import order_payload
from tests.fixtures import ROOT
from tests.webhooks.helpers import record_held

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class Person:
    first_name: str
    last_name: str
    email: str
    phone: str
    address1: str
    city: str
    zip: str
    customer_id: int
    orders: list[int] = field(default_factory=list)  # store order ids

    @property
    def strings(self) -> list[str]:
        return [
            self.first_name,
            self.last_name,
            f"{self.first_name} {self.last_name}",
            self.email,
            self.phone,
            self.address1,
            self.city,
            self.zip,
        ]


def new_person() -> Person:
    tag = uuid.uuid4().hex[:8]
    return Person(
        first_name=f"Zenobia{tag}",
        last_name=f"Quillfeather{tag}",
        email=f"zenobia.{tag}@example.org",
        phone=f"+4420{int(tag, 16) % 10**8:08d}",
        address1=f"77 Hexagon Lane {tag}",
        city=f"Vexton{tag}",
        zip=f"ZX{tag[:5]}",
        customer_id=int(tag, 16) % 10**12 + 10**12,
    )


def order_of(person: Person, **kwargs: Any) -> dict[str, Any]:
    payload = order_payload(email=person.email, financial_status="pending", **kwargs)
    payload["customer"] = {
        "id": person.customer_id,
        "email": person.email,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "phone": person.phone,
    }
    payload["shipping_address"] = dict(
        payload["shipping_address"],
        first_name=person.first_name,
        last_name=person.last_name,
        address1=person.address1,
        city=person.city,
        zip=person.zip,
        phone=person.phone,
    )
    payload["browser_ip"] = "203.0.113.77"
    person.orders.append(payload["id"])
    return payload


def deliver(shop: Shop, topic: str, payload: dict[str, Any]) -> tuple[int, str]:
    """Recorded as the route records it, then processed in-process (no worker can race it)."""
    delivery_id = record_held(shop.domain, topic, payload)
    return delivery_id, process_delivery(delivery_id)


def spread(db: Session, shop: Shop, person: Person) -> Order:
    """The person's order, a stored fulfilment payload, a message's evidence and a failed send."""
    payload = order_of(person)
    assert deliver(shop, "orders/create", payload)[1] == "processed"
    order = db.query(Order).filter_by(shop_id=shop.id, external_id=payload["id"]).one()
    # A topic we only store: it names the person through its order and destination.
    record_held(
        shop.domain,
        "fulfillments/create",
        {
            "id": 555,
            "order_id": payload["id"],
            "destination": {"first_name": person.first_name, "city": person.city},
        },
    )
    evidence.record(
        db,
        chain=shop.domain,
        shop_id=shop.id,
        order_id=order.id,
        kind="supplier_order.requested",
        source="dropguard",
        data={"lines": 1},
        personal={
            "ship_to": {"name": f"{person.first_name} {person.last_name}", "address1": person.address1}
        },
    )
    db.add(
        Notification(
            shop_id=shop.id,
            order_id=order.id,
            customer_id=order.customer_id,
            channel="email",
            stage="order_confirmed",
            locale="en",
            status="failed",
            message_id=f"<{uuid.uuid4().hex}@test>",
            last_error=f"550 5.1.1 <{person.email}>: mailbox unavailable",
        )
    )
    # The customer's report in the resolution centre: their words and a photo on disk.
    [photo] = uploads.store(shop.id, [uploads.Photo("parcel.png", "image/png", PNG)])
    db.add(
        Resolution(
            shop_id=shop.id,
            order_id=order.id,
            reason="not_received",
            status="queued",
            locale="en",
            message=f"{person.first_name} here: nothing came to {person.address1}.",
            photos=[photo],
            offers=[],
            policy_version="test",
            policy_digest="0" * 64,
            currency="USD",
        )
    )
    db.commit()
    return order


def photo_files(shop_id: int) -> list[Path]:
    folder = uploads.directory() / str(shop_id)
    return sorted(folder.iterdir()) if folder.is_dir() else []


def redact_payload(shop: Shop, person: Person) -> dict[str, Any]:
    return {
        "shop_id": 1,
        "shop_domain": shop.domain,
        "customer": {"id": person.customer_id, "email": person.email, "phone": person.phone},
        "orders_to_redact": person.orders,
    }


def data_request_payload(shop: Shop, person: Person) -> dict[str, Any]:
    return {
        "shop_id": 1,
        "shop_domain": shop.domain,
        "orders_requested": person.orders,
        "customer": {"id": person.customer_id, "email": person.email, "phone": person.phone},
        "data_request": {"id": 9999},
    }


def strings_present(strings: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, string) for every text, varchar, json or jsonb column of ANY table holding one."""
    found = []
    with get_sessionmaker()() as session:
        columns = session.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema()"
                " AND data_type IN ('text', 'character varying', 'jsonb', 'json')"
            )
        ).all()
        assert len(columns) > 50, "the scan must see the whole schema"
        for table, column in columns:
            for value in strings:
                hit = session.execute(
                    text(
                        f'SELECT 1 FROM "{table}" WHERE strpos(lower(CAST("{column}" AS text)), :v) > 0 LIMIT 1'  # noqa: S608
                    ),
                    {"v": value.lower()},
                ).first()
                if hit:
                    found.append((table, column, value))
    return found


def shop_rows(shop_id: int, domain: str) -> dict[str, int]:
    """Rows naming the shop in any table: by a shop_id column, its domain in any text column, or its chain."""
    counts: dict[str, int] = {}
    with get_sessionmaker()() as session:
        columns = session.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema()"
                " AND (column_name IN ('shop_id', 'id') OR data_type IN ('text', 'character varying', 'jsonb'))"
            )
        ).all()
        for table, column in columns:
            if column == "id" and table != "shops":
                continue
            if column in ("shop_id", "id"):
                sql, params = f'SELECT count(*) FROM "{table}" WHERE "{column}" = :id', {"id": shop_id}  # noqa: S608
            else:
                sql = f'SELECT count(*) FROM "{table}" WHERE strpos(CAST("{column}" AS text), :d) > 0'  # noqa: S608
                params = {"d": domain}
            count = session.execute(text(sql), params).scalar_one()
            if count:
                counts[f"{table}.{column}"] = count
    return counts


def ledger_verify(shop_domain: str | None = None) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "app.cli", "ledger", "verify"] + (
        ["--shop", shop_domain] if shop_domain else []
    )
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)  # noqa: S603
