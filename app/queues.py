"""Which Celery queue each task runs on: a leaf module (no app imports), so the outbox can route
work without importing the worker, and the worker can build its queues from the same table."""

from __future__ import annotations

QUEUES = ("ingest", "suppliers", "store", "notifications", "analytics", "maintenance")

# Task name prefix -> queue, so that a slow supplier never delays an email or a webhook.
ROUTES = {
    "webhooks.": "ingest",
    "orders.": "ingest",
    "suppliers.": "suppliers",
    "fulfilments.": "store",
    # Inventory and cost sync: store quantities through the Admin API.
    "inventory.": "store",
    "notifications.": "notifications",
    # Carrying out customers' resolutions (refunds at the store, reships via suppliers).
    "resolutions.": "store",
    # Our refunds at the store (refundCreate) and the reads that confirm them.
    "refunds.": "store",
    # Disputes: the store's dispute record and our evidence submission (Admin API).
    "disputes.": "store",
    # A customer's answer to a stock-out, told when its refund is settled.
    "stockout.": "store",
    "outbox.": "maintenance",
    # Webhook subscriptions and the history import talk to the store's Admin API.
    "shops.": "store",
    # Carrier webhooks, aggregator registration/polls and delay checks: short calls, ingest-like.
    "tracking.": "ingest",
    # Data exports, redactions and shop erasure: rare, may be long, never in the webhook path.
    "privacy.": "maintenance",
    # Risk cards are Admin API calls; scoring and training are analytics (first match wins).
    "risk.publish_": "store",
    "risk.": "analytics",
    # Insight aggregates and complaint classification: never ahead of customer-facing work.
    "insights.": "analytics",
    # Pre-dispute alerts: refund-or-fight decisions and outcome reports to the provider (24 h).
    "alerts.": "store",
    # Dispute ratios against the networks' thresholds, and the daily chain-head digests.
    "ratios.": "analytics",
    "digest.": "maintenance",
}


def queue_for_task(task_name: str) -> str:
    for prefix, queue in ROUTES.items():
        if task_name.startswith(prefix):
            return queue
    raise ValueError(f"no queue for task {task_name!r}")
