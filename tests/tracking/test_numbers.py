"""Tracking-number detection against the tracking_number_data conformance data, plus handmade cases.

The data is read here only (never by app code), from ../shared next to the repo root. Semantics are
those of the data project's own implementation tests: a valid number must be accepted by its
format with the right courier (and, since our table orders formats for it, be the best match); an
invalid number must be refused by that format (it may still be some other carrier's number).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from app.tracking.formats import FORMATS, LANE_CARRIERS
from app.tracking.numbers import Match, detect, match_format, normalise, validate
from app.tracking.s10_countries import S10_OPERATORS

DATA = Path(__file__).parents[2] / ".." / "shared" / "conformance" / "tracking_number_data"
COURIERS = DATA / "couriers"
MISSING = f"conformance data not found at {DATA.resolve()} (shared/ must sit beside the repo)"

FORMATS_BY_NAME = {fmt.name: fmt for fmt in FORMATS}


def _couriers() -> list[dict]:
    if not COURIERS.is_dir():
        return []
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(COURIERS.glob("*.json"))]


def _cases(kind: str) -> list:
    """One pytest param per (courier, format, number) of the given kind ("valid" or "invalid")."""
    cases = [
        pytest.param(courier, spec, number, id=f"{spec['name']}:{number.strip()}")
        for courier in _couriers()
        for spec in courier["tracking_numbers"]
        for number in spec["test_numbers"].get(kind, [])
    ]
    return cases or [pytest.param(None, None, None, marks=pytest.mark.skip(reason=MISSING))]


def _expected_carrier_name(courier: dict, spec: dict, normalised: str) -> str:
    # S10 numbers are named after the issuing post, looked up by the two-letter country suffix.
    for extra in spec.get("additional") or []:
        if extra["name"] == "Courier":
            return next(item["courier"] for item in extra["lookup"] if item["matches"] == normalised[-2:])
    return courier["name"]


@pytest.mark.parametrize(("courier", "spec", "number"), _cases("valid"))
def test_valid_number_is_detected_with_its_courier(courier: dict, spec: dict, number: str) -> None:
    normalised = normalise(number)
    ours = [m for m in detect(number) if m.format == spec["name"]]
    assert ours, f"{number!r} not accepted as {spec['name']}; got {[m.format for m in detect(number)]}"
    found = ours[0]
    assert found.carrier == courier["courier_code"]
    assert found.carrier_name == _expected_carrier_name(courier, spec, normalised)
    assert found.number == normalised
    template = spec.get("tracking_url")
    assert found.tracking_url == (template.replace("%s", normalised) if template else None)
    best = validate(number)
    assert best is not None and best.format == spec["name"], f"best match {best}"


@pytest.mark.parametrize(("courier", "spec", "number"), _cases("invalid"))
def test_invalid_number_is_refused_by_its_format(courier: dict, spec: dict, number: str) -> None:
    assert match_format(FORMATS_BY_NAME[spec["name"]], number) is None


@pytest.mark.parametrize(("courier", "spec", "number"), _cases("valid"))
def test_any_other_check_digit_is_refused(courier: dict, spec: dict, number: str) -> None:
    if not (spec.get("validation") or {}).get("checksum"):
        pytest.skip(f"{spec['name']} has no check digit")
    fmt = FORMATS_BY_NAME[spec["name"]]
    normalised = normalise(number)
    start, end = fmt.pattern.fullmatch(normalised).span("CheckDigit")
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" if fmt.carrier == "dpd" else "0123456789"
    accepted = [
        changed
        for char in alphabet
        if char != normalised[start]
        and match_format(fmt, changed := normalised[:start] + char + normalised[end:]) is not None
    ]
    assert accepted == []


def test_our_table_covers_exactly_the_data_formats() -> None:
    couriers = _couriers()
    if not couriers:
        pytest.skip(MISSING)
    expected = {
        (spec["name"], courier["courier_code"], spec.get("tracking_url"))
        for courier in couriers
        for spec in courier["tracking_numbers"]
    }
    upstream = [fmt for fmt in FORMATS if fmt.carrier not in LANE_CARRIERS]
    ours = {(fmt.name, fmt.carrier, fmt.tracking_url) for fmt in upstream}
    assert ours == expected
    assert len(upstream) == 39 and len(FORMATS) == len(FORMATS_BY_NAME)


def test_s10_country_table_matches_the_data() -> None:
    s10 = next((c for c in _couriers() if c["courier_code"] == "s10"), None)
    if s10 is None:
        pytest.skip(MISSING)
    lookup = next(a for a in s10["tracking_numbers"][0]["additional"] if a["name"] == "Courier")["lookup"]
    assert {item["matches"]: (item["country"], item["courier"]) for item in lookup} == S10_OPERATORS


# --- handmade cases (no data needed) -------------------------------------------------------------


def test_normalisation_drops_spaces_and_dashes_and_upper_cases() -> None:
    assert normalise(" 1z 879e93-0346\t834440\n") == "1Z879E930346834440"
    found = validate("1z-879e93-03-4683-4440")
    assert found == Match(
        carrier="ups",
        carrier_name="UPS",
        format="UPS",
        format_id="ups",
        number="1Z879E930346834440",
        tracking_url="https://wwwapps.ups.com/WebTracking/track?track=yes&trackNums=1Z879E930346834440",
    )


def test_s10_number_names_the_issuing_post_and_wins_over_shape_only_formats() -> None:
    # 12345678 weighs 8*1+6*2+4*3+2*4+3*5+5*6+9*7+7*8 = 204; 204 mod 11 = 6, so the check is 5.
    # "LX" + digits is also the shape of a DHL eCommerce number, which has no check digit.
    matches = detect("lx 123 456 785 cn")
    assert [m.format_id for m in matches] == ["s10", "dhl_ecommerce"]
    best = matches[0]
    assert (best.carrier, best.carrier_name, best.country) == ("s10", "China Post", "CN")
    assert best.tracking_url is None
    assert validate("LX123456784CN").carrier == "dhl"  # wrong check digit: only the shape is left
    assert validate("RR123456785ZZ") is None  # no post uses ZZ


def test_check_digit_decides_between_carriers() -> None:
    assert validate("0414 4176 0228 964").format_id == "fedex_ground"
    # One off in the last digit, and no carrier's check digit accepts it.
    assert detect("041441760228965") == []
    assert validate("9400 1112 0620 6406 2607 87").carrier == "usps"
    assert validate("9400 1112 0620 6406 2607 88") is None


@pytest.mark.parametrize(
    "number",
    [
        "",
        "   ",
        "-",
        "hello world",
        "1Z",
        "٤٧٧١٧٩٠٨١٢٣٠",  # a valid FedEx number written in Arabic-Indic digits
        "９４００１１１２０６２０６４０６２６０７８７",  # full-width digits
        "1Z879E930346834440" * 4,
    ],
)
def test_garbage_is_refused(number: str) -> None:
    assert detect(number) == []
    assert validate(number) is None


def test_detection_is_fast_even_on_hostile_input() -> None:
    numbers = [
        normalise(n) for c in _couriers() for s in c["tracking_numbers"] for n in s["test_numbers"]["valid"]
    ]
    numbers += ["9" * 64, "420" + "9" * 61, "GM" + "1" * 62, "94" + "0" * 60 + "A"]
    started = time.perf_counter()
    for _ in range(20):
        for number in numbers:
            detect(number)
    assert time.perf_counter() - started < 5
