"""Builds the web app. Only the web process imports this module."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import aio, logs
from app.config import ConfigError, get_settings
from app.errors import register_error_handlers
from app.gc_tuning import freeze_startup_objects
from app.ops import register_collectors
from app.ops import router as ops_router
from app.outbox.relay import OutboxRelay

log = logging.getLogger(__name__)


def create_app(*, start_relay: bool = False) -> FastAPI:
    """The web app. The outbox relay runs in the workers (app/worker.py), not here by default:
    in the web process its Celery publishing competed with webhook handling for the GIL, and
    nothing it publishes can run before a worker exists anyway. Producers still nudge the relay
    through Redis after their commit, so publishing stays immediate."""
    try:
        settings = get_settings()
    except ConfigError as error:
        # Also the uvicorn factory entry point: one line and a non-zero exit, not a traceback.
        sys.exit(f"dropguard: {error}")
    logs.configure(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        relay = OutboxRelay() if start_relay else None
        if relay:
            relay.start()
        mail_catcher = None
        if settings.sandbox:
            from app.sandbox.mail import start_smtp_catcher
            from app.sandbox.runner import ensure_runner

            # Several web processes may start: the first to bind the port hosts the catcher.
            mail_catcher = start_smtp_catcher()
            # Webhook retries and supplier lifecycle steps left in Redis resume at start-up.
            ensure_runner()
        freeze_startup_objects()
        yield
        await aio.close_clients()
        if mail_catcher:
            mail_catcher.stop()
        if settings.sandbox:
            from app.sandbox.runner import stop_runner

            stop_runner()
        if relay:
            relay.stop()

    app = FastAPI(title="Dropguard", lifespan=lifespan, docs_url=None, redoc_url=None)
    register_error_handlers(app)
    register_collectors()

    app.add_middleware(logs.RequestIdMiddleware)

    from app.api.routes import router as api_router
    from app.dashboard.health_pages import router as health_router
    from app.dashboard.pages import router as dashboard_router
    from app.dashboard.privacy_page import router as privacy_router
    from app.dashboard.resolution_policy_page import router as resolution_policy_router
    from app.dashboard.resolutions_page import router as resolution_queue_router
    from app.dashboard.review_page import router as review_router
    from app.dashboard.settings_page import router as settings_router
    from app.dashboard.shipments import router as shipments_router
    from app.dashboard.suppliers_pages import router as supplier_pages_router
    from app.dashboard.templates_page import router as notification_templates_router
    from app.insights.routes import router as insights_api_router
    from app.resolutions.pages import router as resolutions_router
    from app.shops.routes import router as auth_router
    from app.status.lookup_pages import router as status_lookup_router
    from app.status.pages import router as status_router
    from app.suppliers.routes import router as supplier_webhooks_router
    from app.tracking.routes import router as carrier_webhooks_router
    from app.webhooks.routes import router as webhooks_router

    app.include_router(ops_router)
    app.include_router(webhooks_router)
    app.include_router(supplier_webhooks_router)
    app.include_router(carrier_webhooks_router)
    app.include_router(api_router)
    app.include_router(insights_api_router)
    app.include_router(auth_router)
    app.include_router(dashboard_router)
    app.include_router(health_router)
    app.include_router(settings_router)
    app.include_router(privacy_router)
    app.include_router(shipments_router)
    app.include_router(supplier_pages_router)
    app.include_router(review_router)
    app.include_router(resolution_queue_router)
    app.include_router(resolution_policy_router)
    app.include_router(notification_templates_router)
    app.include_router(status_lookup_router)
    app.include_router(status_router)
    app.include_router(resolutions_router)

    if settings.sandbox:
        from app.sandbox.app import create_sandbox_app

        app.mount("/sandbox", create_sandbox_app())
    return app
