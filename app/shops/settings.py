"""The merchant's settings (shops.settings JSONB): validated sections with defaults, and their diffs.

Each section lives under its own key, the one the domain that acts on it reads:
  "policies"      refund and return policy texts and windows (resolution centre, status page)
  "notifications" languages customers are written in, quiet hours
  "supplier_sla"  confirm within hours, ship and give tracking within days (app.suppliers.sla)
  "ordering"      auto | review | manual and the risk threshold for review (app.suppliers.ordering)
  "dashboard"     the dashboard's language when the admin does not give one (app.web.phrases)
Keys this module does not know (other domains' own settings) are kept untouched on save.

One value per setting: what the Settings page shows is what the code applies. A default that the
deployment configures (SLAs, quiet hours; app/config.py) is the default here too, and the code
paths that apply a setting read it through this module (`load` and the helpers at the end), never
from shops.settings directly — tests/shops/test_one_value_per_setting.py walks every field.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy.orm import Session

from app.config import get_settings
from app.evidence import service as evidence
from app.insights.refresh import shop_sla_changed
from app.shops.models import Shop

LANGUAGES = ("en", "fr", "es", "de")
Language = Literal["en", "fr", "es", "de"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Policies(_Section):
    refund_policy: str = Field(
        default=(
            "If your order has not arrived within the delivery window, or arrives damaged or not as described, "
            "tell us from your order status page and we will reship it or refund you."
        ),
        max_length=4000,
    )
    return_policy: str = Field(
        default="Unused items can be returned within the return window for a refund once they are back with us.",
        max_length=4000,
    )
    refund_window_days: int = Field(default=30, ge=0, le=365)
    return_window_days: int = Field(default=30, ge=0, le=365)


class QuietHours(_Section):
    enabled: bool = True
    # Customer-local hours: messages due inside [start, end) wait until the end (app.notifications.quiet);
    # the deployment's DROPGUARD_QUIET_HOURS until the merchant chooses.
    start_hour: int = Field(default_factory=lambda: get_settings().quiet_hours[0], ge=0, le=23)
    end_hour: int = Field(default_factory=lambda: get_settings().quiet_hours[1], ge=0, le=23)


class Notifications(_Section):
    languages: list[Language] = Field(default_factory=lambda: list(LANGUAGES), min_length=1)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)

    @model_validator(mode="after")
    def _unique_languages(self) -> Notifications:
        self.languages = [lang for lang in LANGUAGES if lang in self.languages]
        return self


class SupplierSla(_Section):
    # The deployment's defaults (DROPGUARD_SUPPLIER_SLA_*) until the merchant chooses: the values
    # Settings shows are the ones Supplier health and the breach check apply (app.suppliers.sla).
    confirm_hours: float = Field(default_factory=lambda: get_settings().supplier_sla_confirm_hours, gt=0, le=720)
    ship_days: float = Field(default_factory=lambda: get_settings().supplier_sla_ship_days, gt=0, le=60)
    tracking_days: float = Field(default_factory=lambda: get_settings().supplier_sla_tracking_days, gt=0, le=60)


class Ordering(_Section):
    # auto: place supplier orders as soon as paid; review: hold above risk_threshold; manual: always hold.
    policy: Literal["auto", "review", "manual"] = "auto"
    risk_threshold: float = Field(default=0.7, ge=0, le=1)

    @field_validator("policy", mode="before")
    @classmethod
    def _ordering_name(cls, value: Any) -> Any:
        # app.suppliers.ordering names the review policy "review_above_risk"; both are stored.
        return "review" if value == "review_above_risk" else value


class Dashboard(_Section):
    # None: follow the store's own language (app.web.phrases.locale_of).
    language: Literal["en", "fr"] | None = None


class ShopSettings(_Section):
    policies: Policies = Field(default_factory=Policies)
    notifications: Notifications = Field(default_factory=Notifications)
    supplier_sla: SupplierSla = Field(default_factory=SupplierSla)
    ordering: Ordering = Field(default_factory=Ordering)
    dashboard: Dashboard = Field(default_factory=Dashboard)


_SECTIONS: dict[str, type[_Section]] = {
    "policies": Policies,
    "notifications": Notifications,
    "supplier_sla": SupplierSla,
    "ordering": Ordering,
    "dashboard": Dashboard,
}


def load(shop: Shop) -> ShopSettings:
    """The shop's settings; a section stored in a shape we cannot read falls back to its defaults."""
    stored = shop.settings if isinstance(shop.settings, dict) else {}
    sections: dict[str, Any] = {}
    for name, model in _SECTIONS.items():
        raw = stored.get(name)
        try:
            sections[name] = model.model_validate(raw if isinstance(raw, dict) else {})
        except ValidationError:
            sections[name] = model()
    return ShopSettings(**sections)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): value}


def diff(before: ShopSettings, after: ShopSettings) -> dict[str, dict[str, Any]]:
    old, new = _flatten(before.model_dump(mode="json")), _flatten(after.model_dump(mode="json"))
    return {
        key: {"from": old.get(key), "to": new.get(key)} for key in sorted(new) if old.get(key) != new.get(key)
    }


def save(session: Session, shop: Shop, new: ShopSettings) -> dict[str, dict[str, Any]]:
    """Store the settings (other keys kept) and record what changed; returns the diff (flushes)."""
    changes = diff(load(shop), new)
    if not changes:
        return changes
    stored = dict(shop.settings) if isinstance(shop.settings, dict) else {}
    # Only the sections that changed are written: an untouched section keeps following the
    # configuration's defaults. A new dict, so that the JSONB column is seen as changed.
    dumped = new.model_dump(mode="json")
    shop.settings = {**stored, **{name: dumped[name] for name in {key.split(".")[0] for key in changes}}}
    evidence.record(
        session,
        chain=shop.domain,
        shop_id=shop.id,
        kind="shop.settings_changed",
        source="merchant",
        data={"changes": changes},
    )
    if any(key.startswith("supplier_sla.") for key in changes):
        shop_sla_changed(session, shop.id)  # on-time rates are judged against the SLA in force
    session.flush()
    return changes


# ---- what the code paths that apply a setting read ---------------------------------------------


def quiet_hours(shop: Shop) -> tuple[int, int] | None:
    """The customer-local hours messages wait through, or None when the merchant turned them off."""
    quiet = load(shop).notifications.quiet_hours
    return (quiet.start_hour, quiet.end_hour) if quiet.enabled else None


def customer_language(shop: Shop, wanted: str | None) -> str:
    """The language a customer is written in: theirs when the shop writes in it, else the shop's first."""
    languages = load(shop).notifications.languages
    code = (wanted or "").strip().lower().replace("_", "-").split("-")[0]
    return code if code in languages else languages[0]
