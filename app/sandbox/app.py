"""The sandbox: emulated store, suppliers, carriers and mail server speaking their real protocols.

A separate ASGI app, mounted at /sandbox when settings.sandbox is on. Production code reaches it
only through configuration (admin base URL, supplier API URL, SMTP host and port).

Store (Shopify), under /sandbox/shopify:
  POST /{shop}/admin/api/{version}/graphql.json   Admin GraphQL (X-Shopify-Access-Token)
  GET  /{shop}/admin                               emulated admin: redirect with a fresh id_token
  POST /_control/shops {domain, access_token, name?, currency?, webhook_url?}
  POST /_control/shops/{domain}/uninstall          revokes the token, sends app/uninstalled
  POST /_control/orders {shop, order, paid}        sends orders/create (+ orders/paid)
  GET  /_control/orders?shop=   GET /_control/orders/{id}   GET /_control/fulfillments?shop=
  POST /_control/orders/{id}/pay   POST /_control/orders/{id}/cancel {reason?} (refunds what was paid)
  POST /_control/orders/{id}/refunds {amount, note?, line_items?}   a merchant's refund in the admin
  POST /_control/orders/{id}/refunds/{refund_id}/settle {status}    a pending refund goes through or fails
  POST /_control/behaviour {shop, transaction_status?, hang_next?, hang_ms?, reset?}   refund behaviour
  POST /_control/throttle {shop, currently_available?, maximum_available?, restore_rate?, reset?}
  Inventory (items, levels, GraphQL usage log): see app/sandbox/store/inventory_routes.py.
  Control calls that cause webhooks answer after each webhook's first attempt; retries follow
  from the runner. Webhooks of a GraphQL mutation are sent just after its answer.
Generic supplier (protocol A), under /sandbox/supplier: /orders..., /_control/{orders,behaviour,reset},
  /_control/orders/{id}/advance. Alert provider (Ethoca / CDRN alerts, outcomes): /sandbox/alerts,
  see app/sandbox/alert_provider.py. Mail: GET|DELETE /sandbox/mail?to= (JSON), /sandbox/mail/inbox
  (to read). Outbound attempts:
  GET /sandbox/_control/deliveries. AliExpress, CJ and carriers: see their modules.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiosmtpd.controller import Controller
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors import register_error_handlers
from app.sandbox import alert_provider, aliexpress, carriers, cj, delivery, life, mail, runner, sms, tokens  # noqa: F401 - life registers its tick
from app.sandbox.store.inventory_routes import router as store_inventory_router
from app.sandbox.store.routes import router as store_router
from app.sandbox.supplier.routes import router as supplier_router


class _StartRunner:
    """Starlette does not run a mounted app's lifespan, so the runner also starts on first use."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            runner.ensure_runner()
        await self.app(scope, receive, send)


_mail_catcher: Controller | None = None


def start_background() -> None:
    """The mail catcher and the job runner, in whichever process hosts the sandbox."""
    global _mail_catcher
    # Several processes may start: the first to bind the port hosts the catcher.
    _mail_catcher = mail.start_smtp_catcher()
    # Webhook retries and supplier lifecycle steps left in Redis resume at start-up.
    runner.ensure_runner()


def stop_background() -> None:
    global _mail_catcher
    if _mail_catcher is not None:
        _mail_catcher.stop()
        _mail_catcher = None
    runner.stop_runner()


def create_standalone_app() -> FastAPI:
    """The sandbox as its own process (`dropguard sandbox`): the same routes under /sandbox, so
    DROPGUARD_SANDBOX_URL is this server's origin + /sandbox, and the web process keeps only
    Dropguard's own work (its CPU is then Dropguard's alone, measured apart in bench/pipeline)."""
    from app import logs
    from app.config import get_settings

    settings = get_settings()
    logs.configure(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        start_background()
        yield
        stop_background()

    app = FastAPI(title="Dropguard sandbox", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/sandbox", create_sandbox_app())
    return app


def create_sandbox_app() -> FastAPI:
    app = FastAPI(title="Dropguard sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    register_error_handlers(app)
    app.include_router(tokens.router)
    app.include_router(store_router, prefix="/shopify")
    app.include_router(store_inventory_router, prefix="/shopify")
    app.include_router(supplier_router, prefix="/supplier")
    app.include_router(aliexpress.router, prefix="/aliexpress")
    app.include_router(cj.router, prefix="/cj")
    app.include_router(carriers.router, prefix="/carriers")
    app.include_router(alert_provider.router, prefix="/alerts")
    app.include_router(mail.router)
    app.include_router(sms.router)

    @app.get("/_control/deliveries")
    def deliveries(limit: int = 200) -> dict[str, Any]:
        """Recent outbound attempts (webhooks and callbacks), oldest first, for tests and the demo."""
        return {"attempts": delivery.recent_attempts(min(max(limit, 1), delivery.LOG_LENGTH)),
                "pending_jobs": runner.pending_jobs()}

    @app.get("/_control/ping")
    def ping() -> dict[str, bool]:
        return {"ok": True}

    app.add_middleware(_StartRunner)
    return app
