"""The one HTML error handler of merchant pages: 401 (open from the store admin), 404, 422 and
500 as pages in the dashboard's layout, for every path under /admin. Everything else (the JSON
API, webhooks) keeps its JSON answers (app/errors.py)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.config import get_settings
from app.errors import AppError
from app.shops.domains import is_shop_domain
from app.web.auth import PageUnauthorized
from app.web.rendering import render

log = logging.getLogger(__name__)
ADMIN_PREFIX = "/admin"


class PageNotFound(AppError):
    """What a merchant page raises for an object that is missing or another shop's (the two must
    look the same); `what` names it for the page ("order", "resolution", …)."""

    status_code = 404
    code = "not_found"

    def __init__(self, what: str, object_id: int | str | None = None) -> None:
        super().__init__(f"no such {what}")
        self.what, self.object_id = what, object_id


def _is_page(request: Request) -> bool:
    path = request.url.path
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


def _shop(request: Request):
    return getattr(request.state, "shop", None)


def unauthorized_page(request: Request, reason: str, *, reopen: bool) -> HTMLResponse:
    reopen_url = ""
    hinted = request.query_params.get("shop", "")
    if reopen and is_shop_domain(hinted):
        # Reopening the app from the admin mints a fresh session token (they live one minute).
        reopen_url = get_settings().admin_base(hinted) + "/admin"
    return render(request, "web/unauthorized.html", None, {"reason": reason, "reopen_url": reopen_url},
                  status_code=401)


def not_found_page(request: Request, what: str = "page", object_id: int | str | None = None) -> HTMLResponse:
    return render(request, "web/not_found.html", _shop(request), {"what": what, "order_id": object_id},
                  status_code=404)


def _customer_error(request: Request, status_code: int) -> Response | None:
    """The customer's own error page for paths under /status (app.status owns it)."""
    from app.status import pages as status_pages

    return status_pages.error_page(request, status_code) if status_pages.is_customer_page(request) else None


def register(app: FastAPI) -> None:
    @app.exception_handler(PageUnauthorized)
    async def _unauthorized(request: Request, error: PageUnauthorized) -> Response:
        return unauthorized_page(request, error.message, reopen=error.reopen)

    @app.exception_handler(PageNotFound)
    async def _not_found(request: Request, error: PageNotFound) -> Response:
        return not_found_page(request, error.what, error.object_id)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        if _is_page(request) and error.status_code == 404:
            return not_found_page(request)
        if error.status_code in (404, 405) and (page := _customer_error(request, error.status_code)):
            return page
        return await http_exception_handler(request, error)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> Response:
        if _is_page(request) and request.method == "GET":
            # A malformed link (a path id that is not a number, a bad filter): nothing to show.
            return render(request, "web/error.html", _shop(request), {"status": 422}, status_code=422)
        if page := _customer_error(request, 422):  # a customer reads pages, never JSON
            return page
        return await request_validation_exception_handler(request, error)

    @app.exception_handler(Exception)
    async def _crash(request: Request, error: Exception) -> Response:
        # Logged with its class only: a database error's text can carry personal data.
        log.error("page.failed", extra={"path": request.url.path, "error": type(error).__name__})
        if _is_page(request):
            return render(request, "web/error.html", _shop(request), {"status": 500}, status_code=500)
        if page := _customer_error(request, 500):
            return page
        return Response('{"error":"internal","detail":"internal error"}', status_code=500,
                        media_type="application/json")
