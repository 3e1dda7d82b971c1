"""ISO 4217 currencies money may be in, with their minor units: the one definition every service
checks prices and amounts with (a price in JPY has no cents, one in KWD has three decimals).

Codes come from pycountry; the number of decimal places each currency allows (its ISO 4217
"minor unit") is kept here, since pycountry does not carry it.
"""

from __future__ import annotations

import functools
from decimal import Decimal

import pycountry

# ISO 4217 minor units other than 2, and codes that are not money a game is priced in:
# precious metals, SDR, test and "no currency" codes, bond-market units and fund codes.
# fmt: off
_NO_MINOR_UNITS = (
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF",
    "XPF",
)
_THREE_MINOR_UNITS = ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND")
_NOT_MONEY = frozenset((
    "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX",
    "BOV", "CHE", "CHW", "CLF", "COU", "MXV", "USN", "UYI", "UYW", "VED",
))
# fmt: on
_MINOR_UNITS_EXCEPTIONS = {**dict.fromkeys(_NO_MINOR_UNITS, 0), **dict.fromkeys(_THREE_MINOR_UNITS, 3)}


@functools.cache
def currency_codes() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.currencies) - _NOT_MONEY


def check_currency(code: object) -> str:
    """An ISO 4217 code money may be in, upper case (``EUR``), or ValueError."""
    if not isinstance(code, str) or len(code) != 3 or not code.isascii() or not code.isupper():
        raise ValueError("must be an ISO 4217 currency code in upper case, e.g. EUR")
    if code not in currency_codes():
        raise ValueError(f"{code} is not an ISO 4217 currency prices can be set in")
    return code


def minor_units(currency: str) -> int:
    """Decimal places of ``currency``: 2 for most, 0 for JPY or KRW, 3 for KWD or BHD."""
    return _MINOR_UNITS_EXCEPTIONS.get(currency, 2)


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of ``currency``: 0.01 for USD, 1 for JPY, 0.001 for BHD."""
    return Decimal(1).scaleb(-minor_units(currency))


def format_amount(amount: Decimal, currency: str) -> str:
    """The wire's decimal string, in the currency's minor units (``"17.85"``, ``"0.00"``, ``"500"``)."""
    return str(amount.quantize(minor_unit(currency)))
