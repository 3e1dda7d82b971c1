"""Money in the ledger: Decimal amounts exact in their currency's ISO 4217 minor units (the
currencies and units of the platform library), never floats, never converted (no FX: every balance,
threshold and payout is per currency)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from developer_portal.domain.reference import check_currency
from gamekeys_platform import currencies
from gamekeys_platform.refusals import InvalidValue

# Above any real amount; keeps numeric(20, 4) columns and their sums far from overflow.
MAX_AMOUNT = Decimal("1000000000000")


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of ``currency``: 0.01 for USD, 1 for JPY, 0.001 for BHD."""
    return currencies.minor_unit(check_currency(currency))


def check_amount(amount: Decimal, currency: str, *, allow_zero: bool = False) -> Decimal:
    """An amount as a client or an event states it: finite, positive (or zero), and exact in the
    currency's minor units ("10.001" USD is refused, not rounded: silently rounding someone's
    money is what a ledger must never do)."""
    unit = minor_unit(currency)
    if not amount.is_finite() or amount < 0 or (amount == 0 and not allow_zero) or amount >= MAX_AMOUNT:
        raise InvalidValue(f"must be {'zero or more' if allow_zero else 'positive'} and below {MAX_AMOUNT}")
    if amount != amount.quantize(unit):
        raise InvalidValue(f"has more decimal places than {currency} has ({unit})")
    return amount.quantize(unit)


def round_half_even(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_EVEN)
