"""The store's own record of a dispute, read through GraphQL `dispute(id:)` (ShopifyPaymentsDispute):
it carries what a webhook may lack (the network reason code, the type) and the day of the deadline
when no webhook gave its time."""

from __future__ import annotations

import logging
from datetime import datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from app.db import session_scope, utcnow
from app.disputes.models import Dispute
from app.disputes.service import CLOSED_STATUSES, KINDS, add_status
from app.evidence import service as evidence
from app.shops import guard, tokens
from app.shops.admin_client import AdminClient, AdminError, AdminTemporaryError
from app.shops.models import Shop

log = logging.getLogger(__name__)

DISPUTE_QUERY = """
query DisputeRead($id: ID!) {
  dispute(id: $id) {
    id legacyResourceId type status initiatedAt evidenceDueBy evidenceSentOn finalizedOn
    amount { amount currencyCode }
    reasonDetails { reason networkReasonCode }
  }
}
"""


class RetryLater(Exception):
    """The store could not answer now."""


def gid(external_id: str) -> str:
    return f"gid://shopify/ShopifyPaymentsDispute/{external_id}"


def _zone(shop: Shop) -> ZoneInfo:
    try:
        return ZoneInfo(shop.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def day_start(day: str, shop: Shop) -> datetime:
    """GraphQL's evidenceDueBy is a Date: the start of that day in the shop's zone (facts §1.1),
    the earliest the cut-off can be, so a reminder is never late."""
    return datetime.combine(datetime.fromisoformat(day).date(), time(0, 0), tzinfo=_zone(shop))


def apply(session, shop: Shop, dispute: Dispute, node: dict[str, Any]) -> dict[str, Any]:
    """What the store's record adds to ours (flushes); returns the changes."""
    changes: dict[str, Any] = {}
    details = node.get("reasonDetails") or {}
    code = (details.get("networkReasonCode") or "").strip()[:16] or None
    if code and code != dispute.network_reason_code:
        dispute.network_reason_code = changes["network_reason_code"] = code
    kind = str(node.get("type") or "").lower()
    if kind in KINDS and kind != dispute.kind:
        dispute.kind = changes["type"] = kind
    reason = str(details.get("reason") or "").lower()
    if reason and not dispute.reason:
        dispute.reason = changes["reason"] = "subscription_canceled" if reason == "subscription_cancelled" else reason
    money = node.get("amount") or {}
    if money.get("amount") is not None and dispute.amount is None:
        dispute.amount, dispute.currency = Decimal(str(money["amount"])), money.get("currencyCode")
        changes["amount"] = str(dispute.amount)
    if node.get("evidenceDueBy") and (dispute.evidence_due_by is None or dispute.evidence_due_day_only):
        dispute.evidence_due_by = day_start(node["evidenceDueBy"], shop)
        dispute.evidence_due_offset = int(dispute.evidence_due_by.utcoffset().total_seconds() // 60)
        dispute.evidence_due_day_only = True
        changes["evidence_due_by"] = node["evidenceDueBy"]
    status = str(node.get("status") or "").lower()
    if status and status != dispute.status and dispute.status not in CLOSED_STATUSES:
        dispute.status = changes["status"] = status
        add_status(dispute, status, utcnow(), "graphql")
    dispute.fetched_at = utcnow()
    session.flush()
    return changes


def fetch(dispute_id: int, *, transport: httpx.BaseTransport | None = None) -> str:
    with session_scope() as session:
        dispute = session.get(Dispute, dispute_id)
        if dispute is None:
            return "missing"
        shop = session.get(Shop, dispute.shop_id)
        if skipped := guard.skipped_uninstalled(session, shop, "dispute_fetch", dispute.id, order_id=dispute.order_id):
            return skipped
        shop_id, domain, external_id = shop.id, shop.domain, dispute.external_id
    try:
        token = tokens.access_token_for(shop_id, transport=transport)
        with AdminClient(shop_domain=domain, access_token=token, shop_id=shop_id, transport=transport,
                         retries=0) as client:
            node = client.query(DISPUTE_QUERY, {"id": gid(external_id)}).get("dispute")
    except (AdminTemporaryError, tokens.TokenTemporaryError) as error:
        raise RetryLater(str(getattr(error, "message", error))) from None
    except (AdminError, tokens.TokenError) as error:
        log.warning("disputes.fetch_refused", extra={"dispute_id": dispute_id, "error": str(error)})
        return "refused"
    with session_scope() as session:
        dispute = session.get(Dispute, dispute_id, with_for_update=True)
        shop = session.get(Shop, dispute.shop_id)
        if node is None:
            return "not_found"
        changes = apply(session, shop, dispute, node)
        evidence.record(session, chain=shop.domain, shop_id=shop.id, order_id=dispute.order_id,
                        kind="dispute.fetched", source="shopify",
                        data={"dispute_id": dispute.id, "external_id": dispute.external_id, "changes": changes,
                              "evidence_due_by": node.get("evidenceDueBy"),
                              "network_reason_code": dispute.network_reason_code})
    return "fetched"
