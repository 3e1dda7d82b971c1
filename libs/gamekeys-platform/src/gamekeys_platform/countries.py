"""ISO 3166-1 alpha-2 country codes, the one definition every service checks countries with."""

from __future__ import annotations

import functools

import pycountry


@functools.cache
def country_codes() -> frozenset[str]:
    return frozenset(country.alpha_2 for country in pycountry.countries)


def normalize_country(value: object) -> str:
    """``value`` as an upper-case ISO 3166-1 alpha-2 code (``de`` → ``DE``), or ValueError."""
    if not isinstance(value, str) or len(value) != 2 or not value.isascii() or not value.isalpha():
        raise ValueError("must be an ISO 3166-1 alpha-2 country code, e.g. DE")
    code = value.upper()
    if code not in country_codes():
        raise ValueError(f"{value} is not an ISO 3166-1 alpha-2 country code")
    return code
