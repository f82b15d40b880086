"""The floor the status page is measured against: a bare SELECT of the order row, a trivial template.

Run by bench/status_page as `uvicorn bench.status_page.baseline:create_app --factory` on the same
database (BENCH_DATABASE_URL) with the same pool shape and uvicorn setup as the project.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from jinja2 import Environment
from sqlalchemy import create_engine, text

_PAGE = Environment(autoescape=True).from_string(
    "<!doctype html><html><body><h1>Order {{ name }}</h1><p>{{ status }}</p><p>{{ total }} {{ currency }}</p>"
    "</body></html>"
)
_ORDER = text("SELECT name, status, total_price, currency FROM orders WHERE id = :id")


def create_app() -> FastAPI:
    engine = create_engine(os.environ["BENCH_DATABASE_URL"], pool_size=20, max_overflow=0, pool_pre_ping=True)
    app = FastAPI()

    @app.get("/baseline/{order_id}", response_class=HTMLResponse)
    def page(order_id: int) -> HTMLResponse:
        with engine.connect() as connection:
            row = connection.execute(_ORDER, {"id": order_id}).one_or_none()
        if row is None:
            return HTMLResponse("not found", status_code=404)
        return HTMLResponse(_PAGE.render(name=row.name, status=row.status, total=row.total_price,
                                         currency=row.currency))

    return app
