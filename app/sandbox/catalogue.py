"""Realistic demo customers and products: names, addresses, languages and currencies that fit.

Phone numbers are valid mobile numbers for their country (the address check and the suppliers
refuse any other; the drama ranges UK 07700 900 and France 06 39 98 are not valid numbers, so
orders from them were held). Where a country's fiction range is itself valid it is used (US and
Canada 555-01xx, Australia 0491 570); elsewhere the digits sit next to the numbering plan's own
example number. They are never dialled: texts go to the sandbox's SMS emulator. E-mail addresses come from example domains, IP addresses from the
documentation ranges: nothing reaches a real person.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Country:
    code: str
    locale: str
    accept_language: str
    currency: str
    rate: Decimal  # from USD
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    cities: tuple[tuple[str, str | None, str], ...]  # city, province code, postcode
    streets: tuple[str, ...]
    number_first: bool  # "12 Oak Street" rather than "Hauptstraße 12"
    phone: str  # format with {n} for the free digits
    weight: int


COUNTRIES = (
    Country("US", "en", "en-US,en;q=0.9", "USD", Decimal("1"),
            ("James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "David", "Linda", "Ashley", "Tyler"),
            ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson", "Moore"),
            (("Austin", "TX", "78701"), ("Portland", "OR", "97205"), ("Columbus", "OH", "43215"),
             ("Denver", "CO", "80202"), ("Raleigh", "NC", "27601"), ("Tampa", "FL", "33602")),
            ("Oak Street", "Maple Avenue", "Cedar Lane", "Pine Road", "Elm Drive", "Lakeview Boulevard"),
            True, "+1{area}555{n4}", 40),
    Country("GB", "en", "en-GB,en;q=0.9", "GBP", Decimal("0.79"),
            ("Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Freya", "Charlie", "Poppy"),
            ("Taylor", "Brown", "Evans", "Thomas", "Roberts", "Walker", "Wright", "Hughes", "Clarke", "Hall"),
            (("Manchester", None, "M1 1AE"), ("Leeds", None, "LS1 4DY"), ("Bristol", None, "BS1 5TR"),
             ("Edinburgh", None, "EH1 1YZ"), ("Cardiff", None, "CF10 1EP")),
            ("High Street", "Station Road", "Church Lane", "Victoria Road", "Mill Lane"),
            True, "+4474001{n5}", 15),
    Country("FR", "fr", "fr-FR,fr;q=0.9,en;q=0.6", "EUR", Decimal("0.92"),
            ("Camille", "Lucas", "Léa", "Hugo", "Chloé", "Louis", "Manon", "Gabriel", "Inès", "Jules"),
            ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"),
            (("Lyon", None, "69002"), ("Bordeaux", None, "33000"), ("Nantes", None, "44000"),
             ("Lille", None, "59000"), ("Toulouse", None, "31000")),
            ("rue de la République", "rue Victor Hugo", "avenue Jean Jaurès", "boulevard Gambetta", "rue Nationale"),
            True, "+3361234{n4}", 12),
    Country("DE", "de", "de-DE,de;q=0.9,en;q=0.5", "EUR", Decimal("0.92"),
            ("Lukas", "Anna", "Leon", "Mia", "Finn", "Emma", "Paul", "Hannah", "Jonas", "Lea"),
            ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Koch"),
            (("Berlin", "BE", "10115"), ("München", "BY", "80331"), ("Hamburg", "HH", "20095"),
             ("Köln", "NW", "50667"), ("Leipzig", "SN", "04109")),
            ("Hauptstraße", "Bahnhofstraße", "Gartenstraße", "Schillerstraße", "Lindenallee"),
            False, "+4915550{n6}", 10),
    Country("ES", "es", "es-ES,es;q=0.9", "EUR", Decimal("0.92"),
            ("Lucía", "Hugo", "Martina", "Mateo", "Sofía", "Leo", "Julia", "Daniel", "Valeria", "Pablo"),
            ("García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Ruiz"),
            (("Madrid", "M", "28013"), ("Barcelona", "B", "08001"), ("Valencia", "V", "46002"),
             ("Sevilla", "SE", "41001"), ("Bilbao", "BI", "48001")),
            ("Calle Mayor", "Avenida de la Constitución", "Calle Real", "Paseo de Gracia", "Calle del Sol"),
            False, "+34600{n6}", 8),
    Country("CA", "en", "en-CA,en;q=0.9,fr-CA;q=0.5", "CAD", Decimal("1.36"),
            ("Liam", "Olivia", "Noah", "Emma", "William", "Charlotte", "Benjamin", "Sophie", "Ethan", "Chloe"),
            ("Tremblay", "Roy", "Gagnon", "Wilson", "MacDonald", "Campbell", "Lee", "Martin", "Smith", "Brown"),
            (("Toronto", "ON", "M5V 2T6"), ("Vancouver", "BC", "V6B 1A1"), ("Calgary", "AB", "T2P 1J9"),
             ("Ottawa", "ON", "K1P 1J1"), ("Halifax", "NS", "B3J 1A1")),
            ("King Street", "Queen Street", "Maple Crescent", "Bay Street", "Main Street"),
            True, "+1{area}555{n4}", 8),
    Country("AU", "en", "en-AU,en;q=0.9", "AUD", Decimal("1.52"),
            ("Jack", "Charlotte", "William", "Olivia", "Lucas", "Amelia", "Thomas", "Isla", "Oscar", "Mia"),
            ("Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Nguyen", "Johnson", "Martin", "White"),
            (("Sydney", "NSW", "2000"), ("Melbourne", "VIC", "3000"), ("Brisbane", "QLD", "4000"),
             ("Perth", "WA", "6000"), ("Adelaide", "SA", "5000")),
            ("George Street", "Collins Street", "Queen Street", "Hay Street", "King William Street"),
            True, "+61491570{n3}", 7),
)
AREA_CODES = {"US": ("512", "503", "614", "303", "919", "813"), "CA": ("416", "604", "403", "613", "902")}

# (title, variant title or None, sku, USD price, grams, product id, variant id)
PRODUCTS = (
    ("Posture Corrector Brace", "M", "DG-PCB-01-M", "19.99", 180, 8811100001, 4455100001),
    ("Wireless Earbuds Pro", "Black", "DG-WEP-02-BK", "34.99", 90, 8811100002, 4455100002),
    ("Wireless Earbuds Pro", "White", "DG-WEP-02-WH", "34.99", 90, 8811100002, 4455100003),
    ("LED Sunset Lamp", None, "DG-LSL-03", "24.99", 420, 8811100003, 4455100004),
    ("Magnetic Phone Mount", None, "DG-MPM-04", "14.99", 120, 8811100004, 4455100005),
    ("Portable Blender Cup", "Pink", "DG-PBC-05-PK", "29.99", 650, 8811100005, 4455100006),
    ("Pet Hair Remover Roller", None, "DG-PHR-06", "12.99", 210, 8811100006, 4455100007),
    ("Mini Projector HD", None, "DG-MPH-07", "79.99", 1300, 8811100007, 4455100008),
    ("Heated Eye Massager", None, "DG-HEM-08", "39.99", 380, 8811100008, 4455100009),
    ("Car Seat Gap Filler (2 pcs)", None, "DG-CSG-09", "16.99", 300, 8811100009, 4455100010),
    ("Smart Watch Band", "Midnight", "DG-SWB-10-MN", "11.99", 40, 8811100010, 4455100011),
)
USER_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
)
DOC_NETWORKS = ("192.0.2.", "198.51.100.", "203.0.113.")


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "")


def _price(usd: str, country: Country) -> str:
    local = Decimal(usd) * country.rate
    # Shops price in each currency at a ".99" ending.
    return str(local.quantize(Decimal("1")) - Decimal("0.01")) if local >= 1 else str(local.quantize(Decimal("0.01")))


def _phone(rng: random.Random, country: Country) -> str:
    return country.phone.format(
        area=rng.choice(AREA_CODES.get(country.code, ("000",))), n3=f"{rng.randrange(1000):03d}",
        n4=f"01{rng.randrange(100):02d}" if country.code in ("US", "CA") else f"{rng.randrange(10**4):04d}",
        n5=f"{rng.randrange(10**5):05d}", n6=f"{rng.randrange(10**6):06d}",
    )


def random_order(rng: random.Random, sequence: int) -> dict[str, Any]:
    """A partial REST order for the store emulator's control endpoint."""
    country = rng.choices(COUNTRIES, weights=[c.weight for c in COUNTRIES])[0]
    first, last = rng.choice(country.first_names), rng.choice(country.last_names)
    city, province, postcode = rng.choice(country.cities)
    number, street = rng.randint(1, 240), rng.choice(country.streets)
    phone = _phone(rng, country)
    browser_ip = rng.choice(DOC_NETWORKS) + str(rng.randint(1, 254))
    email = f"{_ascii(first)}.{_ascii(last)}{sequence}@{rng.choice(('example.com', 'example.org', 'example.net'))}"
    address = {
        "first_name": first, "last_name": last,
        "address1": f"{number} {street}" if country.number_first else f"{street} {number}",
        "address2": rng.choice([None, None, None, f"Apt {rng.randint(1, 40)}"]),
        "city": city, "province_code": province, "zip": postcode, "country_code": country.code, "phone": phone,
    }
    count = rng.choices((1, 2, 3, 4), weights=(55, 28, 12, 5))[0]
    lines = []
    for title, variant, sku, usd, grams, product_id, variant_id in rng.sample(PRODUCTS, count):
        lines.append({
            "title": title, "variant_title": variant, "sku": sku, "price": _price(usd, country),
            "quantity": rng.choices((1, 2, 3), weights=(80, 16, 4))[0], "grams": grams,
            "product_id": product_id, "variant_id": variant_id, "vendor": "Dropguard Demo",
        })
    return {
        "email": email,
        "phone": phone,
        "currency": country.currency,
        "locale": country.locale,
        "browser_ip": browser_ip,
        "client_details": {
            "browser_ip": browser_ip,
            "accept_language": country.accept_language,
            "user_agent": rng.choice(USER_AGENTS),
            "browser_width": rng.choice((390, 412, 1440, 1920)),
            "browser_height": rng.choice((844, 915, 900, 1080)),
            "session_hash": None,
        },
        "customer": {"first_name": first, "last_name": last, "email": email, "phone": phone,
                     "currency": country.currency},
        "shipping_address": address,
        "billing_address": dict(address),
        "shipping_lines": [{"title": "Standard Shipping", "code": "STANDARD",
                            "price": rng.choice(("0.00", _price("4.99", country)))}],
        "line_items": lines,
    }
