"""Money with Decimal only, in each currency's ISO 4217 minor units (no cents in JPY, three
decimals in KWD): a sale's gross, commission and net, and the sales report."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from gamekeys_platform.currencies import check_currency, format_amount, minor_unit
from gamekeys_platform.refusals import InvalidValue

MAX_PRICE = Decimal("1000000")


def check_price(amount: Decimal, currency: str) -> Decimal:
    """A unit price in ``currency``: positive, below a million, exact in its minor units."""
    try:
        unit = minor_unit(check_currency(currency))
    except ValueError as exc:
        raise InvalidValue(str(exc)) from None
    if not amount.is_finite() or amount <= 0 or amount >= MAX_PRICE:
        raise InvalidValue(f"must be positive and below {MAX_PRICE}")
    if amount != amount.quantize(unit):
        raise InvalidValue(f"has more decimal places than {currency} has ({unit})")
    return amount.quantize(unit)


@dataclass(frozen=True)
class Totals:
    gross: Decimal
    commission: Decimal
    net: Decimal


def totals(unit_price: Decimal, units: int, commission_rate: Decimal, currency: str) -> Totals:
    """Gross = price * units; the retailer's commission rounded half-up to the currency's minor
    unit; net the rest, so gross = commission + net exactly."""
    unit = minor_unit(currency)
    gross = (unit_price * units).quantize(unit)
    commission = (gross * commission_rate).quantize(unit, rounding=ROUND_HALF_UP)
    return Totals(gross, commission, gross - commission)


@dataclass(frozen=True)
class SaleLine:
    """One recorded sale, as the report sees it."""

    currency: str
    unit_price: Decimal
    commission_rate: Decimal
    units_sold: int
    units_returned: int


def sales_report(lines: Iterable[SaleLine]) -> list[dict]:
    """Per currency: units sold, returned and kept; gross, commission and net of the kept units
    (a return refunds its units at the sale's price and takes back their commission)."""
    by_currency: dict[str, dict] = {}
    for line in lines:
        entry = by_currency.setdefault(
            line.currency,
            {"unitsSold": 0, "unitsReturned": 0, "gross": Decimal(0), "commission": Decimal(0)},
        )
        kept = totals(
            line.unit_price, line.units_sold - line.units_returned, line.commission_rate, line.currency
        )
        entry["unitsSold"] += line.units_sold
        entry["unitsReturned"] += line.units_returned
        entry["gross"] += kept.gross
        entry["commission"] += kept.commission
    report = []
    for currency in sorted(by_currency):
        entry = by_currency[currency]
        report.append(
            {
                "currency": currency,
                "unitsSold": entry["unitsSold"],
                "unitsReturned": entry["unitsReturned"],
                "units": entry["unitsSold"] - entry["unitsReturned"],
                "gross": format_amount(entry["gross"], currency),
                "commission": format_amount(entry["commission"], currency),
                "net": format_amount(entry["gross"] - entry["commission"], currency),
            }
        )
    return report
