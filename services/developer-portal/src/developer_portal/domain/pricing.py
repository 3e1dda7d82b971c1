"""Prices and discounts: money as Decimal with a currency, never a float.

A game has a base price, optional regional prices by ISO country (each in its own currency)
and a schedule of discounts. Discounts are validated the way stores do: a whole percentage
within a range, an end after the start, a bounded length, no two discounts overlapping, and
no discount on a free game. Discounts that have ended drop out of the schedule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

from developer_portal.domain.reference import check_country, check_currency
from gamekeys_platform.currencies import minor_unit, minor_units
from gamekeys_platform.errors import format_timestamp
from gamekeys_platform.refusals import InvalidValue

MAX_AMOUNT = Decimal("99999999")  # major units; numeric(15, 4) in the database holds it
MIN_DISCOUNT_PERCENT = 1
MAX_DISCOUNT_PERCENT = 99
MAX_DISCOUNT_DURATION = timedelta(days=90)
MAX_DISCOUNTS = 20
MAX_REGIONAL_PRICES = 250  # there are 249 ISO 3166-1 countries

_AMOUNT = re.compile(r"(0|[1-9][0-9]{0,14})(?:\.([0-9]{1,10}))?")
_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def to_json(self) -> dict[str, str]:
        return {"amount": f"{self.amount:.{minor_units(self.currency)}f}", "currency": self.currency}

    @classmethod
    def from_json(cls, raw: Mapping[str, str]) -> Money:
        return parse_money(raw["amount"], raw["currency"])


def parse_money(amount: object, currency: object) -> Money:
    """``("19.99", "USD")`` → Money; a float, a negative or malformed amount, too many decimal
    places for the currency or an unknown currency is InvalidValue."""
    code = check_currency(currency)  # type: ignore[arg-type]
    if not isinstance(amount, str):
        raise InvalidValue('amount must be a decimal string such as "19.99", never a number')
    if amount.startswith("-"):
        raise InvalidValue("amount must not be negative")
    match = _AMOUNT.fullmatch(amount)
    if match is None:
        raise InvalidValue('amount must be a decimal string such as "19.99"')
    places = minor_units(code)
    if match.group(2) is not None and len(match.group(2)) > places:
        raise InvalidValue(f"{code} amounts have at most {places} decimal places")
    value = Decimal(amount)
    if value > MAX_AMOUNT:
        raise InvalidValue(f"amount must be at most {MAX_AMOUNT}")
    return Money(value.quantize(minor_unit(code)), code)


def apply_discount(price: Money, percent: int) -> Money:
    """The price ``percent`` off, rounded half up to the currency's minor unit; a non-free price
    never becomes free through rounding."""
    unit = minor_unit(price.currency)
    discounted = (price.amount * (_HUNDRED - Decimal(percent)) / _HUNDRED).quantize(unit, ROUND_HALF_UP)
    if price.amount > 0 and discounted < unit:
        discounted = unit
    return Money(discounted, price.currency)


@dataclass(frozen=True)
class Discount:
    percent: int
    starts_at: datetime
    ends_at: datetime

    def active_at(self, moment: datetime) -> bool:
        return self.starts_at <= moment < self.ends_at

    def overlaps(self, other: Discount) -> bool:
        """Half-open intervals: one may start the instant another ends."""
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at

    def to_json(self) -> dict[str, object]:
        return {
            "percent": self.percent,
            "startsAt": format_timestamp(self.starts_at),
            "endsAt": format_timestamp(self.ends_at),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, object]) -> Discount:
        return cls(
            int(raw["percent"]),  # type: ignore[call-overload]
            datetime.fromisoformat(str(raw["startsAt"]).replace("Z", "+00:00")),
            datetime.fromisoformat(str(raw["endsAt"]).replace("Z", "+00:00")),
        )


def check_discount(percent: object, starts_at: datetime, ends_at: datetime, *, now: datetime) -> Discount:
    if isinstance(percent, bool) or not isinstance(percent, int):
        raise InvalidValue("percent must be a whole number")
    if not MIN_DISCOUNT_PERCENT <= percent <= MAX_DISCOUNT_PERCENT:
        raise InvalidValue(f"percent must be between {MIN_DISCOUNT_PERCENT} and {MAX_DISCOUNT_PERCENT}")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidValue("startsAt and endsAt need a time zone (use Z for UTC)")
    if ends_at <= starts_at:
        raise InvalidValue("endsAt must be after startsAt")
    if ends_at - starts_at > MAX_DISCOUNT_DURATION:
        raise InvalidValue(f"a discount lasts at most {MAX_DISCOUNT_DURATION.days} days")
    if ends_at <= now:
        raise InvalidValue("the discount has already ended")
    return Discount(percent, starts_at, ends_at)


def check_schedule(discounts: Iterable[Discount]) -> tuple[Discount, ...]:
    """Sorted by start; two discounts that overlap are InvalidValue naming both."""
    schedule = tuple(sorted(discounts, key=lambda d: (d.starts_at, d.ends_at)))
    if len(schedule) > MAX_DISCOUNTS:
        raise InvalidValue(f"at most {MAX_DISCOUNTS} discounts can be scheduled")
    for earlier, later in pairwise(schedule):
        if earlier.overlaps(later):
            raise InvalidValue(
                "discounts must not overlap: "
                f"{format_timestamp(earlier.starts_at)} to {format_timestamp(earlier.ends_at)} and "
                f"{format_timestamp(later.starts_at)} to {format_timestamp(later.ends_at)}"
            )
    return schedule


@dataclass(frozen=True)
class Pricing:
    base_price: Money
    regional_prices: Mapping[str, Money]
    discounts: tuple[Discount, ...]

    def discount_at(self, moment: datetime) -> Discount | None:
        """The discount in effect at ``moment``, else the next one scheduled, else None."""
        upcoming = [d for d in self.discounts if d.ends_at > moment]
        return upcoming[0] if upcoming else None

    def price_at(self, moment: datetime, country: str | None = None) -> Money:
        price = self.regional_prices.get(country, self.base_price) if country else self.base_price
        discount = self.discount_at(moment)
        if discount is not None and discount.active_at(moment):
            return apply_discount(price, discount.percent)
        return price

    def next_change_after(self, moment: datetime) -> datetime | None:
        """The next moment after ``moment`` a scheduled discount starts or ends (the price a buyer
        pays changes then), or None."""
        boundaries = [t for d in self.discounts for t in (d.starts_at, d.ends_at) if t > moment]
        return min(boundaries, default=None)

    def without_ended(self, moment: datetime) -> Pricing:
        return Pricing(
            self.base_price, self.regional_prices, tuple(d for d in self.discounts if d.ends_at > moment)
        )

    def to_json(self, moment: datetime) -> dict[str, object]:
        """The public shape (API and the pricing.updated event) as seen at ``moment``."""
        current = self.without_ended(moment)
        discount = current.discount_at(moment)
        return {
            "basePrice": self.base_price.to_json(),
            "regionalPrices": {
                country: money.to_json() for country, money in sorted(self.regional_prices.items())
            },
            "discount": discount.to_json() if discount else None,
            "discounts": [d.to_json() for d in current.discounts],
        }


def build_pricing(
    base_price: Money, regional_prices: Mapping[str, Money], discounts: Iterable[Discount]
) -> Pricing:
    if len(regional_prices) > MAX_REGIONAL_PRICES:
        raise InvalidValue(f"at most {MAX_REGIONAL_PRICES} regional prices")
    regional = {check_country(country): money for country, money in regional_prices.items()}
    if len(regional) < len(regional_prices):
        raise InvalidValue("a country has more than one regional price")
    schedule = check_schedule(discounts)
    if schedule and base_price.amount == 0:
        raise InvalidValue("a free game cannot be discounted")
    return Pricing(base_price, regional, schedule)
