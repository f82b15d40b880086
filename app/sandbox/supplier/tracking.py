"""Realistic tracking numbers with valid check digits, carriers and tracking URLs."""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass

S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
S10 = re.compile(r"^([A-Z]{2})(\d{8})(\d)([A-Z]{2})$")
UPS = re.compile(r"^1Z([0-9A-Z]{15})(\d)$")
# UPU S10 service indicators a Chinese post office uses for small-packet e-commerce
# (L* = ePacket/e-commerce letters, U* = untracked-to-tracked, R* = registered).
S10_PREFIXES = ("LX", "LY", "LZ", "UR", "UA", "RB", "RR")
UPS_SERVICES = ("01", "02", "03", "12", "13", "42")


@dataclass(frozen=True)
class Tracking:
    carrier: str
    number: str
    url: str


def s10_check_digit(serial: str) -> int:
    """UPU S10 check digit: weights 8,6,4,2,3,5,9,7, mod 11 (10 -> 0, 11 -> 5)."""
    if len(serial) != 8 or not serial.isdigit():
        raise ValueError("an S10 serial is 8 digits")
    check = 11 - sum(int(d) * w for d, w in zip(serial, S10_WEIGHTS, strict=True)) % 11
    return {10: 0, 11: 5}.get(check, check)


def is_valid_s10(number: str) -> bool:
    match = S10.fullmatch(number)
    return bool(match) and s10_check_digit(match.group(2)) == int(match.group(3))


def ups_check_digit(body: str) -> int:
    """UPS 1Z check digit over the 15 characters after "1Z": letters map to (ord - 'A' + 2) % 10,
    odd positions count once and even positions twice, mod 10."""
    total = 0
    for position, char in enumerate(body):
        value = int(char) if char.isdigit() else (ord(char) - ord("A") + 2) % 10
        total += value * 2 if position % 2 else value
    return (10 - total % 10) % 10


def is_valid_ups(number: str) -> bool:
    match = UPS.fullmatch(number)
    return bool(match) and ups_check_digit(match.group(1)) == int(match.group(2))


def make_s10(rng: random.Random, *, prefix: str | None = None, country: str = "CN") -> str:
    serial = f"{rng.randrange(10**8):08d}"
    return f"{prefix or rng.choice(S10_PREFIXES)}{serial}{s10_check_digit(serial)}{country}"


def make_ups(rng: random.Random) -> str:
    shipper = "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(6))
    body = shipper + rng.choice(UPS_SERVICES) + f"{rng.randrange(10**7):07d}"
    return f"1Z{body}{ups_check_digit(body)}"


def assign(rng: random.Random | None = None) -> Tracking:
    """Most dropshipped parcels leave China by post; some go from a US warehouse with UPS."""
    rng = rng or random.Random()  # noqa: S311 - tracking numbers are not secrets
    if rng.random() < 0.7:
        number = make_s10(rng)
        return Tracking("China Post", number, f"https://t.17track.net/en#nums={number}")
    number = make_ups(rng)
    return Tracking("UPS", number, f"https://www.ups.com/track?loc=en_US&tracknum={number}")
