"""Reference data: ISO 3166-1 countries (the platform library's) and ISO 4217 currencies with
their minor units.

Currency codes come from pycountry; the number of decimal places each currency allows (its
ISO 4217 "minor unit") is kept here, since pycountry does not carry it.
"""

from __future__ import annotations

import functools

import pycountry

from gamekeys_platform.countries import normalize_country
from gamekeys_platform.refusals import InvalidValue

# ISO 4217 minor units other than 2, and codes that are not money a game is priced in:
# precious metals, SDR, test and "no currency" codes, bond-market units and fund codes.
# fmt: off
_NO_MINOR_UNITS = (
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF",
    "XPF",
)
_THREE_MINOR_UNITS = ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND")
_NOT_PRICING_CURRENCIES = frozenset((
    "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX",
    "BOV", "CHE", "CHW", "CLF", "COU", "MXV", "USN", "UYI", "UYW", "VED",
))
# fmt: on
_MINOR_UNITS_EXCEPTIONS = {**dict.fromkeys(_NO_MINOR_UNITS, 0), **dict.fromkeys(_THREE_MINOR_UNITS, 3)}


@functools.cache
def currency_codes() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.currencies) - _NOT_PRICING_CURRENCIES


def check_country(code: str) -> str:
    """An ISO 3166-1 alpha-2 code in upper case (``de`` → ``DE``), or InvalidValue."""
    try:
        return normalize_country(code)
    except ValueError as exc:
        raise InvalidValue(str(exc)) from None


def check_currency(code: str) -> str:
    """An ISO 4217 code a price can be set in, upper case (``EUR``), or InvalidValue."""
    if not isinstance(code, str) or len(code) != 3 or not code.isascii() or not code.isupper():
        raise InvalidValue("must be an ISO 4217 currency code in upper case, e.g. EUR")
    if code not in currency_codes():
        raise InvalidValue(f"{code} is not an ISO 4217 currency prices can be set in")
    return code


def minor_units(currency: str) -> int:
    """Decimal places of ``currency``: 2 for most, 0 for JPY or KRW, 3 for KWD or BHD."""
    return _MINOR_UNITS_EXCEPTIONS.get(currency, 2)
