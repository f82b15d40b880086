"""Operations endpoints: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import logging
import os
import re
import sys
from functools import lru_cache
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    start_http_server,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import text

from app import config as config_module
from app.config import Settings
from app.db import get_engine
from app.paths import ALEMBIC_INI
from app.redis import get_redis

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


@lru_cache
def head_revision() -> str | None:
    # The code's migrations do not change while the process runs: read them once, not per probe.
    return ScriptDirectory.from_config(Config(str(ALEMBIC_INI))).get_current_head()


def _check_database() -> str | None:
    with get_engine().connect() as connection:
        current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    expected = head_revision()
    return None if current == expected else f"migrations at {current}, code expects {expected}"


def _readiness() -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        problem = _check_database()
        checks["database"] = "ok"
        checks["migrations"] = problem or "ok"
    except Exception as error:
        checks["database"] = f"unavailable: {type(error).__name__}"
    try:
        get_redis().ping()
        checks["redis"] = "ok"
    except Exception as error:
        checks["redis"] = f"unavailable: {type(error).__name__}"
    return checks


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz() -> JSONResponse:
    checks = await run_in_threadpool(_readiness)
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


class OutboxLagCollector:
    """Read at scrape time: how long the oldest unpublished outbox row has waited."""

    def collect(self):
        gauge = GaugeMetricFamily("dropguard_outbox_lag_seconds", "Age of the oldest undispatched outbox row")
        pending = GaugeMetricFamily("dropguard_outbox_pending", "Outbox rows not yet dispatched")
        try:
            with get_engine().connect() as connection:
                row = connection.execute(
                    text(
                        "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS lag"
                        " FROM outbox WHERE dispatched_at IS NULL"
                    )
                ).one()
            gauge.add_metric([], float(row.lag))
            pending.add_metric([], float(row.n))
        except Exception:  # a scrape must not fail because the database is down; /readyz says so
            return
        yield gauge
        yield pending


_collector_registered = False


def register_collectors() -> None:
    global _collector_registered
    if not _collector_registered:
        REGISTRY.register(OutboxLagCollector())
        _collector_registered = True


@router.get("/metrics")
async def metrics() -> Response:
    payload = await run_in_threadpool(generate_latest, REGISTRY)
    return Response(payload, media_type=CONTENT_TYPE_LATEST)


def serve_worker_metrics(host: str, port: int) -> bool:
    """Serve the metrics of every process of a Celery worker (parent and pool children), merged.

    The caller must have set PROMETHEUS_MULTIPROC_DIR before prometheus_client was first imported
    (the `dropguard worker` command does), so each pool process writes its samples there.
    Returns False, with a warning, when disabled or the port is taken: metrics never stop a worker.
    """
    if port == 0:
        return False
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR") or values.ValueClass is values.MutexValue:
        raise RuntimeError("PROMETHEUS_MULTIPROC_DIR must be set before prometheus_client is imported")
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as error:
        log.warning("worker.metrics_unavailable", extra={"port": port, "error": str(error)})
        return False
    return True


# Meanings for settings declared without a Field(description=...); a description in app/config.py wins.
_SETTING_MEANINGS = {
    "redis_prefix": "Prefix of every Redis key and Celery queue of this deployment, so deployments or test runs can share one Redis",
    "shopify_api_key": "The app's Shopify API key (client id); the audience of admin session tokens",
    "shopify_api_secret": "The app's Shopify API secret; verifies webhook HMACs and session tokens",
    "shopify_api_version": "Admin API version of every GraphQL call",
    "shopify_admin_url": "Admin API base of a shop; `{shop}` becomes its myshopify domain (the sandbox store in development)",
    "encryption_keys": "Comma-separated Fernet keys for access tokens at rest, newest first (older ones still decrypt); unset: derived from the secret key",
    "smtp_host": "Mail server for customer notifications",
    "smtp_port": "Mail server port",
    "smtp_username": "Mail server login (unset: no login)",
    "smtp_password": "Mail server password",
    "smtp_starttls": "Upgrade the mail connection with STARTTLS",
    "mail_from": "From: of customer notifications",
    "supplier_api_url": "Base URL of the generic signed supplier API (the sandbox supplier in development)",
    "supplier_api_key": "API key sent to the supplier",
    "supplier_api_secret": "HMAC secret for requests to and callbacks from the supplier",
    "sandbox": "Mount the sandbox (emulated store, supplier, carriers, mail catcher) at /sandbox; never in production",
    "log_level": "Log level of every process",
    "log_json": "JSON log lines (with the request or task id) instead of plain text",
    "webhook_max_bytes": "Larger webhook bodies are refused with 413 before they are read in full",
    "outbox_sweep_after_seconds": "The beat sweeper republishes outbox rows still undispatched after this many seconds",
    "task_hard_time_limit": "Hard time limit of a task in seconds; the broker's visibility timeout is derived from it",
    "supplier_timeout_seconds": "Timeout of one call to the supplier API, in seconds (a supplier's own setting overrides it)",
    "worker_metrics_port": "Port of a worker's Prometheus endpoint (all its pool processes merged); 0 turns it off",
    "worker_metrics_host": "Interface of the worker's Prometheus endpoint (0.0.0.0 in containers)",
}
SETTINGS_START = "<!-- settings:start -->"
SETTINGS_END = "<!-- settings:end -->"


def _default_text(field) -> str:
    if field.is_required():
        return "required"
    value = field.get_default()
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _field_comments() -> dict[str, str]:
    """The comment lines right above each field in app/config.py: the last resort for a meaning."""
    comments: dict[str, str] = {}
    pending: list[str] = []
    for line in Path(config_module.__file__).read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("# ").strip())
            continue
        match = re.match(r"^    ([a-z_][a-z0-9_]*)\s*:", line)
        if match and pending:
            comments[match.group(1)] = " ".join(pending)
        pending = []
    return comments


def settings_rows() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for every field of Settings, in declaration order."""
    rows = []
    comments = _field_comments()
    for name, field in Settings.model_fields.items():
        meaning = field.description or _SETTING_MEANINGS.get(name) or comments.get(name, "")
        rows.append(("DROPGUARD_" + name.upper(), _default_text(field), meaning))
    return rows


def settings_table() -> str:
    lines = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for name, default, meaning in settings_rows():
        escaped = meaning.replace("|", "\\|")  # a pipe would end the table cell
        lines.append(f"| `{name}` | {default} | {escaped} |")
    return "\n".join(lines)


def write_settings_table(path: Path) -> None:
    text_ = path.read_text()
    start, end = text_.index(SETTINGS_START), text_.index(SETTINGS_END)
    path.write_text(text_[: start + len(SETTINGS_START)] + "\n" + settings_table() + "\n" + text_[end:])


if __name__ == "__main__":
    # `python -m app.ops settings-table [--write README.md]` (make settings-doc)
    if sys.argv[1:2] != ["settings-table"]:
        sys.exit("usage: python -m app.ops settings-table [--write README.md]")
    if sys.argv[2:3] == ["--write"] and len(sys.argv) == 4:
        write_settings_table(Path(sys.argv[3]))
    else:
        print(settings_table())
