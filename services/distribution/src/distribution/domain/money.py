"""Money with Decimal only: a sale's gross, commission and net, and the sales report."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from gamekeys_platform.refusals import InvalidValue

CENT = Decimal("0.01")
MAX_PRICE = Decimal("1000000")


def money(amount: Decimal) -> str:
    return str(amount.quantize(CENT))


def check_price(amount: Decimal) -> Decimal:
    """A unit price: positive, at most 2 decimal places, below a million."""
    if not amount.is_finite() or amount <= 0 or amount >= MAX_PRICE:
        raise InvalidValue(f"must be positive and below {MAX_PRICE}")
    if amount != amount.quantize(CENT):
        raise InvalidValue("has more than 2 decimal places")
    return amount.quantize(CENT)


@dataclass(frozen=True)
class Totals:
    gross: Decimal
    commission: Decimal
    net: Decimal


def totals(unit_price: Decimal, units: int, commission_rate: Decimal) -> Totals:
    """Gross = price * units; the retailer's commission rounded half-up to the cent; net the rest,
    so gross = commission + net exactly."""
    gross = (unit_price * units).quantize(CENT)
    commission = (gross * commission_rate).quantize(CENT, rounding=ROUND_HALF_UP)
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
        kept = totals(line.unit_price, line.units_sold - line.units_returned, line.commission_rate)
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
                "gross": money(entry["gross"]),
                "commission": money(entry["commission"]),
                "net": money(entry["gross"] - entry["commission"]),
            }
        )
    return report
