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
    units_charged_back: int = 0


def sales_report(lines: Iterable[SaleLine]) -> list[dict]:
    """Per currency: units sold, returned, charged back and kept; gross, commission and net of
    the kept units (a return or a chargeback takes its units back at the sale's price, with their
    commission), and the amount charged back."""
    by_currency: dict[str, dict] = {}
    for line in lines:
        entry = by_currency.setdefault(
            line.currency,
            {
                "unitsSold": 0,
                "unitsReturned": 0,
                "unitsChargedBack": 0,
                "gross": Decimal(0),
                "commission": Decimal(0),
                "chargedBack": Decimal(0),
            },
        )
        kept_units = line.units_sold - line.units_returned - line.units_charged_back
        kept = totals(line.unit_price, kept_units, line.commission_rate, line.currency)
        charged_back = totals(line.unit_price, line.units_charged_back, line.commission_rate, line.currency)
        entry["unitsSold"] += line.units_sold
        entry["unitsReturned"] += line.units_returned
        entry["unitsChargedBack"] += line.units_charged_back
        entry["gross"] += kept.gross
        entry["commission"] += kept.commission
        entry["chargedBack"] += charged_back.gross
    report = []
    for currency in sorted(by_currency):
        entry = by_currency[currency]
        report.append(
            {
                "currency": currency,
                "unitsSold": entry["unitsSold"],
                "unitsReturned": entry["unitsReturned"],
                "unitsChargedBack": entry["unitsChargedBack"],
                "units": entry["unitsSold"] - entry["unitsReturned"] - entry["unitsChargedBack"],
                "chargedBack": format_amount(entry["chargedBack"], currency),
                "gross": format_amount(entry["gross"], currency),
                "commission": format_amount(entry["commission"], currency),
                "net": format_amount(entry["gross"] - entry["commission"], currency),
            }
        )
    return report
