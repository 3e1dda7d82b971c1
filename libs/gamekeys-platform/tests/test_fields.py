"""The shared marshmallow fields: what they accept, how they normalise, what they say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import marshmallow as ma
import pytest

from gamekeys_platform.countries import normalize_country
from gamekeys_platform.fields import Country, DecimalString, PastDateTime


class CountrySchema(ma.Schema):
    country = Country(required=True)


@pytest.mark.parametrize(("given", "stored"), [("DE", "DE"), ("de", "DE"), ("Us", "US")])
def test_country_accepts_iso_codes_in_any_case(given, stored):
    assert CountrySchema().load({"country": given}) == {"country": stored}


@pytest.mark.parametrize("bad", ["XX", "ZZ", "DEU", "D", "", "D1", "ÄÖ", 49])
def test_country_refuses_what_is_not_an_iso_code(bad):
    with pytest.raises(ma.ValidationError) as raised:
        CountrySchema().load({"country": bad})
    [message] = raised.value.messages["country"]
    assert "ISO 3166-1 alpha-2" in message or message == "Not a valid string."


def test_normalize_country_names_the_bad_code():
    with pytest.raises(ValueError, match="XX is not an ISO 3166-1 alpha-2 country code"):
        normalize_country("XX")


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be positive")
    return value.quantize(Decimal("0.01"))


class PriceSchema(ma.Schema):
    amount = DecimalString(required=True, check=_positive)


def test_decimal_string_loads_a_decimal_through_its_check_and_dumps_a_string():
    assert PriceSchema().load({"amount": "19.9"}) == {"amount": Decimal("19.90")}
    assert PriceSchema().dump({"amount": Decimal("19.90")}) == {"amount": "19.90"}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (19.99, 'must be a decimal string such as "19.99", never a number'),
        (20, 'must be a decimal string such as "19.99", never a number'),
        ("abc", 'must be a decimal string such as "19.99", never a number'),
        ("NaN", 'must be a decimal string such as "19.99", never a number'),
        ("1" * 41, 'must be a decimal string such as "19.99", never a number'),
        ("-1", "must be positive"),
    ],
)
def test_decimal_string_refuses_numbers_and_says_why(bad, message):
    with pytest.raises(ma.ValidationError) as raised:
        PriceSchema().load({"amount": bad})
    assert raised.value.messages == {"amount": [message]}


class EventSchema(ma.Schema):
    at = PastDateTime(required=True, max_age=timedelta(days=90))


def test_past_date_time_allows_clock_skew_and_bounds_both_ends():
    now = datetime.now(UTC)
    for fine in (now, now + timedelta(minutes=4), now - timedelta(days=89)):
        assert EventSchema().load({"at": fine.isoformat()}) == {"at": fine}
    for bad, message in (
        (
            now + timedelta(minutes=6),
            "must not be in the future (at most 5 minutes ahead of the server's clock)",
        ),
        (now - timedelta(days=91), "must be within the last 90 days"),
        (datetime(1999, 12, 31, tzinfo=UTC), "must not be before 2000-01-01"),
    ):
        with pytest.raises(ma.ValidationError) as raised:
            EventSchema().load({"at": bad.isoformat()})
        assert raised.value.messages == {"at": [message]}
    with pytest.raises(ma.ValidationError):
        EventSchema().load({"at": "2026-01-01T00:00:00"})  # no time zone
