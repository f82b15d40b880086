"""The demo's customers have phone numbers their own country accepts, and so do real ones: the
address check (which holds an order it cannot ship) and the SMS channel take them."""

from __future__ import annotations

import random
from types import SimpleNamespace

import phonenumbers
import pytest

from app.notifications.channels import e164 as sms_number
from app.sandbox.catalogue import COUNTRIES, random_order
from app.suppliers import address


@pytest.mark.parametrize("country", COUNTRIES, ids=lambda c: c.code)
def test_every_generated_number_is_valid_for_its_country(country):
    rng = random.Random(country.code)
    orders = [random_order(rng, n) for n in range(400)]
    numbers = [o["shipping_address"]["phone"] for o in orders if o["shipping_address"]["country_code"] == country.code]
    assert numbers, "the weights give every country some orders"
    for number in numbers:
        assert address.e164(number, country.code) == (number, None)
        assert sms_number(number, country.code) == number


def test_generated_orders_pass_the_address_check():
    rng = random.Random(7)
    for n in range(300):
        order = random_order(rng, n)
        raw = order["shipping_address"]
        record = SimpleNamespace(name=f"{raw['first_name']} {raw['last_name']}", company=None, **{
            k: raw.get(k) for k in ("address1", "address2", "city", "province_code", "zip", "country_code", "phone")})
        checked = address.check(record, email=order["email"])
        assert checked.problems == [], (raw["country_code"], checked.problems)


@pytest.mark.parametrize("region", ["US", "GB", "FR", "DE", "ES", "CA", "AU", "IT", "NL", "BE", "IE"])
@pytest.mark.parametrize("kind", [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE])
def test_real_numbers_pass_in_national_and_international_form(region, kind):
    example = phonenumbers.example_number_for_type(region, kind)
    international = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    assert address.e164(national, region) == (international, None)
    assert address.e164(international, region) == (international, None)
    assert sms_number(national, region) == international
