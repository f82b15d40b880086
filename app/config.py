"""One Settings object, read from DROPGUARD_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AnyHttpUrl, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SHOPIFY_API_VERSION = "2026-07"


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names it in one line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DROPGUARD_", env_file=".env", extra="ignore")

    database_url: str = Field(description="PostgreSQL URL (postgresql+psycopg://…)")
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
    mail_from: str = "Dropguard <orders@dropguard.local>"

    supplier_api_url: str = "http://127.0.0.1:8000/sandbox/supplier"
    supplier_api_key: str = "sandbox-supplier-key"
    supplier_api_secret: str = "sandbox-supplier-secret"  # noqa: S105 - the sandbox emulator's own secret
    # Read timeout of one supplier call; a timed-out call is retried after asking the supplier first.
    supplier_timeout_seconds: Annotated[float, Field(gt=0)] = 10

    sandbox: bool = False
    log_level: str = "INFO"
    log_json: bool = True

    webhook_max_bytes: int = 2 * 1024 * 1024
    outbox_sweep_after_seconds: int = 15
    task_hard_time_limit: int = 300
    # The worker serves its Prometheus metrics (all pool processes merged) here; 0 turns it off.
    worker_metrics_port: Annotated[int, Field(ge=0, le=65535)] = 9808
    worker_metrics_host: str = "127.0.0.1"

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
