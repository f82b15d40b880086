"""Prometheus metrics shared by the web app and the worker."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

WEBHOOKS = Counter(
    "dropguard_webhooks_total", "Inbound webhooks by source, topic and outcome", ["source", "topic", "outcome"]
)
TASK_SECONDS = Histogram(
    "dropguard_task_seconds",
    "Celery task run time by task and outcome",
    ["task", "outcome"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
EXTERNAL_CALLS = Counter(
    "dropguard_external_calls_total", "Calls to stores, suppliers and mail servers", ["target", "outcome"]
)
INVENTORY_SYNC_LAG = Histogram(
    "dropguard_inventory_sync_lag_seconds",
    "From a supplier stock change observed to the store quantity set",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600),
)
INGEST_BATCH_SIZE = Histogram(
    "dropguard_ingest_batch_size",
    "Webhook deliveries recorded per ingest transaction (group commit under load)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
