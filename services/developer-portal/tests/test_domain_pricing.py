"""Money and discounts: Decimal arithmetic, ISO codes, the rules stores apply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from developer_portal.domain import reference
from developer_portal.domain.pricing import (
    Discount,
    Money,
    Pricing,
    apply_discount,
    build_pricing,
    check_discount,
    check_schedule,
    parse_money,
)
from gamekeys_platform.refusals import InvalidValue

NOW = datetime(2030, 6, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("19.99", "USD", "19.99"),
        ("19.9", "USD", "19.90"),
        ("0", "EUR", "0.00"),
        ("2200", "JPY", "2200"),
        ("1.234", "KWD", "1.234"),
        ("99999999", "RUB", "99999999.00"),
    ],
)
def test_money_parses_decimal_strings_to_the_currency_minor_unit(amount, currency, expected):
    money = parse_money(amount, currency)
    assert isinstance(money.amount, Decimal)
    assert money.to_json() == {"amount": expected, "currency": currency}
    assert Money.from_json(money.to_json()) == money


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("-1.00", "USD", "negative"),
        (19.99, "USD", "never a number"),
        (20, "USD", "never a number"),
        ("19.999", "USD", "at most 2 decimal places"),
        ("1.5", "JPY", "at most 0 decimal places"),
        ("1,50", "EUR", "decimal string"),
        ("1e3", "EUR", "decimal string"),
        ("NaN", "EUR", "decimal string"),
        ("Infinity", "EUR", "decimal string"),
        (" 1.00", "EUR", "decimal string"),
        ("01.00", "EUR", "decimal string"),
        ("", "EUR", "decimal string"),
        ("100000000", "EUR", "at most"),
        ("1.00", "usd", "upper case"),
        ("1.00", "ABC", "not an ISO 4217"),
        ("1.00", "XTS", "not an ISO 4217"),
        ("1.00", None, "ISO 4217"),
    ],
)
def test_malformed_money_is_refused(amount, currency, message):
    with pytest.raises(InvalidValue, match=message):
        parse_money(amount, currency)


def test_countries_are_iso_3166_alpha_2_in_upper_case():
    assert reference.check_country("DE") == reference.check_country("de") == "DE"
    for bad in ("XX", "DEU", "", "D1", None, "ÄÖ"):
        with pytest.raises(InvalidValue):
            reference.check_country(bad)


@pytest.mark.parametrize(
    ("price", "percent", "expected"),
    [
        (("19.99", "USD"), 33, "13.39"),  # 13.3933
        (("10.00", "USD"), 25, "7.50"),
        (("0.05", "USD"), 50, "0.03"),  # 0.025 rounds half up
        (("0.01", "USD"), 99, "0.01"),  # never free by rounding
        (("2200", "JPY"), 15, "1870"),
        (("1.005", "KWD"), 50, "0.503"),  # 0.5025
    ],
)
def test_discounts_use_decimal_rounding_half_up(price, percent, expected):
    assert apply_discount(parse_money(*price), percent).to_json()["amount"] == expected


def test_float_arithmetic_would_have_got_it_wrong():
    # 1.15 * 50% = 0.575 → 0.58 half up; the float 1.15 * 0.5 is 0.57499999...
    assert round(1.15 * 0.5, 2) == 0.57
    assert apply_discount(parse_money("1.15", "USD"), 50).amount == Decimal("0.58")


@pytest.mark.parametrize(
    ("percent", "start", "end", "message"),
    [
        (0, NOW + DAY, NOW + 2 * DAY, "between 1 and 99"),
        (100, NOW + DAY, NOW + 2 * DAY, "between 1 and 99"),
        (True, NOW + DAY, NOW + 2 * DAY, "whole number"),
        (12.5, NOW + DAY, NOW + 2 * DAY, "whole number"),
        (10, NOW + DAY, NOW + DAY, "after startsAt"),
        (10, NOW + 2 * DAY, NOW + DAY, "after startsAt"),
        (10, NOW, NOW + 91 * DAY, "at most 90 days"),
        (10, NOW - 3 * DAY, NOW - DAY, "already ended"),
        (10, datetime(2030, 7, 1), datetime(2030, 7, 2), "time zone"),
    ],
)
def test_discount_rules(percent, start, end, message):
    with pytest.raises(InvalidValue, match=message):
        check_discount(percent, start, end, now=NOW)


def test_a_running_discount_may_have_started_in_the_past():
    discount = check_discount(40, NOW - DAY, NOW + DAY, now=NOW)
    assert discount.active_at(NOW) and not discount.active_at(NOW + DAY)


def test_discounts_must_not_overlap_but_may_touch():
    a = Discount(10, NOW, NOW + 2 * DAY)
    b = Discount(20, NOW + 2 * DAY, NOW + 4 * DAY)
    c = Discount(30, NOW + 3 * DAY, NOW + 5 * DAY)
    assert check_schedule([b, a]) == (a, b)
    with pytest.raises(InvalidValue, match="overlap"):
        check_schedule([a, b, c])
    with pytest.raises(InvalidValue, match="at most 20"):
        check_schedule([Discount(10, NOW + n * DAY, NOW + (n + 1) * DAY) for n in range(21)])


def test_pricing_as_seen_at_a_moment():
    usd = parse_money("20.00", "USD")
    running, later = Discount(25, NOW - DAY, NOW + DAY), Discount(50, NOW + 2 * DAY, NOW + 3 * DAY)
    pricing = build_pricing(usd, {"DE": parse_money("18.00", "EUR")}, [later, running])
    assert pricing.price_at(NOW).to_json() == {"amount": "15.00", "currency": "USD"}
    assert pricing.price_at(NOW, "DE").to_json() == {"amount": "13.50", "currency": "EUR"}
    assert pricing.price_at(NOW, "FR") == pricing.price_at(NOW)
    assert pricing.discount_at(NOW) == running
    assert pricing.discount_at(NOW + DAY) == later  # between the two: the next one
    assert pricing.price_at(NOW + DAY) == usd
    seen_later = pricing.to_json(NOW + 2 * DAY)
    assert [d["percent"] for d in seen_later["discounts"]] == [50]  # ended ones drop out
    assert seen_later["discount"]["percent"] == 50


def test_a_free_game_has_no_discount_and_regional_countries_are_checked():
    with pytest.raises(InvalidValue, match="free"):
        build_pricing(parse_money("0", "USD"), {}, [Discount(10, NOW, NOW + DAY)])
    with pytest.raises(InvalidValue):
        build_pricing(parse_money("1.00", "USD"), {"XX": parse_money("1.00", "EUR")}, [])


def test_the_next_price_change_is_the_next_discount_start_or_end():
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    first = Discount(20, now - timedelta(days=1), now + timedelta(days=1))
    second = Discount(50, now + timedelta(days=3), now + timedelta(days=4))
    prices = Pricing(Money(Decimal("10.00"), "USD"), {}, (first, second))
    assert prices.next_change_after(now) == first.ends_at
    assert prices.next_change_after(first.ends_at) == second.starts_at  # strictly after
    assert prices.next_change_after(second.starts_at) == second.ends_at
    assert prices.next_change_after(second.ends_at) is None
    assert Pricing(Money(Decimal("10.00"), "USD"), {}, ()).next_change_after(now) is None
