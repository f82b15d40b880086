"""Carrier tracking-number formats and their check-digit algorithms, as a readable table.

Our own transcription of the formats in the "tracking_number_data" project
(https://github.com/jkeen/tracking_number_data, commit b79ce4bf, MIT License,
Copyright (c) 2017 Jeff Keen; the notice is kept here as the licence asks). Its test numbers are
our conformance suite (tests/tracking/test_numbers.py); nothing here reads its files.

We follow the semantics of that project's reference implementation (the "tracking_number" gem):
a format's pattern must match the whole normalised number, and the check digit is computed over
the SerialNumber group only, after an optional prefix has been put in front of it. Patterns run on
the normalised number, so the data's optional-whitespace tokens are left out, and the regex
structure (greedy optional parts, alternatives in the same order) is kept so that a number splits
into serial and check digit exactly as it does upstream.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

CARRIER_NAMES = {
    "amazon": "Amazon",
    "canada_post": "Canada Post",
    "canpar": "Canpar",
    "dhl": "DHL",
    "dpd": "DPD",
    "fedex": "FedEx",
    "gofo": "GOFO Express",
    "landmark": "Landmark Global LTN",
    "lasership": "LaserShip",
    "old_dominion": "Old Dominion Freight Line",
    "ontrac": "OnTrac",
    "purolator": "Purolator",
    "s10": "S10 International Standard",
    "speedee": "Spee-Dee Delivery",
    "ups": "UPS",
    "usps": "United States Postal Service",
    "yodel": "Yodel",
    "yunexpress": "YunExpress",
    # Supplier lanes: the consolidators dropshipping suppliers hand parcels to.
    "cj_packet": "CJ Packet",
    "cainiao": "Cainiao",
    "fourpx": "4PX",
    "yanwen": "Yanwen",
}


# --- check-digit algorithms ---------------------------------------------------------------------
# Each takes the serial (already prefixed where the format says so) and the check character.


def _digit_value(char: str) -> int:
    # UPS serials carry letters; the carriers' rule folds them onto digits as (ASCII code - 3) mod 10.
    return int(char) if char.isdigit() else (ord(char) - 3) % 10


@dataclass(frozen=True)
class Mod10:
    """Weighted mod 10: positions 0, 2, 4... (from the left, or from the right when reversed)
    are multiplied by `evens`, the others by `odds`; the check digit tops the sum up to a ten."""

    evens: int
    odds: int
    reverse: bool = False

    def __call__(self, serial: str, check: str) -> bool:
        chars = serial[::-1] if self.reverse else serial
        total = sum(
            _digit_value(char) * (self.evens if index % 2 == 0 else self.odds)
            for index, char in enumerate(chars)
        )
        return (10 - total % 10) % 10 == int(check)


@dataclass(frozen=True)
class Luhn:
    def __call__(self, serial: str, check: str) -> bool:
        total = 0
        for index, char in enumerate(reversed(serial)):
            value = int(char) * (2 if index % 2 == 0 else 1)
            total += value - 9 if value > 9 else value
        return (10 - total % 10) % 10 == int(check)


@dataclass(frozen=True)
class Mod7:
    def __call__(self, serial: str, check: str) -> bool:
        return int(serial) % 7 == int(check)


@dataclass(frozen=True)
class WeightedSum:
    """Sum of digit x weight, reduced by `modulo1` and then by `modulo2` (FedEx)."""

    weights: tuple[int, ...]
    modulo1: int
    modulo2: int

    def __call__(self, serial: str, check: str) -> bool:
        total = sum(int(char) * weight for char, weight in zip(serial, self.weights, strict=False))
        return total % self.modulo1 % self.modulo2 == int(check)


@dataclass(frozen=True)
class S10:
    """UPU S10 mod 11 over eight digits; remainders 0 and 1 map to 5 and 0."""

    weights: tuple[int, ...] = (8, 6, 4, 2, 3, 5, 9, 7)

    def __call__(self, serial: str, check: str) -> bool:
        remainder = sum(int(char) * weight for char, weight in zip(serial, self.weights, strict=False)) % 11
        expected = {0: 5, 1: 0}.get(remainder, 11 - remainder)
        return expected == int(check)


@dataclass(frozen=True)
class Mod37_36:
    """ISO 7064 MOD 37,36 (hybrid), as DPD's label specification uses it; the check is alphanumeric."""

    def __call__(self, serial: str, check: str) -> bool:
        product = 36
        for char in serial:
            total = (product + _ALPHANUMERIC.index(char)) % 36 or 36
            product = total * 2 % 37
        return _ALPHANUMERIC[(37 - product) % 36] == check


Checksum = Callable[[str, str], bool]


# --- formats --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Format:
    id: str
    name: str
    carrier: str
    pattern: re.Pattern[str]  # full match; groups SerialNumber, CheckDigit, CountryCode (S10)
    checksum: Checksum | None = None
    tracking_url: str | None = None  # "%s" stands for the normalised number
    # (prefix, pattern): put the prefix in front of the serial before the checksum when the serial
    # matches the pattern, so that numbers printed without their leading digits weigh the same.
    serial_prefix: tuple[str, re.Pattern[str]] | None = None
    needs_s10_country: bool = False
    # A supplier lane's number: a shape with no check digit, which many other strings also fit.
    # Taken as a tracking number only once the aggregator recognises it (app.tracking.service).
    needs_aggregator: bool = False


def _format(
    format_id: str,
    name: str,
    carrier: str,
    pattern: str,
    checksum: Checksum | None = None,
    url: str | None = None,
    serial_prefix: tuple[str, str] | None = None,
    needs_s10_country: bool = False,
    needs_aggregator: bool = False,
) -> Format:
    # ASCII: \d must not accept other scripts' digits, which int() would silently read.
    compiled = re.compile(pattern, re.ASCII | re.VERBOSE)
    prefix = (serial_prefix[0], re.compile(serial_prefix[1], re.ASCII)) if serial_prefix else None
    return Format(format_id, name, carrier, compiled, checksum, url, prefix, needs_s10_country, needs_aggregator)


_UPS_URL = "https://wwwapps.ups.com/WebTracking/track?track=yes&trackNums=%s"
_FEDEX_URL = "https://www.fedex.com/apps/fedextrack/?tracknumbers=%s"
_USPS_URL = "https://tools.usps.com/go/TrackConfirmAction?tLabels=%s"
_DHL_URL = "http://www.dhl.com/en/express/tracking.html?brand=DHL&AWB=%s"
_DPD_URL = "https://www.dpdgroup.com/nl/mydpd/my-parcels/track?lang=en&parcelNumber=%s"
_ONTRAC_URL = "http://www.ontrac.com/tracking/?number=%s"
_PUROLATOR_URL = "https://www.purolator.com/en/shipping/tracker?searchValue=%s"
_ODFL_URL = "https://www.odfl.com/us/en/tools/trace-track-ltl-freight/trace.html?proNumbers=%s"
# 17TRACK's public page follows every carrier it knows; for lanes without a public page of their own.
_SEVENTEENTRACK_URL = "https://t.17track.net/en#nums=%s"

_FEDEX_EXPRESS = WeightedSum((3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1), 11, 10)
_FEDEX_LONG = WeightedSum((1, 7, 3, 1, 7, 3, 1, 7, 3, 1, 7, 3, 1), 11, 10)

# Order is precedence: validate() returns the first format that accepts a number. Formats with a
# literal prefix and a check digit come first, bare digit strings without a check digit last.
FORMATS: tuple[Format, ...] = (
    # UPS: "1Z", shipper (6), service (2), package (7), check digit.
    _format(
        "ups",
        "UPS",
        "ups",
        r"1Z (?P<SerialNumber>[A-Z0-9]{15}) (?P<CheckDigit>[0-9])",
        checksum=Mod10(evens=1, odds=2),
        url=_UPS_URL,
    ),
    _format(
        "ups_waybill",
        "UPS Waybill",
        "ups",
        r"[AHJKTV] (?P<SerialNumber>[0-9]{9}) (?P<CheckDigit>[0-9])",
        checksum=Mod10(evens=1, odds=2),
        url=_UPS_URL,
    ),
    # UPU S10: service (2 letters), serial (8), check, issuing country (2 letters, must be a known post).
    _format(
        "s10",
        "S10",
        "s10",
        r"[A-Z]{2} (?P<SerialNumber>[0-9]{8}) (?P<CheckDigit>[0-9]) (?P<CountryCode>[A-Z]{2})",
        checksum=S10(),
        needs_s10_country=True,
    ),
    _format(
        "ontrac_c",
        "OnTrac",
        "ontrac",
        r"C (?P<SerialNumber>[0-9]{13}) (?P<CheckDigit>[0-9])",
        checksum=Mod10(evens=1, odds=2),
        url=_ONTRAC_URL,
        serial_prefix=("4", r"^(?!4).+$"),
    ),
    _format(
        "ontrac_d",
        "OnTrac D",
        "ontrac",
        r"D (?P<SerialNumber>[0-9]{13}) (?P<CheckDigit>[0-9])",
        checksum=Mod10(evens=1, odds=2),
        url=_ONTRAC_URL,
        serial_prefix=("5", r"^(?!5).+$"),
    ),
    # DPD: destination zip (7), parcel (14), service (3), country (3), alphanumeric check.
    _format(
        "dpd",
        "DPD (28)",
        "dpd",
        r"(?P<SerialNumber>[0-9]{27}) (?P<CheckDigit>[0-9A-Z])",
        checksum=Mod37_36(),
        url=_DPD_URL,
    ),
    _format(
        "dpd_14",
        "DPD (14)",
        "dpd",
        r"(?P<SerialNumber>[0-9]{14}) (?P<CheckDigit>[0-9A-Z])",
        checksum=Mod37_36(),
        url=_DPD_URL,
    ),
    # USPS IMpb, optionally behind a "420" + ZIP (or ZIP+4) routing code. The application identifier
    # fixes the mailer-id length: 92 a nine-digit id (starting 9), 93 a six-digit id, 95 either.
    _format(
        "usps_impb_c",
        "USPS IMpb C",
        "usps",
        r"""
        (?: 420 [0-9]{5} (?: [0-9]{4} (?=[0-9]{22}$) )? )?
        (?P<SerialNumber>
            (?: 92 (?=[0-9]{3}9) | 93 (?=[0-9]{3}[0-8]) | 95 ) [0-9]{3}
            (?: 9 [0-9]{8} (?: [0-9]{11} | [0-9]{7} ) | [0-8] [0-9]{5} (?: [0-9]{14} | [0-9]{10} ) )
        )
        (?P<CheckDigit>[0-9])
        """,
        checksum=Mod10(evens=3, odds=1),
        url=_USPS_URL,
    ),
    # Online / vendor labels ("94"); a bare ZIP may precede a 22 or 26 digit code, ZIP+4 only a 22.
    _format(
        "usps_impb_n",
        "USPS IMpb N",
        "usps",
        r"""
        (?: 420 [0-9]{5} (?=[0-9]{22}$|[0-9]{26}$) (?: [0-9]{4} (?=[0-9]{22}$) )? )?
        (?P<SerialNumber>
            94 [0-9]{3}
            (?: 9 [0-9]{8} (?: [0-9]{15} | [0-9]{11} | [0-9]{7} ) | [0-8] [0-9]{5} (?: [0-9]{14} | [0-9]{10} ) )
        )
        (?P<CheckDigit>[0-9])
        """,
        checksum=Mod10(evens=3, odds=1, reverse=True),
        url=_USPS_URL,
    ),
    # Delivery / Signature Confirmation, with or without the "91" identifier (weighed as if present).
    _format(
        "usps_legacy",
        "USPS Legacy",
        "usps",
        r"""
        (?: 420 [0-9]{5} (?: [0-9]{4} )? )?
        (?P<SerialNumber> (?: 91 )? [0-9]{19} )
        (?P<CheckDigit>[0-9])
        """,
        checksum=Mod10(evens=3, odds=1),
        url=_USPS_URL,
        serial_prefix=("91", r"^(?!91).+"),
    ),
    _format(
        "usps_20",
        "USPS 20",
        "usps",
        r"(?P<SerialNumber>[0-9]{19}) (?P<CheckDigit>[0-9])",
        checksum=Mod10(evens=3, odds=1),
        url=_USPS_URL,
    ),
    # FedEx Express 34: a 20-digit header (starting 0-8, ending in the destination zip), then the serial.
    _format(
        "fedex_34",
        "FedEx Express (34)",
        "fedex",
        r"[0-8] [0-9]{19} (?P<SerialNumber>[0-9]{13}) (?P<CheckDigit>[0-9])",
        checksum=_FEDEX_LONG,
        url=_FEDEX_URL,
    ),
    # FedEx Ground 34 ("96" + SCNC + ... + 10-digit shipper number), tracking number in the tail.
    _format(
        "fedex_ground_gsn",
        "FedEx Ground GSN",
        "fedex",
        r"96 [0-9]{18} (?P<SerialNumber>[0-9]{13}) (?P<CheckDigit>[0-9])",
        checksum=_FEDEX_LONG,
        url=_FEDEX_URL,
    ),
    # Legacy ASTRA barcode: a FedEx Express number (11 + check) sits at positions 17 to 28.
    _format(
        "fedex_astra_32",
        "FedEx ASTRA (32)",
        "fedex",
        r"3 [0-9]{15} (?P<SerialNumber>[0-9]{11}) (?P<CheckDigit>[0-9]) [0-9]{4}",
        checksum=_FEDEX_EXPRESS,
    ),
    _format(
        "fedex_ground_96",
        "FedEx Ground 96 (22)",
        "fedex",
        r"96 [0-9]{5} (?P<SerialNumber>[0-9]{14}) (?P<CheckDigit>[0-9])",
        checksum=Mod10(evens=1, odds=3),
        url=_FEDEX_URL,
    ),
    # SSCC-18: container type (2) is not weighed.
    _format(
        "fedex_ground_sscc_18",
        "FedEx Ground (SSCC-18)",
        "fedex",
        r"[0-9]{2} (?P<SerialNumber>[0-9]{15}) (?P<CheckDigit>[0-9])",
        checksum=Mod10(evens=3, odds=1),
        url=_FEDEX_URL,
    ),
    _format(
        "canada_post",
        "Canada Post (16)",
        "canada_post",
        r"(?P<SerialNumber>[0-9]{15}) (?P<CheckDigit>[0-9])",
        checksum=Mod10(evens=3, odds=1),
        url="https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor=%s",
    ),
    _format(
        "fedex_ground",
        "FedEx Ground",
        "fedex",
        r"(?P<SerialNumber>[0-9]{14}) (?P<CheckDigit>[0-9])",
        checksum=Mod10(evens=1, odds=3),
        url=_FEDEX_URL,
    ),
    # Purolator before FedEx Express: the few numbers both accept are Purolator's in the reference data.
    _format(
        "purolator_numeric",
        "Purolator (12)",
        "purolator",
        r"(?P<SerialNumber>[0-5][0-9]{10}) (?P<CheckDigit>[0-9])",
        checksum=Luhn(),
        url=_PUROLATOR_URL,
    ),
    _format(
        "fedex_12",
        "FedEx Express (12)",
        "fedex",
        r"(?P<SerialNumber>[0-9]{11}) (?P<CheckDigit>[0-9])",
        checksum=_FEDEX_EXPRESS,
        url=_FEDEX_URL,
    ),
    # Old Dominion PRO numbers: terminal prefixes 777, 778, 072, 780, or 80 for guaranteed service.
    _format(
        "old_dominion",
        "Old Dominion",
        "old_dominion",
        r"(?P<SerialNumber> (?: 77[78] | 072 | 780 ) [0-9]{7}) (?P<CheckDigit>[0-9])",
        checksum=Luhn(),
        url=_ODFL_URL,
    ),
    _format(
        "old_dominion_guaranteed",
        "Old Dominion Guaranteed Shipment",
        "old_dominion",
        r"(?P<SerialNumber>80 [0-9]{8}) (?P<CheckDigit>[0-9])",
        checksum=Luhn(),
        url=_ODFL_URL,
    ),
    _format(
        "dhl_express",
        "DHL Express",
        "dhl",
        r"(?P<SerialNumber>[0-9]{9,10}) (?P<CheckDigit>[0-9])",
        checksum=Mod7(),
        url=_DHL_URL,
    ),
    # No check digit from here on: only the shape says who the carrier is.
    _format("amazon_logistics", "Amazon Logistics", "amazon", r"TB[ACM] (?P<SerialNumber>[0-9]{12})"),
    _format("amazon_international", "Amazon International", "amazon", r"[AFC] (?P<SerialNumber>[0-9]{10})"),
    _format(
        "canpar_22",
        "Canpar (22)",
        "canpar",
        r"(?P<SerialNumber>[CDKLSUXZ][0-9]{21})",
        url="https://www.canpar.com/en/track/tracking.jsp?reference=%s&locale=en",
    ),
    _format(
        "purolator_alpha",
        "Purolator (alpha + 9)",
        "purolator",
        r"(?P<SerialNumber>[A-Z]{3}[0-9]{9})",
        url=_PUROLATOR_URL,
    ),
    _format(
        "dhl_express_piece_id",
        "DHL Express (Piece ID)",
        "dhl",
        r"J[A-Z]{2,3} (?P<SerialNumber>[0-9]{9,10})",
        url=_DHL_URL,
    ),
    # The serial's first character must be a digit (upstream's look-ahead for "contains a digit"
    # only looks past whitespace, which normalisation has already removed).
    _format(
        "dhl_ecommerce",
        "DHL E-Commerce",
        "dhl",
        r"(?: GM|LX|RX|UV|CN|SG|TH|IN|HK|MY ) (?P<SerialNumber>[0-9][0-9A-Z]{9,38})",
        url=_DHL_URL,
    ),
    _format(
        "gofo_us",
        "GOFO Express (US)",
        "gofo",
        r"GFUS (?P<SerialNumber>[0-9]{14})",
        url="https://www.gofoexpress.com/tracking.html?searchID=%s",
    ),
    _format(
        "landmark_global",
        "Landmark Global LTN",
        "landmark",
        r"LTN (?P<SerialNumber>[0-9]{8}) N1",
        url="https://track.landmarkglobal.com/?search=%s",
    ),
    _format("lasership_lx", "LaserShip LX", "lasership", r"L[AIEHNX][1-3] (?P<SerialNumber>[0-9]{7})"),
    _format(
        "lasership_1ls7", "LaserShip 1LS7 (15)", "lasership", r"1LS7[12] [0-9]{4} (?P<SerialNumber>[0-9]{6})"
    ),
    # Printed as "...-1"; the dash is gone after normalisation.
    _format(
        "lasership_1ls7_18",
        "LaserShip 1LS7 (18)",
        "lasership",
        r"1LS7[12] [0-9]{2} 01[1-4] (?P<SerialNumber>[0-9]{6}) 1",
    ),
    _format("lasership_1lscx", "LaserShip 1LSCX (15)", "lasership", r"1LSCX (?P<SerialNumber>[0-9A-Z]{10})"),
    _format(
        "speedee",
        "Spee-Dee (20)",
        "speedee",
        r"SP (?P<SerialNumber>[0-9]{18})",
        url="https://www.speedeedelivery.com/track/?tracking=%s",
    ),
    _format(
        "yodel",
        "Yodel",
        "yodel",
        r"J J? D (?P<SerialNumber>[0-9]{16})",
        url="https://www.yodel.co.uk/tracking/%s",
    ),
    _format(
        "yunexpress",
        "YunExpress",
        "yunexpress",
        r"YT (?P<SerialNumber>[0-9]{16})",
        url="https://www.yuntrack.com/parcelTracking?id=%s",
        needs_aggregator=True,
    ),
    _format("dhl_ecommerce_14", "DHL E-Commerce (14)", "dhl", r"(?P<SerialNumber>[0-9]{14})", url=_DHL_URL),
    # Supplier lanes (ours, not in the upstream data): CJdropshipping's CJ Packet, AliExpress's
    # Cainiao, 4PX and Yanwen. Their numbers have no check digit; the aggregator's recognition is
    # what makes one a tracking number (needs_aggregator). Links go to the carriers' own pages.
    _format("cj_packet", "CJ Packet", "cj_packet", r"CJPKL (?P<SerialNumber>[0-9A-Z]{8,14})",
            url=_SEVENTEENTRACK_URL, needs_aggregator=True),
    _format("cainiao", "Cainiao", "cainiao", r"LP (?P<SerialNumber>[0-9]{14})",
            url="https://global.cainiao.com/newDetail.htm?mailNoList=%s", needs_aggregator=True),
    _format("fourpx", "4PX", "fourpx", r"4PX (?P<SerialNumber>[0-9]{10,16}) CN",
            url="https://track.4px.com/#/result/0/%s", needs_aggregator=True),
    # Yanwen's own numbers look like S10 but end in YP, which is no UPU member's code.
    _format("yanwen", "Yanwen", "yanwen", r"[A-Z]{2} (?P<SerialNumber>[0-9]{9}) YP",
            url="https://track.yw56.com.cn/en/querydel?nums=%s", needs_aggregator=True),
)

FORMATS_BY_ID = {fmt.id: fmt for fmt in FORMATS}
# Carriers of the supplier lanes above: ours, not in the upstream data.
LANE_CARRIERS = frozenset({"cj_packet", "cainiao", "fourpx", "yanwen"})
