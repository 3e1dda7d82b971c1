"""Revenue: the platform's share of a game's sales, what a sale credits to whom, and what a
return, refund or chargeback takes back.

The share follows tiers of the game's lifetime gross (by default Steam's: 30 % up to 10 M, 25 %
up to 50 M, 20 % above), per currency since the ledger never converts. A sale that crosses a
boundary is split at it. For a retailer's sale the rate applies to what reaches the platform
(the gross less the retailer's commission); the tiers count the gross.

Rounding: the share is exact until it is posted, and what is posted is the difference between
the rounded (half-even) cumulative share of the game and what was posted before. So however
many sales there are, the platform's total is within half a minor unit of the exact total:
rounding never takes a studio's cents sale after sale.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from developer_portal.domain.ledger import (
    PLATFORM_REVENUE,
    Bucket,
    EntryKind,
    JournalEntry,
    studio_account,
)
from developer_portal.domain.money import minor_unit, round_half_even
from gamekeys_platform.refusals import InvalidValue


@dataclass(frozen=True)
class Tier:
    up_to: Decimal | None  # the lifetime gross where the tier ends; None: no end
    rate: Decimal  # the platform's share, 0..1

    def as_dict(self) -> dict[str, str | None]:
        return {"upTo": None if self.up_to is None else str(self.up_to), "rate": str(self.rate)}


DEFAULT_TIERS: tuple[Tier, ...] = (
    Tier(Decimal("10000000"), Decimal("0.30")),
    Tier(Decimal("50000000"), Decimal("0.25")),
    Tier(None, Decimal("0.20")),
)


def check_tiers(tiers: Sequence[Tier]) -> tuple[Tier, ...]:
    """A schedule: rates between 0 and 1 with at most 4 decimals, boundaries rising, the last
    tier without an end."""
    if not tiers or len(tiers) > 10:
        raise InvalidValue("give 1 to 10 tiers")
    previous = Decimal(0)
    for index, tier in enumerate(tiers):
        if not (0 <= tier.rate <= 1) or tier.rate != tier.rate.quantize(Decimal("0.0001")):
            raise InvalidValue("a rate is between 0 and 1 with at most 4 decimals")
        last = index == len(tiers) - 1
        if last != (tier.up_to is None):
            raise InvalidValue("only the last tier has no upper bound, and it must have none")
        if tier.up_to is not None:
            if tier.up_to <= previous:
                raise InvalidValue("tier boundaries must rise")
            previous = tier.up_to
    return tuple(tiers)


def exact_share(tiers: Sequence[Tier], lifetime_gross: Decimal, gross: Decimal, base: Decimal) -> Decimal:
    """The platform's exact share of a sale of ``gross`` when the game had sold
    ``lifetime_gross`` before: each part of the gross in a tier takes that tier's rate, applied
    to the same part of ``base`` (what reaches the platform)."""
    if gross <= 0:
        return Decimal(0)
    share = Decimal(0)
    start, end = lifetime_gross, lifetime_gross + gross
    lower = Decimal(0)
    for tier in tiers:
        upper = tier.up_to
        part = (end if upper is None else min(end, upper)) - max(start, lower)
        if part > 0:
            share += part * tier.rate
        if upper is None or end <= upper:
            break
        lower = upper
    return share * base / gross


@dataclass(frozen=True)
class ShareCounter:
    """A game's running totals in one currency."""

    lifetime_gross: Decimal = Decimal(0)
    exact: Decimal = Decimal(0)  # the platform's exact share so far
    posted: Decimal = Decimal(0)  # what was posted of it, rounded


@dataclass(frozen=True)
class Credit:
    """A sale as finance credits it: one game's part of an order, or one store sale."""

    key: str  # names the line for returns and reversals: "sale:<saleId>:<gameId>", "revenue:<id>"
    developer_id: uuid.UUID
    game_id: uuid.UUID
    currency: str
    source_account: str  # where the buyers' money is (a retailer, the store)
    gross: Decimal
    commission: Decimal = Decimal(0)
    commission_account: str | None = None
    quantity: int | None = None  # keys, for a retailer's sale


@dataclass(frozen=True)
class Line:
    """What a credited sale has left to take back, posting by posting."""

    credit: Credit
    gross: Decimal
    commission: Decimal
    platform: Decimal
    studio: Decimal
    platform_exact: Decimal
    quantity: int | None
    released: bool  # the hold has passed: the studio's part is in available, not pending

    @property
    def studio_bucket(self) -> Bucket:
        return Bucket.AVAILABLE if self.released else Bucket.PENDING


def _sale_entry(
    credit: Credit,
    studio_bucket: Bucket,
    gross: Decimal,
    commission: Decimal,
    platform: Decimal,
    *,
    sign: int,
    source_id: str,
    kind: EntryKind,
    occurred_at: datetime,
    memo: dict,
) -> JournalEntry:
    """The postings of ``gross`` of a sale (``sign`` 1) or of taking it back (-1): the buyers'
    money out of its source, to the retailer's commission, the platform and the studio."""
    postings = {
        credit.source_account: -sign * gross,
        PLATFORM_REVENUE: sign * platform,
        studio_account(credit.developer_id, studio_bucket): sign * (gross - commission - platform),
    }
    if credit.commission_account is not None:
        postings[credit.commission_account] = sign * commission
    return JournalEntry(
        credit.developer_id,
        kind,
        source_id,
        credit.currency,
        postings,
        occurred_at,
        game_id=credit.game_id,
        memo={**memo, "gross": str(gross), "platformShare": str(platform)},
    )


def credit_entry(
    credit: Credit,
    tiers: Sequence[Tier],
    counter: ShareCounter,
    *,
    source_id: str,
    kind: EntryKind,
    occurred_at: datetime,
    memo: dict,
) -> tuple[JournalEntry, Line, ShareCounter]:
    """The entry of a sale, the line it leaves to reverse, and the game's counter after it."""
    base = credit.gross - credit.commission
    exact = exact_share(tiers, counter.lifetime_gross, credit.gross, base)
    rounded_total = round_half_even(counter.exact + exact, credit.currency)
    # Clamped: after a reversal the cumulative rounding may lag by a minor unit either way.
    platform = min(max(rounded_total - counter.posted, Decimal(0)), base)
    studio = base - platform
    entry = _sale_entry(
        credit,
        Bucket.PENDING,
        credit.gross,
        credit.commission,
        platform,
        sign=1,
        source_id=source_id,
        kind=kind,
        occurred_at=occurred_at,
        memo=memo,
    )
    line = Line(credit, credit.gross, credit.commission, platform, studio, exact, credit.quantity, False)
    after = ShareCounter(
        counter.lifetime_gross + credit.gross, counter.exact + exact, counter.posted + platform
    )
    return entry, line, after


def _part(amount: Decimal, fraction: Decimal, currency: str) -> Decimal:
    return round_half_even(amount * fraction, currency)


def reversal_entry(
    line: Line,
    gross: Decimal,
    counter: ShareCounter,
    *,
    source_id: str,
    kind: EntryKind,
    occurred_at: datetime,
    memo: dict,
    quantity: int | None = None,
) -> tuple[JournalEntry, Line, ShareCounter]:
    """Take back ``gross`` of a credited sale (``quantity`` of its keys for a return): each
    posting in proportion to what is left of it, all of it when the whole rest goes, so a sale
    returned in parts reverses exactly what it posted. The studio's part comes out of pending
    while the hold lasts, else out of available, even below zero."""
    credit = line.credit
    if gross == line.gross:
        commission, platform, exact = line.commission, line.platform, line.platform_exact
    else:
        fraction = gross / line.gross
        commission = min(_part(line.commission, fraction, credit.currency), line.commission)
        platform = min(_part(line.platform, fraction, credit.currency), line.platform)
        exact = line.platform_exact * fraction
    studio = gross - commission - platform
    entry = _sale_entry(
        credit,
        line.studio_bucket,
        gross,
        commission,
        platform,
        sign=-1,
        source_id=source_id,
        kind=kind,
        occurred_at=occurred_at,
        memo=memo,
    )
    left = replace(
        line,
        gross=line.gross - gross,
        commission=line.commission - commission,
        platform=line.platform - platform,
        studio=line.studio - studio,
        platform_exact=line.platform_exact - exact,
        quantity=None if line.quantity is None else line.quantity - (quantity or 0),
    )
    after = ShareCounter(counter.lifetime_gross - gross, counter.exact - exact, counter.posted - platform)
    return entry, left, after


@dataclass(frozen=True)
class GameUnits:
    game_id: uuid.UUID
    quantity: int


def order_lines(
    unit_price: Decimal, gross: Decimal, commission: Decimal, games: Sequence[GameUnits], currency: str
) -> list[tuple[GameUnits, Decimal, Decimal]]:
    """A retailer's order split per game: (game, gross, commission). Each game's gross is its keys
    at the order's unit price; the order's commission is shared in proportion, the minor units
    left by rounding down given to the largest remainders, so the parts add up to the whole."""
    grosses = [unit_price * g.quantity for g in games]
    if sum(grosses, Decimal(0)) != gross:
        raise InvalidValue("the order's gross is not its unit price times its keys")
    if not grosses:
        return []
    unit = minor_unit(currency)
    exact = [commission * g / gross if gross else Decimal(0) for g in grosses]
    floors = [(e // unit) * unit for e in exact]
    left = int((commission - sum(floors, Decimal(0))) / unit)
    by_remainder = sorted(range(len(games)), key=lambda i: exact[i] - floors[i], reverse=True)
    for i in by_remainder[:left]:
        floors[i] += unit
    return list(zip(games, grosses, floors, strict=True))
