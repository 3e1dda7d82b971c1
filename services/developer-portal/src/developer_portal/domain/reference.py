"""Reference data: ISO 3166-1 countries and ISO 4217 currencies with their minor units (both the
platform library's), refused in the domain's terms (InvalidValue)."""

from __future__ import annotations

from gamekeys_platform import currencies
from gamekeys_platform.countries import normalize_country
from gamekeys_platform.refusals import InvalidValue


def check_country(code: str) -> str:
    """An ISO 3166-1 alpha-2 code in upper case (``de`` → ``DE``), or InvalidValue."""
    try:
        return normalize_country(code)
    except ValueError as exc:
        raise InvalidValue(str(exc)) from None


def check_currency(code: str) -> str:
    """An ISO 4217 code a price can be set in, upper case (``EUR``), or InvalidValue."""
    try:
        return currencies.check_currency(code)
    except ValueError as exc:
        raise InvalidValue(str(exc)) from None
