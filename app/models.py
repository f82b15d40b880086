"""Imports every model so that mappers and Alembic see the whole schema. Holds no code."""

from app.alerts.models import ChainDigest, MerchantMail, PreDisputeAlert, RatioWarning
from app.disputes.models import Dispute
from app.evidence.models import EvidenceEvent, LedgerHead
from app.fulfilments.models import Shipment, StoreFulfilmentEvent
from app.history.models import HistoryFulfillment, HistoryImport
from app.insights.models import Aggregate, Breakdown, CustomerMessage, OrderFacts
from app.inventory.models import InventoryItem, SupplierStock
from app.notifications.models import Notification
from app.orders.models import Customer, DeliveryAddress, Order, OrderLine
from app.outbox.models import OutboxMessage
from app.privacy.models import PrivacyRequest
from app.refunds.models import Refund
from app.resolutions.models import Resolution
from app.risk.models import RiskCard, RiskModel, RiskOutcome, RiskRate, RiskScore, RiskSignal
from app.shops.models import Shop
from app.stockout.models import StockChoice
from app.suppliers.health_models import SupplierQueueEntry, SupplierSlaBreach
from app.suppliers.models import Supplier, SupplierOrder
from app.suppliers.tables import MappingImport, OrderFlag, SupplierOrderLine, VariantMapping
from app.tracking.models import ShipmentAlert
from app.webhooks.models import WebhookDelivery

__all__ = [
    "ChainDigest",
    "MerchantMail",
    "PreDisputeAlert",
    "RatioWarning",
    "Aggregate",
    "Breakdown",
    "CustomerMessage",
    "OrderFacts",
    "Dispute",
    "PrivacyRequest",
    "Customer",
    "DeliveryAddress",
    "EvidenceEvent",
    "HistoryFulfillment",
    "HistoryImport",
    "InventoryItem",
    "LedgerHead",
    "MappingImport",
    "Notification",
    "Order",
    "OrderFlag",
    "OrderLine",
    "OutboxMessage",
    "Refund",
    "Resolution",
    "RiskCard",
    "RiskModel",
    "RiskOutcome",
    "RiskRate",
    "RiskScore",
    "RiskSignal",
    "Shipment",
    "ShipmentAlert",
    "Shop",
    "StockChoice",
    "Supplier",
    "StoreFulfilmentEvent",
    "SupplierOrder",
    "SupplierOrderLine",
    "SupplierQueueEntry",
    "SupplierSlaBreach",
    "SupplierStock",
    "VariantMapping",
    "WebhookDelivery",
]
