"""Through the real server, relay and worker: uninstall, then shop/redact 48 h later erases the shop."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from app.db import get_sessionmaker
from app.privacy.models import PrivacyRequest
from app.shops.models import Shop
from tests.fixtures import wait_for
from tests.privacy.helpers import data_request_payload, new_person, order_of, shop_rows, strings_present
from tests.webhooks.helpers import signed


def _post(live_server: str, domain: str, topic: str, payload: dict) -> dict:
    body, headers = signed(payload, domain, topic)
    response = httpx.post(f"{live_server}/webhooks/shopify", content=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _shop_status(shop_id: int) -> str | None:
    with get_sessionmaker()() as session:
        shop = session.get(Shop, shop_id)
        return shop.status if shop else None


def test_uninstall_then_shop_redact_erases_everything_via_the_worker(live_server, celery_worker, shop):
    shop_id, domain = shop.id, shop.domain
    person = new_person()
    assert _post(live_server, domain, "orders/create", order_of(person))["status"] == "queued"
    _post(live_server, domain, "customers/data_request", data_request_payload(shop, person))

    def exported() -> bool:
        with get_sessionmaker()() as session:
            return (
                session.scalar(select(PrivacyRequest.status).where(PrivacyRequest.shop_id == shop_id))
                == "done"
            )

    wait_for(exported, timeout=30, message="the data export")
    _post(live_server, domain, "app/uninstalled", {"id": 1, "domain": domain, "myshopify_domain": domain})
    wait_for(lambda: _shop_status(shop_id) == "uninstalled", timeout=30, message="the uninstall")
    assert strings_present([person.email]), "data is kept until shop/redact"

    # 48 hours later: the shop is uninstalled, yet shop/redact is queued, not dropped.
    assert (
        _post(live_server, domain, "shop/redact", {"shop_id": 1, "shop_domain": domain})["status"] == "queued"
    )

    wait_for(lambda: _shop_status(shop_id) is None, timeout=60, message="the shop's erasure")
    assert shop_rows(shop_id, domain) == {}
    assert strings_present(person.strings) == []
