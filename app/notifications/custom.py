"""Merchants' own wording for a stage and language, rendered in a sandboxed Jinja2 environment.

A merchant template overrides the subject and the message body; the layout around it (greeting
styles, status button, order summary, unsubscribe link, List-Unsubscribe) stays ours, so an edit
can never drop the legal parts. Sources are plain text: the HTML part is built from paragraphs
(blank-line separated) with every value escaped. Rendering is sandboxed
(jinja2.sandbox.SandboxedEnvironment: no attribute tricks, no imports) with only VARIABLES.
"""

from __future__ import annotations

from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.notifications.models import NotificationTemplate
from app.templating import render

MAX_SUBJECT = 300
MAX_BODY = 5000
# What a merchant template may use, shown next to the editor.
VARIABLES = {
    "customer_name": "the customer's first name (may be empty)",
    "order_name": "the order number, e.g. #1042",
    "shop_name": "your shop's name",
    "total": "the order total, formatted for the customer's language",
    "status_url": "the order's status page (also shown as a button below your text)",
    "tracking_numbers": "the parcels' tracking numbers, comma-separated (may be empty)",
    "carrier": "the first parcel's carrier (may be empty)",
    "estimate": "the new delivery estimate of a delay or exception (may be empty)",
    "remedy": "the outcome of a resolution update, in the customer's language (may be empty)",
}


class TemplateInvalid(ValueError):
    """The merchant's template does not render; the message says where."""


def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True)


_ENV = _environment()


def variables(context: dict[str, Any]) -> dict[str, str]:
    """The merchant-visible values, taken from the built-in email context."""
    shipments = context.get("shipments") or []
    notice, resolution = context.get("notice") or {}, context.get("resolution") or {}
    estimate = (notice.get("estimate") or {}) if isinstance(notice, dict) else {}
    t = context["t"]
    return {
        "customer_name": context.get("customer_name") or "",
        "order_name": context.get("order_name") or "",
        "shop_name": context.get("shop_name") or "",
        "total": context.get("total") or "",
        "status_url": context.get("status_url") or "",
        "tracking_numbers": ", ".join(s["tracking_number"] for s in shipments),
        "carrier": shipments[0]["carrier"] if shipments else "",
        "estimate": " – ".join(p for p in (estimate.get("start"), estimate.get("end")) if p),
        "remedy": t("remedy." + resolution["remedy"]) if resolution.get("remedy") else "",
    }


def _render_source(source: str, values: dict[str, str], what: str) -> str:
    try:
        return _ENV.from_string(source).render(**values)
    except TemplateError as error:
        line = getattr(error, "lineno", None)
        where = f" (line {line})" if line else ""
        raise TemplateInvalid(f"{what}{where}: {error.message or type(error).__name__}") from None


def validate(subject: str, body: str, sample: dict[str, str]) -> None:
    if not subject.strip() or not body.strip():
        raise TemplateInvalid("subject and body are both required")
    if len(subject) > MAX_SUBJECT or len(body) > MAX_BODY:
        raise TemplateInvalid(f"subject is limited to {MAX_SUBJECT} and body to {MAX_BODY} characters")
    _render_source(subject, sample, "subject")
    _render_source(body, sample, "body")


def render_custom(template: NotificationTemplate | Any, context: dict[str, Any]):
    """(subject, text, html) from the merchant's sources around our layout."""
    values = variables(context)
    subject = " ".join(_render_source(template.subject, values, "subject").split())
    body = _render_source(template.body, values, "body").strip()
    paragraphs = [p.strip() for p in body.replace("\r\n", "\n").split("\n\n") if p.strip()]
    html_paragraphs = [Markup("<br>").join(escape(line) for line in p.split("\n")) for p in paragraphs]
    full = {**context, "custom_subject": subject, "custom_text": "\n\n".join(paragraphs),
            "custom_paragraphs": html_paragraphs}
    return subject, render("emails/_custom.txt", **full).strip() + "\n", render("emails/_custom.html", **full)


def override_for(session: Session, shop_id: int, stage: str, locale: str) -> NotificationTemplate | None:
    return session.scalar(
        select(NotificationTemplate).where(
            NotificationTemplate.shop_id == shop_id,
            NotificationTemplate.stage == stage,
            NotificationTemplate.locale == locale,
        )
    )
