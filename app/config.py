"""One Settings object, read from DROPGUARD_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AnyHttpUrl, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SHOPIFY_API_VERSION = "2026-07"


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names it in one line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DROPGUARD_", env_file=".env", extra="ignore")

    database_url: str = Field(description="PostgreSQL URL (postgresql+psycopg://…)")
    # A fixed-size pool: connections opened past it ("overflow") are closed again whenever the pool
    # is full, so under steady load they were opened and closed hundreds of times a second (445 new
    # sessions in 10 s of the ingest benchmark, each a forked backend), which cost a third of the
    # throughput. Requests beyond the pool wait for a connection instead.
    database_pool_size: Annotated[int, Field(ge=1, le=500)] = Field(
        default=20, description="PostgreSQL connections each process keeps open (its most at once)"
    )
    database_max_overflow: Annotated[int, Field(ge=0, le=500)] = Field(
        default=0, description="extra short-lived connections a process may open past the pool"
    )
    ingest_pool_size: Annotated[int, Field(ge=1, le=500)] = Field(
        default=10, description="PostgreSQL connections each web process keeps for webhook ingest (on its event loop)"
    )
    ingest_batch_max: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=32, description="most webhooks one ingest transaction records (deliveries arriving together share one)"
    )
    redis_url: str = Field(description="Redis URL for the Celery broker, locks and rate limits")
    # Every Redis key and Celery queue of this deployment starts with it, so that two deployments
    # (or two test runs) can share one Redis without seeing each other's work.
    redis_prefix: str = "dropguard:"

    shopify_api_key: str = Field(min_length=1)
    shopify_api_secret: str = Field(min_length=1)
    shopify_api_version: str = SHOPIFY_API_VERSION
    # "{shop}" is replaced by the shop's myshopify domain; the sandbox stands in for the store here.
    shopify_admin_url: str = "https://{shop}"

    secret_key: str = Field(min_length=16, description="signs status links and cookies")
    # Comma-separated Fernet keys, newest first; older keys still decrypt (rotation).
    encryption_keys: str | None = None
    public_url: AnyHttpUrl = Field(description="where customers and the store reach this app")

    smtp_host: str = "127.0.0.1"
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 1025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = Field(
        default="Dropguard <orders@dropguard.local>",
        description="envelope sender and From address when no sender domain is set (the shop's name is put in front)",
    )
    mail_sender_domain: str | None = Field(
        default=None,
        description="domain customers' e-mails come from, as <shop-handle>@<domain> (SPF/DKIM set up by the operator)",
    )

    supplier_api_url: str = "http://127.0.0.1:8000/sandbox/supplier"
    supplier_api_key: str = "sandbox-supplier-key"
    supplier_api_secret: str = "sandbox-supplier-secret"  # noqa: S105 - the sandbox emulator's own secret
    # Read timeout of one supplier call; a timed-out call is retried after asking the supplier first.
    supplier_timeout_seconds: Annotated[float, Field(gt=0)] = 10

    # Suppliers: AliExpress DS and CJdropshipping adapters (issue 4). A supplier's own settings
    # (Supplier.settings, secrets encrypted) win over these; unset URLs mean the sandbox emulators
    # under public_base when sandbox is on, the real gateways otherwise.
    aliexpress_api_url: str | None = Field(default=None, description="AliExpress IOP gateway base URL")
    aliexpress_app_key: str = Field(default="500100", description="AliExpress app key")
    aliexpress_app_secret: str = Field(
        default="sandbox-aliexpress-app-secret-0001", description="AliExpress app secret"
    )
    aliexpress_access_token: str | None = Field(
        default="50000sandboxAEaccessToken0001", description="AliExpress access token (DS account)"
    )
    aliexpress_refresh_token: str | None = Field(
        default="50001sandboxAErefreshToken0001", description="AliExpress refresh token (renews the access token)"
    )
    cj_api_url: str | None = Field(default=None, description="CJdropshipping API v2 base URL")
    cj_api_key: str = Field(default="CJ-SANDBOX-API-KEY-0001", description="CJdropshipping API key")
    cj_open_id: str | None = Field(
        default="1234567890123", description="CJ account openId: the key of its webhook signatures"
    )
    # AliExpress has no order webhook: status and tracking are polled, backing off to this.
    supplier_poll_max_seconds: Annotated[int, Field(ge=10)] = Field(
        default=6 * 3600, description="longest wait between two polls of one AliExpress order"
    )

    # --- Shopify app install, tokens and history import (issue 3: app/shops, app/history) ---
    shopify_scopes: str = Field(
        default=(
            "read_orders,read_all_orders,write_orders,read_fulfillments,write_fulfillments,"
            "read_merchant_managed_fulfillment_orders,write_merchant_managed_fulfillment_orders,"
            "read_products,read_inventory,write_inventory,read_customers,read_shopify_payments_disputes"
        ),
        description="Comma-separated Admin API scopes requested at install; a change asks the merchant again",
    )
    shopify_expiring_tokens: bool = Field(
        default=True, description="Ask for expiring offline tokens (3600 s) with rotating refresh tokens"
    )
    token_refresh_margin_seconds: Annotated[int, Field(ge=0, le=3000)] = Field(
        default=300, description="Refresh an access token this long before it expires"
    )
    oauth_timestamp_tolerance_seconds: Annotated[int, Field(ge=1)] = Field(
        default=90, description="How far an OAuth callback's timestamp may be from now"
    )
    history_import_days: Annotated[int, Field(ge=1, le=3650)] = Field(
        default=365, description="How far back the import on install reaches"
    )

    # --- Supplier resilience, SLAs, inventory and cost sync (issue 4: app/suppliers/resilience.py,
    # app/suppliers/sla.py, app/inventory). A supplier's settings (rate_per_second, rate_burst,
    # breaker_threshold, breaker_cooldown_seconds, sla {confirm_hours, ship_days, tracking_days}) and
    # a shop's settings (supplier_sla, inventory_safety_buffer, margin_floor) win over these.
    supplier_rate_per_second: Annotated[float, Field(gt=0)] = Field(
        default=5.0, description="Calls per second to one supplier, shared by every worker"
    )
    supplier_rate_burst: Annotated[int, Field(ge=1)] = Field(
        default=10, description="Calls one supplier may take at once after a quiet spell"
    )
    supplier_breaker_threshold: Annotated[int, Field(ge=1)] = Field(
        default=5, description="Consecutive failed calls that open a supplier's circuit"
    )
    supplier_breaker_cooldown_seconds: Annotated[float, Field(gt=0)] = Field(
        default=30.0, description="How long an open circuit waits before one probe call"
    )
    supplier_sla_confirm_hours: Annotated[float, Field(gt=0)] = Field(
        default=24.0, description="Default SLA: a placed supplier order is confirmed within this many hours"
    )
    supplier_sla_ship_days: Annotated[float, Field(gt=0)] = Field(
        default=5.0, description="Default SLA: shipped within this many days of placing"
    )
    supplier_sla_tracking_days: Annotated[float, Field(gt=0)] = Field(
        default=7.0, description="Default SLA: a tracking number within this many days of placing"
    )
    inventory_safety_buffer: Annotated[int, Field(ge=0)] = Field(
        default=2, description="Below this supplier quantity the store shows 0 available"
    )
    inventory_margin_floor: Annotated[float, Field(ge=0, lt=1)] = Field(
        default=0.2, description="Alert when (price - unit cost) / price falls under this"
    )

    sandbox: bool = False
    # The sandbox can run as its own process (`dropguard sandbox`, as `make run` does) so that its
    # emulators' CPU is not counted as, nor competes with, the web process's; unset: mounted at
    # public_url + /sandbox inside the web app.
    sandbox_url: str | None = Field(
        default=None, pattern=r"^https?://",
        description="Where the sandbox answers when it runs as its own process (unset: mounted in the web app)",
    )
    log_level: str = "INFO"
    log_json: bool = True

    webhook_max_bytes: int = 2 * 1024 * 1024
    outbox_sweep_after_seconds: int = 15
    # Inbox reaper and outbox retention (app/outbox/maintenance.py, beat "outbox.maintain").
    inbox_requeue_after_minutes: Annotated[int, Field(ge=1)] = Field(
        default=15, description="a delivery still 'queued' this long after it arrived is queued again"
    )
    outbox_retention_days: Annotated[float, Field(gt=0)] = Field(
        default=7, description="dispatched outbox rows older than this are deleted (they are not evidence)"
    )
    task_hard_time_limit: int = 300
    # The worker serves its Prometheus metrics (all pool processes merged) here; 0 turns it off.
    worker_metrics_port: Annotated[int, Field(ge=0, le=65535)] = 9808
    worker_metrics_host: str = "127.0.0.1"

    # Tracking (issue 5: carrier data, delays). Unset API URLs mean the sandbox emulators under
    # public_base when sandbox is on, the real services otherwise; the keys default to the
    # emulators' own (app/sandbox/carrier_life.py DEFAULTS).
    tracking_provider: Literal["17track", "aftership"] = Field(
        default="17track", description="aggregator that follows new tracking numbers"
    )
    seventeentrack_api_url: str | None = Field(default=None, description="17TRACK v2.2 API base URL")
    seventeentrack_api_key: str = Field(default="sandbox-17track-key", description="17TRACK API key (17token)")
    seventeentrack_webhook_key: str = Field(
        default="sandbox-17track-key", description="17TRACK security key that signs its webhooks"
    )
    aftership_api_url: str | None = Field(default=None, description="AfterShip Tracking API base URL")
    aftership_api_key: str = Field(default="sandbox-aftership-key", description="AfterShip API key")
    aftership_webhook_secret: str = Field(
        default="sandbox-aftership-webhook-secret", description="AfterShip webhook signing secret"
    )
    # Inbound e-mail (customers' replies) through Mailgun's routes: forward() to
    # /webhooks/mail/mailgun. Replies reach the order by a signed reply+<tag>@ address on this domain.
    mailgun_signing_key: str = Field(
        default="sandbox-mailgun-signing-key", description="Mailgun HTTP webhook signing key (signs inbound mail posts)"
    )
    inbound_mail_domain: str = Field(
        default="reply.dropguard.local", description="Domain of the reply addresses whose mail Mailgun forwards here"
    )
    tracking_poll_after_hours: Annotated[float, Field(gt=0)] = Field(
        default=12, description="a followed parcel with no update for this long is polled"
    )
    tracking_no_first_scan_days: Annotated[float, Field(gt=0)] = Field(
        default=5, description="tracking issued but no carrier scan after this many days: alert"
    )
    tracking_no_scan_days: Annotated[float, Field(gt=0)] = Field(
        default=7, description="in transit with no new scan for this many days: alert"
    )
    tracking_window_days: tuple[float, float] = Field(
        default=(10, 20), description="default delivery window in days (typical, late) until a route has history"
    )

    # Notifications, status lookup and resolution centre (issue 5: app/notifications,
    # app/status, app/resolutions).
    quiet_hours: tuple[int, int] = Field(
        default=(21, 8),
        description="customer-local hours (start, end) in which messages are held back until the end",
    )
    sms_api_url: str | None = Field(
        default=None, description="Twilio-shaped Messages API base URL (unset: the sandbox emulator when sandbox is on)"
    )
    sms_account_sid: str = Field(default="ACsandbox0000000000000000000000000", description="SMS account SID")
    sms_auth_token: str = Field(default="sandbox-sms-token", description="SMS auth token (basic auth password)")
    sms_from: str = Field(default="+15005550006", description="SMS sender number in E.164")
    status_lookup_window_seconds: Annotated[int, Field(ge=1)] = Field(
        default=600, description="fixed window of the order-status lookup rate limits"
    )
    status_lookup_per_ip: Annotated[int, Field(ge=1)] = Field(
        default=10, description="lookups one IP may try per window"
    )
    status_lookup_per_order: Annotated[int, Field(ge=1)] = Field(
        default=5, description="lookups of one order number per window (guessing emails)"
    )
    processing_after_hours: Annotated[float, Field(gt=0)] = Field(
        default=24, description="paid orders still without tracking after this long get the processing message"
    )
    uploads_dir: str = Field(
        default="var/uploads", description="where customers' resolution photos are stored (relative: to the repo root)"
    )

    # Risk intelligence (issue 11: app/risk).
    risk_medium_at: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.15, description="probability of a refund or chargeback from which an order's risk is medium"
    )
    risk_high_at: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.4, description="probability of a refund or chargeback from which an order's risk is high"
    )
    risk_label_days: Annotated[int, Field(ge=7, le=365)] = Field(
        default=60, description="days an order's outcome needs to be known: younger orders are not trained on"
    )
    risk_min_outcomes: Annotated[int, Field(ge=10)] = Field(
        default=40, description="refunded or disputed orders (old enough) a shop needs before a model is learned"
    )
    risk_publish_cards: bool = Field(
        default=True, description="write Dropguard's level and reasons into the order's risk card in the store"
    )
    dispute_auto_submit_days: Annotated[int, Field(ge=0, le=30)] = Field(
        default=0, description="submit a complete evidence pack by itself this many days before the deadline (0: "
                               "only when the merchant clicks Submit; an incomplete pack is never sent by itself)"
    )
    dispute_reminder_days: Annotated[int, Field(ge=1, le=30)] = Field(
        default=5, description="days before an unanswered dispute's deadline when the merchant is reminded"
    )

    # Pre-dispute alerts (issue 14 §7: app/alerts): an alert provider relaying Ethoca / Verifi
    # CDRN alerts. Unset URL means the sandbox emulator under public_base when sandbox is on.
    alert_provider_api_url: str | None = Field(
        default=None, description="alert provider API base URL (outcome reports; unset: the sandbox emulator)"
    )
    alert_provider_api_key: str = Field(default="sandbox-alerts-key", description="alert provider API key")
    alert_provider_secret: str = Field(
        default="sandbox-alerts-secret", description="secret that signs the alert provider's webhooks (HMAC)"
    )
    alert_outcome_hours: Annotated[float, Field(gt=0, le=72)] = Field(
        default=24, description="an alert's outcome is reported to the provider within this many hours"
    )

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme in ("postgres", "postgresql"):
            return "postgresql+psycopg" + value[len(scheme) :]
        if scheme != "postgresql+psycopg":
            raise ValueError("must be a postgresql:// or postgresql+psycopg:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_only(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("redis", "rediss", "redis+socket"):
            raise ValueError("must be a redis:// URL")
        return value

    @field_validator("shopify_admin_url")
    @classmethod
    def _admin_url_has_shop(cls, value: str) -> str:
        if "{shop}" not in value:
            raise ValueError("must contain {shop}, e.g. https://{shop}")
        return value.rstrip("/")

    @property
    def public_base(self) -> str:
        return str(self.public_url).rstrip("/")

    @property
    def sandbox_base(self) -> str:
        """The sandbox's own base URL (its routes are under it: /shopify, /supplier, /mail...)."""
        return self.sandbox_url.rstrip("/") if self.sandbox_url else self.public_base + "/sandbox"

    @property
    def sandbox_in_web(self) -> bool:
        """The web app mounts the sandbox itself (and hosts its runner and mail catcher)."""
        return self.sandbox and not self.sandbox_url

    def admin_base(self, shop_domain: str) -> str:
        return self.shopify_admin_url.replace("{shop}", shop_domain)


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    name = "DROPGUARD_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
    if first["type"] == "missing":
        return f"{name} is required but not set"
    return f"{name} is invalid: {first['msg']}"


@lru_cache
def get_settings() -> Settings:
    try:
        return Settings()  # type: ignore[call-arg]
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
