"""Merchant page: shipments needing attention (open tracking alerts), scoped to the token's shop."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.db import SessionDep
from app.tracking import alerts
from app.tracking import attention as _attention  # noqa: F401 - registers its items on Home
from app.web import nav
from app.web.auth import MerchantShop
from app.web.rendering import render

router = APIRouter(prefix="/admin", include_in_schema=False)
nav.register("shipments", "nav.shipments", "/admin/shipments", order=30, group="orders")

# What each condition means to a merchant, and what usually helps.
CONDITION_TEXT = {
    "invalid_number": ("Invalid tracking number", "Ask the supplier for the correct number; the customer "
                       "was not sent it."),
    "no_first_scan": ("No carrier scan yet", "Tracking was issued but the carrier never scanned the parcel: "
                      "ask the supplier for proof of hand-over."),
    "no_scan": ("Stuck in transit", "No new scan for days: contact the carrier or the supplier."),
    "past_window": ("Late", "Past the route's usual delivery window; the customer was given a new estimate."),
    "delivery_failed": ("Delivery failed", "The carrier could not deliver; check the address with the customer."),
    "exception": ("Carrier exception", "The carrier reported a problem (customs, damage, loss...)."),
    "returning": ("Returning to sender", "The parcel is going back: offer a reship or a refund."),
}


@router.get("/shipments", response_class=HTMLResponse)
def shipments_page(request: Request, session: SessionDep, shop: MerchantShop) -> HTMLResponse:
    rows = [
        {"alert": alert, "order": order, "shipment": shipment,
         "title": CONDITION_TEXT.get(alert.condition, (alert.condition, ""))[0],
         "advice": CONDITION_TEXT.get(alert.condition, ("", ""))[1]}
        for alert, order, shipment in alerts.attention_rows(session, shop.id)
    ]
    return render(request, "tracking/shipments.html", shop, {"rows": rows})
