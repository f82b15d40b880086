"""Operations endpoints: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import logging
import os

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
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import text

from app.db import get_engine
from app.paths import ALEMBIC_INI
from app.redis import get_redis

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


def head_revision() -> str | None:
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
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        raise RuntimeError("PROMETHEUS_MULTIPROC_DIR must be set before the worker starts")
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as error:
        log.warning("worker.metrics_unavailable", extra={"port": port, "error": str(error)})
        return False
    return True
