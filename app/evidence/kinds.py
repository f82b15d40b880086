"""The catalogue of evidence kinds: every kind of ledger event, the domain that records it, the
stage of an order's life it belongs to (how the merchant's timeline groups it), and whether the
customer may see it (in their own words, on the status page).

Its label is the phrase `kind.<name>` in templates/i18n/admin/<locale>.json. `record()` warns
about a kind missing here, and the test suite fails if any test recorded one (tests/conftest.py):
a new kind is added here in the same change that records it. The `test.` namespace is the suite's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

# Stages of the merchant's timeline, in the order the order page shows them.
STAGES = ("order", "supplier", "shipping", "messages", "claims", "refunds", "disputes", "risk", "store",
          "inventory", "shop", "privacy")


@dataclass(frozen=True)
class Kind:
    name: str
    domain: str
    stage: str
    customer_visible: bool = False

    @property
    def label_key(self) -> str:
        return f"kind.{self.name}"


def _kinds(domain: str, stage: str, names: str, *, visible: str = "") -> list[Kind]:
    shown = set(visible.split())
    return [Kind(name, domain, stage, name in shown) for name in names.split()]


# Holds on an order that the merchant resolves (app/suppliers/ordering.py): each has a flagged and
# a resolved kind.
ORDER_FLAGS = ("review", "address", "unmapped", "reconcile", "awaiting_customer_choice")
# Transitions of a supplier's circuit breaker (app/suppliers/resilience.py).
CIRCUIT_STATES = ("open", "half_open", "closed")

_ALL = [
    *_kinds("webhooks", "store", "webhook.received webhook.requeued webhook.unprocessable"),
    *_kinds("orders", "order", "order.snapshot_applied order.snapshot_stale order.imported order.address_normalised",
            visible="order.snapshot_applied order.imported"),
    *_kinds("suppliers", "order", " ".join(f"order.flagged.{flag} order.flag_resolved.{flag}" for flag in ORDER_FLAGS)),
    # The merchant's fix of a held order on the order page (app/dashboard/held_fix.py).
    *_kinds("dashboard", "order", "order.address_updated order.hold_overridden"),
    *_kinds("suppliers", "supplier", """
        supplier_order.planned supplier_order.requested supplier_order.queued supplier_order.attempt
        supplier_order.call_failed supplier_order.placed supplier_order.found_existing supplier_order.failed
        supplier_order.fallback supplier_order.no_supplier_left supplier_order.unmapped supplier_order.confirmed
        supplier_order.shipped supplier_order.polled supplier_order.callback_not_applied
        supplier_order.reconcile_needed supplier_order.reconciled supplier_order.supplier_issue
        supplier_order.cancel_requested supplier_order.cancelled supplier_order.cancel_refused
        supplier_order.cancel_call_failed supplier_order.cancel_failed supplier_order.cancel_superseded
        supplier_order.cancel_too_late supplier_order.skipped_shop_uninstalled
        supplier_cancel.skipped_shop_uninstalled supplier_poll.skipped_shop_uninstalled
        supplier.callback_received supplier.sla_breached supplier.stock_not_applied
        supplier_mapping.unmapped_variant
        """ + " ".join(f"supplier.circuit_{state}" for state in CIRCUIT_STATES),
            visible="supplier_order.placed supplier_order.found_existing supplier_order.confirmed supplier_order.shipped"),
    *_kinds("fulfilments", "shipping", """
        fulfilment.attempt fulfilment.call_failed fulfilment.failed fulfilment.found_existing fulfilment.pushed
        fulfilment.skipped_shop_uninstalled fulfilment.event_attempt fulfilment.event_call_failed
        fulfilment.event_failed fulfilment.event_pushed fulfilment_event.skipped_shop_uninstalled
        fulfilment.tracking_update_attempt fulfilment.tracking_update_call_failed fulfilment.tracking_update_failed
        fulfilment.tracking_updated fulfilment_tracking.skipped_shop_uninstalled
        """),
    *_kinds("tracking", "shipping", """
        shipment.created shipment.number_checked shipment.number_invalid shipment.number_confirmed
        shipment.estimate shipment.tracking_changed shipment.status_changed shipment.status_not_applied
        shipment.delivered shipment.alert shipment.number_recognised tracking.scan tracking.webhook_received tracking.register_attempt
        tracking.registered tracking.register_failed
        """, visible="shipment.created shipment.delivered tracking.scan"),
    *_kinds("notifications", "messages", """
        notification.queued notification.deferred notification.released notification.attempt
        notification.attempt_failed notification.sent notification.failed notification.skipped
        notification.skipped_shop_uninstalled notification.not_scheduled notification.unsubscribed
        """, visible="notification.sent"),
    *_kinds("notifications", "shop", "notification_template.saved notification_template.reset notification_settings.saved"),
    *_kinds("status", "messages", "status_page.viewed status_page.lookup"),
    *_kinds("resolutions", "claims", """
        resolution.reported resolution.policy_accepted resolution.queued resolution.approved resolution.denied
        resolution.awaiting_return resolution.reship_planned resolution.refund_attempt
        resolution.refund_attempt_failed resolution.refund_created resolution.store_credit_recorded
        resolution.failed resolution.skipped_shop_uninstalled resolution.refund_requested
        resolution.refund_confirmed resolution.reship_requested resolution.reship_confirmed
        resolution.reship_refused resolution.reopened
        """),
    *_kinds("resolutions", "shop", "resolution_policy.saved"),
    *_kinds("stockout", "claims", """
        stock_choice.asked stock_choice.wait_chosen stock_choice.cancel_chosen stock_choice.refunded
        stock_choice.refund_failed
        """),
    *_kinds("disputes", "disputes", """
        dispute.opened dispute.updated dispute.fetched dispute_fetch.skipped_shop_uninstalled
        dispute.narrative_edited dispute.submission_queued dispute.submission_attempt dispute.submission_failed
        dispute.submitted dispute.submission_refused dispute.submission_held dispute.reminder_sent
        dispute_submission.skipped_shop_uninstalled
        """),
    # Pre-dispute alerts (app/alerts): intake, the refund-or-fight decision, the outcome report.
    *_kinds("alerts", "disputes", """
        alert.received alert.decided alert.refund_requested alert.refund_settled alert.outcome_attempt
        alert.outcome_call_failed alert.outcome_reported alert.outcome_failed alert.skipped_shop_uninstalled
        """),
    # The shop's dispute and fraud ratios reaching a network programme's line (app/disputes/ratios.py).
    *_kinds("alerts", "shop", "ratio.warning merchant_mail.sent merchant_mail.failed merchant_mail.skipped"),
    # The daily chain-head digest (app/evidence/digest.py) and checks of the chain against them.
    *_kinds("evidence", "shop", "ledger.digest_recorded ledger.digest_check_failed"),
    *_kinds("refunds", "refunds", """
        refund.requested refund.issue_attempt refund.issue_failed refund.issued refund.confirmed refund.failed
        refund.recorded refund.skipped_shop_uninstalled
        """),
    *_kinds("risk", "risk", """
        risk.scored risk.score_failed risk.card_published risk.card_failed risk.card_gave_up
        risk.merchant_decision risk.model_trained risk.training_skipped risk.training_requested
        """),
    *_kinds("insights", "messages", "status.contact_message mail.received insights.message_classified "
                                    "insights.message_corrected"),
    *_kinds("insights", "claims", "insights.claim_opened"),
    *_kinds("shops", "store", "store.mutation_attempted store.mutation_succeeded store.mutation_failed "
                               "store.mutation_rejected store.mutation_refused"),
    *_kinds("shops", "shop", """
        shop.installed shop.uninstalled shop.scopes_updated shop.settings_changed shop.token_granted
        shop.token_refreshed shop.token_refresh_refused shop.webhooks_reconciled
        """),
    *_kinds("history", "shop", "history.import_started history.import_completed"),
    *_kinds("inventory", "inventory", """
        inventory.supplier_stock inventory.published inventory.costs_published inventory.margin_alert inventory.margin_recovered
        inventory_publish.skipped_shop_uninstalled mapping.imported
        """),
    *_kinds("privacy", "privacy", """
        privacy.data_request_fulfilled privacy.customer_redacted privacy.redaction_held privacy.redaction_released
        privacy.shop_erasure_scheduled privacy.shop_redact_ignored
        """),
]

KINDS: dict[str, Kind] = {kind.name: kind for kind in _ALL}
if len(KINDS) != len(_ALL):
    raise RuntimeError("an evidence kind is listed twice in app/evidence/kinds.py")
if unknown := {kind.stage for kind in _ALL} - set(STAGES):
    raise RuntimeError(f"unknown timeline stages {sorted(unknown)} in app/evidence/kinds.py")

TEST_NAMESPACE = "test."


def get(name: str) -> Kind | None:
    return KINDS.get(name)


def check(name: str) -> None:
    """Warn about a kind the catalogue lacks (a programming error: the event is still recorded —
    evidence is never dropped over a missing label)."""
    if name not in KINDS and not name.startswith(TEST_NAMESPACE):
        log.warning("evidence.unknown_kind", extra={"kind": name})


def unknown(names: set[str]) -> set[str]:
    return {name for name in names if name not in KINDS and not name.startswith(TEST_NAMESPACE)}
