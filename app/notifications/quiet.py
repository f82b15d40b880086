"""Quiet hours in the customer's time zone, derived from the shipping address.

A single zone per country covers most destinations; countries spanning several zones are resolved
by province (US, CA, AU, BR, MX, RU; a representative zone otherwise). An unknown country falls
back to the shop's zone. Messages due in quiet hours are held (status "deferred", due_at) and
released by the notifications.release_deferred beat task: no long ETA tasks on Redis.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from app.db import utcnow
from app.orders.models import DeliveryAddress, Order
from app.shops import settings as shop_settings
from app.shops.models import Shop

COUNTRY_ZONES = {
    "AD": "Europe/Andorra", "AE": "Asia/Dubai", "AR": "America/Argentina/Buenos_Aires", "AT": "Europe/Vienna",
    "AU": "Australia/Sydney", "BE": "Europe/Brussels", "BG": "Europe/Sofia", "BR": "America/Sao_Paulo",
    "CA": "America/Toronto", "CH": "Europe/Zurich", "CL": "America/Santiago", "CN": "Asia/Shanghai",
    "CO": "America/Bogota", "CY": "Asia/Nicosia", "CZ": "Europe/Prague", "DE": "Europe/Berlin",
    "DK": "Europe/Copenhagen", "EE": "Europe/Tallinn", "EG": "Africa/Cairo", "ES": "Europe/Madrid",
    "FI": "Europe/Helsinki", "FR": "Europe/Paris", "GB": "Europe/London", "GR": "Europe/Athens",
    "HK": "Asia/Hong_Kong", "HR": "Europe/Zagreb", "HU": "Europe/Budapest", "ID": "Asia/Jakarta",
    "IE": "Europe/Dublin", "IL": "Asia/Jerusalem", "IN": "Asia/Kolkata", "IS": "Atlantic/Reykjavik",
    "IT": "Europe/Rome", "JP": "Asia/Tokyo", "KR": "Asia/Seoul", "LT": "Europe/Vilnius",
    "LU": "Europe/Luxembourg", "LV": "Europe/Riga", "MA": "Africa/Casablanca", "MC": "Europe/Monaco",
    "MT": "Europe/Malta", "MX": "America/Mexico_City", "MY": "Asia/Kuala_Lumpur", "NG": "Africa/Lagos",
    "NL": "Europe/Amsterdam", "NO": "Europe/Oslo", "NZ": "Pacific/Auckland", "PE": "America/Lima",
    "PH": "Asia/Manila", "PL": "Europe/Warsaw", "PT": "Europe/Lisbon", "RO": "Europe/Bucharest",
    "RS": "Europe/Belgrade", "RU": "Europe/Moscow", "SA": "Asia/Riyadh", "SE": "Europe/Stockholm",
    "SG": "Asia/Singapore", "SI": "Europe/Ljubljana", "SK": "Europe/Bratislava", "TH": "Asia/Bangkok",
    "TR": "Europe/Istanbul", "TW": "Asia/Taipei", "UA": "Europe/Kyiv", "US": "America/New_York",
    "VN": "Asia/Ho_Chi_Minh", "ZA": "Africa/Johannesburg",
}
_US = {
    **dict.fromkeys(("CT", "DE", "DC", "FL", "GA", "IN", "KY", "ME", "MD", "MA", "MI", "NH", "NJ", "NY", "NC",
                     "OH", "PA", "RI", "SC", "VT", "VA", "WV"), "America/New_York"),
    **dict.fromkeys(("AL", "AR", "IL", "IA", "KS", "LA", "MN", "MS", "MO", "NE", "ND", "OK", "SD", "TN", "TX",
                     "WI"), "America/Chicago"),
    **dict.fromkeys(("CO", "ID", "MT", "NM", "UT", "WY"), "America/Denver"),
    "AZ": "America/Phoenix",
    **dict.fromkeys(("CA", "NV", "OR", "WA"), "America/Los_Angeles"),
    "AK": "America/Anchorage", "HI": "Pacific/Honolulu", "PR": "America/Puerto_Rico",
}
_CA = {
    **dict.fromkeys(("ON", "QC"), "America/Toronto"), **dict.fromkeys(("NS", "NB", "PE"), "America/Halifax"),
    "NL": "America/St_Johns", "MB": "America/Winnipeg", "SK": "America/Regina",
    "AB": "America/Edmonton", "BC": "America/Vancouver", "YT": "America/Whitehorse",
    "NT": "America/Yellowknife", "NU": "America/Iqaluit",
}
_AU = {
    **dict.fromkeys(("NSW", "ACT"), "Australia/Sydney"), "VIC": "Australia/Melbourne",
    "QLD": "Australia/Brisbane", "SA": "Australia/Adelaide", "WA": "Australia/Perth",
    "TAS": "Australia/Hobart", "NT": "Australia/Darwin",
}
_BR = {**dict.fromkeys(("AM", "RR", "RO"), "America/Manaus"), **dict.fromkeys(("MT", "MS"), "America/Cuiaba"),
       "AC": "America/Rio_Branco"}
_MX = {"BC": "America/Tijuana", **dict.fromkeys(("SON",), "America/Hermosillo"),
       **dict.fromkeys(("BCS", "SIN", "NAY"), "America/Mazatlan"), "ROO": "America/Cancun"}
PROVINCE_ZONES = {"US": _US, "CA": _CA, "AU": _AU, "BR": _BR, "MX": _MX}


def _zone(name: str | None) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone_for(country_code: str | None, province_code: str | None, fallback: str | None = None) -> ZoneInfo:
    country = (country_code or "").upper()
    province = (province_code or "").upper().split("-")[-1]
    name = PROVINCE_ZONES.get(country, {}).get(province) or COUNTRY_ZONES.get(country)
    return _zone(name) or _zone(fallback) or ZoneInfo("UTC")


def in_quiet_hours(local: datetime, quiet: tuple[int, int]) -> bool:
    start, end = quiet
    if start == end:
        return False
    hour = local.hour
    return (start <= hour or hour < end) if start > end else (start <= hour < end)


def release_time(now: datetime, zone: ZoneInfo, quiet: tuple[int, int]) -> datetime | None:
    """None when a message may go now; otherwise the UTC moment quiet hours end for the customer."""
    local = now.astimezone(zone)
    if not in_quiet_hours(local, quiet):
        return None
    end = quiet[1]
    day = local.date() if local.hour < end else local.date() + timedelta(days=1)
    # Wall-clock end of the quiet period; fold=0 and a DST gap simply land within the same hour.
    release = datetime.combine(day, time(end), tzinfo=zone)
    return release.astimezone(now.tzinfo)


def hours_for(shop: Shop) -> tuple[int, int]:
    """The shop's quiet hours as Settings shows them; turned off, they are (0, 0): never quiet."""
    return shop_settings.quiet_hours(shop) or (0, 0)


def deferral(session: Session, order: Order, shop: Shop, now: datetime | None = None) -> tuple[datetime | None, str]:
    """When the message may go (None: now) and the customer's zone it was judged in."""
    address = session.get(DeliveryAddress, order.id)
    zone = zone_for(
        address.country_code if address else None, address.province_code if address else None, shop.timezone
    )
    # The shop's quiet hours as Settings shows them (the deployment's until the merchant chooses).
    quiet = shop_settings.quiet_hours(shop)
    return (release_time(now or utcnow(), zone, quiet) if quiet else None), zone.key
