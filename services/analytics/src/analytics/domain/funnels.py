"""Batch and retailer performance as plain data (ARCHITECTURE.md §5, analytics): how many keys
reached each state, the activation rate, the median hours from sale to activation, returns.

The figures come from what events say about keys. Bulk operations name no keys (a batch's
generation, revocation and expiry, an allocation, a release), so they add their quantities;
per-key events (a sale's or a return's key ids, an activation, a revocation) are counted per
distinct key, so a redelivered event changes nothing. A key's batch is known from the events
that name both (activations and attempts, revocations, holds) and from sales and returns, which
name each key's batch; an allocation names how many keys it took from each batch. Events written
before key-manager named batches in them do not: a key sold then and never redeemed since is
missing from its batch's ``sold``, and its batch's ``allocated`` counts such allocations' keys
only as far as later events named them.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal


@dataclass(frozen=True)
class KeyTotals:
    """What one batch's or one retailer's keys add up to, each key counted once (``db.key_facts``
    counts them from the per-key aggregate)."""

    keys: int = 0
    allocated: int = 0  # keys an event showed allocated
    # Of those, the keys an event placed in an allocation that does not name the batch.
    allocated_elsewhere: int = 0
    sold: int = 0
    activated: int = 0
    revoked: int = 0
    expired: int = 0
    returned: int = 0
    charged_back: int = 0
    sales_activated: int = 0  # keys both sold and activated
    # Seconds from sale to activation of those keys, sorted: the middle one (twice) when there
    # are an odd number of them, else the middle two; all the median needs.
    middle_waits: tuple[int, int] = (0, 0)


def rate(part: int, whole: int) -> str | None:
    """``part / whole`` as a decimal string of 4 places, None when there is no whole."""
    if whole == 0:
        return None
    return str((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))


def median_hours_to_activation(totals: KeyTotals) -> float | None:
    """The median, in hours (2 places), from a key's sale to its activation, over the keys that
    were both sold and activated; None when none was. The median of the middle two is the
    median of them all (the mean of the middle two for an even count, as ``statistics.median``)."""
    if not totals.sales_activated:
        return None
    return round(statistics.median(seconds / 3600 for seconds in totals.middle_waits), 2)


def allocated_keys(totals: KeyTotals, allocations: dict[uuid.UUID, int]) -> int:
    """Keys allocated: the quantities of the allocations that name their batches, and the keys
    events placed in other allocations (from before allocations named batches). Without any of
    the former, every key an event showed allocated."""
    if not allocations:
        return totals.allocated
    return sum(allocations.values()) + totals.allocated_elsewhere


@dataclass
class Performance:
    """One batch's or one retailer's funnel."""

    generated: int | None = None
    allocated: int = 0
    sold: int = 0
    activated: int = 0
    revoked: int = 0
    expired: int = 0
    returned: int = 0
    charged_back: int = 0
    sales_activated: int = 0
    median_hours_to_activation: float | None = None

    @classmethod
    def of_keys(
        cls, totals: KeyTotals, *, allocations: dict[uuid.UUID, int] | None = None, **bulk: int
    ) -> Performance:
        """The keys' counts, plus the bulk operations' quantities in ``bulk`` (``generated``,
        ``revoked``, ``expired``). ``allocations``: what each allocation that names its batches
        took (``allocated`` adds them up, and of the other keys only those an event placed in
        another allocation)."""
        return cls(
            generated=bulk.get("generated"),
            allocated=allocated_keys(totals, allocations or {}),
            sold=totals.sold,
            activated=totals.activated,
            revoked=bulk.get("revoked", 0) + totals.revoked,
            expired=bulk.get("expired", 0) + totals.expired,
            returned=totals.returned,
            charged_back=totals.charged_back,
            sales_activated=totals.sales_activated,
            median_hours_to_activation=median_hours_to_activation(totals),
        )

    def counts(self) -> dict[str, int | None]:
        return {
            "generated": self.generated,
            "allocated": self.allocated,
            "sold": self.sold,
            "activated": self.activated,
            "revoked": self.revoked,
            "expired": self.expired,
            "returned": self.returned,
            "chargedBack": self.charged_back,
        }

    def to_dict(self, *, rate_of: str) -> dict:
        """``rate_of``: what the activation rate divides by (``generated`` for a batch, ``sold``
        for a retailer)."""
        whole = (self.generated or 0) if rate_of == "generated" else self.sold
        return {
            "counts": self.counts(),
            "activationRate": rate(self.activated, whole),
            "activationRateOf": rate_of,
            "returnRate": rate(self.returned, self.sold),
            "medianHoursFromSaleToActivation": self.median_hours_to_activation,
            "salesActivated": self.sales_activated,
        }


@dataclass(frozen=True)
class BatchInfo:
    batch_id: uuid.UUID
    game_id: uuid.UUID
    developer_id: uuid.UUID | None
    key_type: str


def batch_performance(info: BatchInfo, performance: Performance) -> dict:
    return {
        "batchId": info.batch_id,
        "gameId": info.game_id,
        "keyType": info.key_type or None,
        **performance.to_dict(rate_of="generated"),
    }


def retailer_performance(
    retailer_id: uuid.UUID, game_ids: Collection[uuid.UUID] | None, performance: Performance
) -> dict:
    return {
        "retailerId": retailer_id,
        # None: every game (platform staff); else the caller's games the figures are limited to.
        "gameIds": None if game_ids is None else sorted(game_ids, key=str),
        **performance.to_dict(rate_of="sold"),
    }
