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
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal


@dataclass
class KeyFacts:
    """What the events say about one key."""

    game_id: uuid.UUID | None = None
    allocated: bool = False
    allocation_id: uuid.UUID | None = None
    sold_at: datetime | None = None
    activated_at: datetime | None = None
    revoked: bool = False
    expired: bool = False
    returned: bool = False
    charged_back: bool = False


def rate(part: int, whole: int) -> str | None:
    """``part / whole`` as a decimal string of 4 places, None when there is no whole."""
    if whole == 0:
        return None
    return str((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))


def median_hours_to_activation(facts: list[KeyFacts]) -> float | None:
    """The median, in hours (2 places), from a key's sale to its activation, over the keys that
    were both sold and activated; None when none was."""
    hours = [
        (key.activated_at - key.sold_at).total_seconds() / 3600
        for key in facts
        if key.sold_at is not None and key.activated_at is not None
    ]
    return round(statistics.median(hours), 2) if hours else None


def allocated_keys(keys: list[KeyFacts], allocations: dict[uuid.UUID, int]) -> int:
    """Keys allocated: the quantities of the allocations that name their batches, and the keys
    events placed in other allocations (from before allocations named batches). Without any of
    the former, every key an event showed allocated."""
    if not allocations:
        return sum(key.allocated for key in keys)
    named_elsewhere = sum(
        key.allocated and key.allocation_id is not None and key.allocation_id not in allocations
        for key in keys
    )
    return sum(allocations.values()) + named_elsewhere


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
    keys: list[KeyFacts] = field(default_factory=list)

    @classmethod
    def of_keys(
        cls, keys: list[KeyFacts], *, allocations: dict[uuid.UUID, int] | None = None, **bulk: int
    ) -> Performance:
        """Per-key counts from ``keys``, plus the bulk operations' quantities in ``bulk``
        (``generated``, ``revoked``, ``expired``). ``allocations``: what each allocation that
        names its batches took (``allocated`` adds them up, and of the other keys only those an
        event placed in another allocation)."""
        performance = cls(keys=keys, generated=bulk.get("generated"))
        performance.allocated = allocated_keys(keys, allocations or {})
        performance.sold = sum(key.sold_at is not None for key in keys)
        performance.activated = sum(key.activated_at is not None for key in keys)
        performance.revoked = bulk.get("revoked", 0) + sum(key.revoked for key in keys)
        performance.expired = bulk.get("expired", 0) + sum(key.expired for key in keys)
        performance.returned = sum(key.returned for key in keys)
        performance.charged_back = sum(key.charged_back for key in keys)
        return performance

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
            "medianHoursFromSaleToActivation": median_hours_to_activation(self.keys),
            "salesActivated": sum(k.sold_at is not None and k.activated_at is not None for k in self.keys),
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
    retailer_id: uuid.UUID, game_ids: list[uuid.UUID] | None, performance: Performance
) -> dict:
    return {
        "retailerId": retailer_id,
        # None: every game (platform staff); else the caller's games the figures are limited to.
        "gameIds": None if game_ids is None else sorted(game_ids, key=str),
        **performance.to_dict(rate_of="sold"),
    }
