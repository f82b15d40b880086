from app.webhooks.models import WebhookDelivery
from tests.factories import order_payload


def test_ingest_records_once(shop, post_webhook, db):
    payload = order_payload()
    first = post_webhook(shop.domain, "orders/create", payload, event_id="evt-1")
    again = post_webhook(shop.domain, "orders/create", payload, event_id="evt-1")
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "queued"
    assert again.json()["status"] == "duplicate"
    assert db.query(WebhookDelivery).filter_by(shop_domain=shop.domain).count() == 1
