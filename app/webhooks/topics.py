"""Every store webhook topic Dropguard knows, in one table: which are subscribed through the Admin
API, which are processed (and by what), which are privacy duties. The subscription sync, the
ingest route (what to queue, and the closed set of metric labels) and the processing task all read
this table, so they cannot disagree.

A handler is named "module:function" and imported only by the worker that runs it: the ingest
route reads this table on the hot path and must not import every service.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    name: str
    # Created with webhookSubscriptionCreate. The compliance topics cannot be: they are declared
    # in the app's configuration (shopify.app.toml, `[webhooks] compliance_topics`).
    subscribed: bool
    # "module:function(session, shop, delivery)" that applies a delivery; None: recorded and kept.
    handler: str | None = None
    # Privacy duties outlive the installation (shop/redact arrives 48 h after app/uninstalled):
    # queued for any shop we know, installed or not.
    compliance: bool = False


_ORDER = "app.webhooks.processing:apply_order"

TOPICS: tuple[Topic, ...] = (
    Topic("orders/create", True, _ORDER),
    Topic("orders/updated", True, _ORDER),
    Topic("orders/paid", True, _ORDER),
    Topic("orders/cancelled", True, _ORDER),
    Topic("orders/fulfilled", True),
    Topic("orders/partially_fulfilled", True),
    Topic("orders/edited", True),
    Topic("orders/delete", True),
    Topic("app/uninstalled", True, "app.webhooks.processing:app_uninstalled"),
    Topic("app/scopes_update", True, "app.shops.service:on_scopes_update"),
    Topic("fulfillments/create", True),
    Topic("fulfillments/update", True),
    Topic("fulfillment_events/create", True),
    Topic("refunds/create", True, "app.refunds.service:apply_webhook"),
    Topic("disputes/create", True, "app.disputes.service:apply_webhook"),
    Topic("disputes/update", True, "app.disputes.service:apply_webhook"),
    Topic("products/update", True),
    Topic("inventory_levels/update", True),
    Topic("customers/data_request", False, "app.privacy.service:on_data_request", compliance=True),
    Topic("customers/redact", False, "app.privacy.service:on_customer_redact", compliance=True),
    Topic("shop/redact", False, "app.privacy.service:on_shop_redact", compliance=True),
)

BY_NAME = {topic.name: topic for topic in TOPICS}
SUBSCRIBED = tuple(topic.name for topic in TOPICS if topic.subscribed)
PROCESSED = frozenset(topic.name for topic in TOPICS if topic.handler)
COMPLIANCE = frozenset(topic.name for topic in TOPICS if topic.compliance)
# Metric label values must be a closed set: a client choosing the topic header must not be able to
# create new time series. Topics outside this table are counted as "other".
METRIC_LABELS = frozenset(BY_NAME)
