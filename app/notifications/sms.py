"""SMS through a Twilio-shaped Messages API (settings.sms_*; the sandbox emulator in development).

Errors map onto the mailer's classes so that sending treats both channels alike: 4xx refusals
(invalid number, empty body, bad credentials) are permanent, timeouts and 5xx/429 transient.
"""

from __future__ import annotations

import httpx

from app import http_clients
from app.config import get_settings
from app.metrics import EXTERNAL_CALLS
from app.notifications.mailer import PermanentMailError, TransientMailError

TIMEOUT_SECONDS = 10.0


def base_url() -> str:
    settings = get_settings()
    if settings.sms_api_url:
        return settings.sms_api_url.rstrip("/")
    if settings.sandbox:
        return settings.sandbox_base + "/sms"
    return "https://api.twilio.com"


def _client(transport: httpx.BaseTransport | None = None) -> httpx.Client:
    settings = get_settings()
    return http_clients.client(
        base_url=f"{base_url()}/2010-04-01/Accounts/{settings.sms_account_sid}",
        auth=(settings.sms_account_sid, settings.sms_auth_token),
        timeout=httpx.Timeout(TIMEOUT_SECONDS, connect=5.0),
        transport=transport,
    )


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        detail = response.json()
        reason = f"{response.status_code} code {detail.get('code')}: {detail.get('message')}"
    except ValueError:
        reason = f"HTTP {response.status_code}"
    EXTERNAL_CALLS.labels("sms", "refused").inc()
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientMailError(reason)
    raise PermanentMailError(reason)


def send(to: str, body: str, *, transport: httpx.BaseTransport | None = None) -> str:
    """Returns the provider's message SID."""
    try:
        with _client(transport) as client:
            response = client.post("/Messages.json", data={"To": to, "From": get_settings().sms_from, "Body": body})
    except httpx.TransportError as error:
        EXTERNAL_CALLS.labels("sms", "error").inc()
        raise TransientMailError(f"{type(error).__name__}: {error}") from None
    _raise_for(response)
    EXTERNAL_CALLS.labels("sms", "ok").inc()
    return str(response.json()["sid"])


def find_sent(to: str, body: str, *, transport: httpx.BaseTransport | None = None) -> str | None:
    """The SID of a message already accepted with this exact body (asked before re-sending)."""
    try:
        with _client(transport) as client:
            response = client.get("/Messages.json", params={"To": to, "PageSize": 100})
    except httpx.TransportError as error:
        raise TransientMailError(f"{type(error).__name__}: {error}") from None
    _raise_for(response)
    for message in response.json().get("messages") or []:
        if message.get("body") == body:
            return str(message["sid"])
    return None
