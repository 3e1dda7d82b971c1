"""ISO 4217 currencies and their minor units, as every service checks money."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gamekeys_platform.currencies import check_currency, minor_unit, minor_units


def test_minor_units_follow_iso_4217():
    assert (minor_units("USD"), minor_units("JPY"), minor_units("BHD")) == (2, 0, 3)
    assert (minor_unit("EUR"), minor_unit("KRW"), minor_unit("KWD")) == (Decimal("0.01"), 1, Decimal("0.001"))


@pytest.mark.parametrize("code", ["XAU", "XTS", "ZZZ", "usd", "US", "", None, 840])
def test_codes_that_are_not_money_or_not_iso_are_refused(code):
    with pytest.raises(ValueError):
        check_currency(code)


def test_a_real_currency_is_taken_as_it_is():
    assert check_currency("JPY") == "JPY"
