"""`dropguard simulate`: realistic orders through the store emulator, so they reach us as signed
webhooks through the real ingest path."""

from __future__ import annotations

import random
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from app.config import ConfigError, get_settings
from app.db import session_scope
from app.errors import AppError
from app.sandbox.catalogue import random_order
from app.shops import service as shops

PAID_SHARE = 0.9
MAX_IN_FLIGHT = 16


class SimulationError(ConfigError):
    """The simulation cannot run (web app unreachable, sandbox off, shop refused). A ConfigError,
    because that is what the `dropguard` entry point ends in one line instead of a traceback."""


def ensure_demo_shop(shop_domain: str) -> str:
    """The shop in our database (registered if missing or uninstalled); returns its access token."""
    try:
        with session_scope() as session:
            shop = shops.get_by_domain(session, shop_domain)
            if shop is not None and shop.is_installed and shop.access_token_encrypted is not None:
                return shops.access_token(shop)
            token = "shpat_" + secrets.token_hex(16)
            shops.add_shop(session, domain=shop_domain, access_token=token, name="Dropguard Demo")
            return token
    except AppError as error:
        raise SimulationError(error.message) from None


def _check_reachable(client: httpx.Client, base: str) -> None:
    try:
        response = client.get(f"{base}/_control/ping", timeout=5)
    except httpx.HTTPError as error:
        raise SimulationError(
            f"the web app is not reachable at {base} ({type(error).__name__}); "
            "start it with `dropguard serve` (or `dropguard sandbox`) or `dropguard run`"
        ) from None
    if response.status_code == 404:
        raise SimulationError(f"{base} answers but has no sandbox; set DROPGUARD_SANDBOX=true and restart it")
    if response.status_code != 200:
        raise SimulationError(f"the sandbox at {base} answered {response.status_code}")


def _post_order(client: httpx.Client, url: str, body: dict) -> str | None:
    try:
        response = client.post(url, json=body)
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}"
    return None if response.status_code == 201 else f"{response.status_code}: {response.text[:200]}"


def simulate_orders(*, orders: int, rate: float, shop_domain: str, seed: int | None = None) -> str:
    if orders < 1 or rate <= 0:
        raise SimulationError("orders must be at least 1 and rate above 0")
    base = get_settings().sandbox_base
    control = f"{base}/shopify/_control"
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
    with httpx.Client(timeout=30, limits=limits) as client:
        _check_reachable(client, base)
        domain = shop_domain.strip().lower()
        token = ensure_demo_shop(domain)
        registered = client.post(f"{control}/shops", json={"domain": domain, "access_token": token,
                                                           "name": "Dropguard Demo"})
        if registered.status_code != 201:
            raise SimulationError(f"the store emulator refused the shop: {registered.text[:200]}")
        rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
        bodies = [
            {"shop": domain, "order": random_order(rng, rng.randint(1, 99999)), "paid": rng.random() < PAID_SHARE}
            for _ in range(orders)
        ]
        started = time.monotonic()
        # Orders leave on a fixed schedule; a slow answer does not delay the next one.
        with ThreadPoolExecutor(max_workers=min(MAX_IN_FLIGHT, orders)) as pool:
            futures = []
            for index, body in enumerate(bodies):
                wait = started + index / rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                futures.append(pool.submit(_post_order, client, f"{control}/orders", body))
            errors = [error for error in (future.result() for future in futures) if error]
        elapsed = time.monotonic() - started
    if errors:
        raise SimulationError(f"{len(errors)} of {orders} orders failed; first: {errors[0]}")
    return f"simulated {orders} orders in {elapsed:.1f} s ({orders / max(elapsed, 1e-6):.1f}/s)"
