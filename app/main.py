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
from app.input_guard import InputGuardMiddleware
from app.ops import register_collectors
from app.outbox.relay import OutboxRelay
from app.web import errors as web_errors

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
        if settings.sandbox_in_web:
            from app.sandbox.app import start_background

            start_background()
        freeze_startup_objects()
        yield
        await aio.close_clients()
        if settings.sandbox_in_web:
            from app.sandbox.app import stop_background

            stop_background()
        if relay:
            relay.stop()

    app = FastAPI(title="Dropguard", lifespan=lifespan, docs_url=None, redoc_url=None)
    register_error_handlers(app)
    web_errors.register(app)
    register_collectors()

    # Outside text checked before any route sees it (app/input_guard.py); inside the request id,
    # so that a refusal carries one.
    app.add_middleware(InputGuardMiddleware)
    app.add_middleware(logs.RequestIdMiddleware)

    from app.web.routers import routers

    for router in routers():
        app.include_router(router)

    # With DROPGUARD_SANDBOX_URL set the sandbox is its own process (`dropguard sandbox`).
    if settings.sandbox_in_web:
        from app.sandbox.app import create_sandbox_app

        app.mount("/sandbox", create_sandbox_app())
    return app
