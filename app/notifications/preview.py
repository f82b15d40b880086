"""A sample order for the template editor's live preview: rendered, never sent, nothing stored."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.config import get_settings
from app.db import utcnow
from app.notifications import custom, rendering
from app.shops.models import Shop
from app.templating import format_money, normalise_locale, translator

SAMPLE_FACTS = {
    "delayed": {"reason": "stalled"},
    "exception": {"reason": "delivery_failed"},
    "resolution_update": {"status": "approved", "remedy": "partial_refund", "amount": "11.97"},
    "stock_choice": {"amount": "19.95"},
}


def sample_context(shop: Shop, stage: str, locale: str) -> dict[str, Any]:
    locale = normalise_locale(locale)
    today = utcnow().date()
    facts = {**SAMPLE_FACTS.get(stage, {})}
    if stage in ("delayed", "exception"):
        facts |= {"estimate_from": (today + timedelta(days=3)).isoformat(),
                  "estimate_to": (today + timedelta(days=7)).isoformat()}
    base = get_settings().public_base
    return {
        **rendering.stage_facts(facts, locale, shop.currency),
        "stage": stage,
        "locale": locale,
        "t": translator(locale),
        **rendering.brand_context(shop),
        "order_name": "#1042",
        "customer_name": "Alex",
        "lines": [{"title": "Posture corrector", "variant": "M", "quantity": 1},
                  {"title": "Travel pillow", "variant": "", "quantity": 2}],
        "total": format_money("39.90", shop.currency, locale),
        "status_url": f"{base}/status/SAMPLE",
        "unsubscribe_url": f"{base}/status/SAMPLE/unsubscribe",
        "contact_url": f"{base}/status/SAMPLE/contact",
        "shipments": [{"carrier": "La Poste", "tracking_number": "LX123456785CN",
                       "tracking_url": "https://www.laposte.fr/outils/suivre-vos-envois?code=LX123456785CN"}],
    }


def render_preview(shop: Shop, stage: str, locale: str, *, subject: str | None, body: str | None
                   ) -> rendering.RenderedEmail:
    """The merchant's draft if given (raises custom.TemplateInvalid), else the built-in wording."""
    context = sample_context(shop, stage, locale)
    if subject is not None and body is not None and (subject.strip() or body.strip()):
        custom.validate(subject, body, custom.variables(context))
        draft = type("Draft", (), {"subject": subject, "body": body})()
        rendered_subject, text, html = custom.render_custom(draft, context)
        return rendering.RenderedEmail(subject=rendered_subject, text=text, html=html)
    return rendering.render_email(stage, context)
