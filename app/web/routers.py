"""The one list of routers the web app serves (app/main.py includes them in this order).

A new page is a module with a `router`, a template, and one line here."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    # Imported when the app is built, not when this module is: only the web process needs them.
    from app import ops
    from app.alerts import pages as outcomes
    from app.alerts import routes as alert_webhooks
    from app.api import routes as api
    from app.dashboard import home
    from app.dashboard import pages as dashboard
    from app.disputes import api as disputes_api
    from app.disputes import pages as disputes
    from app.insights import inbound_routes as inbound_mail
    from app.insights import pages as insights
    from app.insights import routes as insights_api
    from app.inventory import pages as inventory
    from app.notifications import branding_pages as message_branding
    from app.notifications import pages as notifications
    from app.privacy import pages as privacy
    from app.resolutions import pages as customer_resolutions
    from app.resolutions import policy_pages as resolution_policy
    from app.resolutions import queue_pages as resolution_queue
    from app.risk import pages as risk
    from app.shops import pages as shop_settings
    from app.shops import routes as shop_auth
    from app.status import contact as status_contact
    from app.status import lookup_pages as status_lookup
    from app.status import pages as status
    from app.stockout import pages as stock_choice
    from app.suppliers import health_pages as supplier_health
    from app.suppliers import pages as suppliers
    from app.suppliers import review_pages as review
    from app.suppliers import routes as supplier_webhooks
    from app.tracking import pages as shipments
    from app.tracking import routes as carrier_webhooks
    from app.webhooks import routes as webhooks

    return [
        ops.router,
        # Webhooks and the JSON API.
        webhooks.router,
        supplier_webhooks.router,
        carrier_webhooks.router,
        alert_webhooks.router,
        api.router,
        insights_api.router,
        disputes_api.router,
        inbound_mail.router,
        shop_auth.router,
        # Merchant pages (embedded in the store admin).
        home.router,
        dashboard.router,
        supplier_health.router,
        shop_settings.router,
        privacy.router,
        shipments.router,
        suppliers.router,
        review.router,
        resolution_queue.router,
        resolution_policy.router,
        notifications.router,
        message_branding.router,
        inventory.router,
        risk.router,
        outcomes.router,
        disputes.router,
        insights.router,
        # The customer's pages (status, claims).
        status_lookup.router,
        status_contact.router,
        status.router,
        customer_resolutions.router,
        stock_choice.router,
    ]
