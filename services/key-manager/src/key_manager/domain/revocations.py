"""The report of a leak response (a retailer's unsold keys revoked in one operation): per
allocation and per game, how many keys were revoked and how many were left because they were
already sold or activated. Plain data in, plain data out (camelCase: it is stored and answered
as it is)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from key_manager.domain.states import KeyStatus

# Left with the buyer: sold, or held for a review of a sold key (held unsold keys are revoked).
LEFT_SOLD = (KeyStatus.SOLD.value, KeyStatus.PENDING_REVIEW.value)
LEFT_ACTIVATED = (KeyStatus.ACTIVATED.value,)


@dataclass(frozen=True)
class AllocationRef:
    allocation_id: uuid.UUID
    game_id: uuid.UUID
    key_type: str


def revocation_report(
    allocations: Iterable[AllocationRef],
    revoked: Mapping[uuid.UUID, int],
    counts: Mapping[uuid.UUID, Mapping[str, int]],
) -> dict:
    """``revoked``: keys revoked now per allocation; ``counts``: keys per state per allocation
    after the revocation."""
    items, games = [], {}
    for ref in allocations:
        states = counts.get(ref.allocation_id, {})
        item = {
            "allocationId": str(ref.allocation_id),
            "gameId": str(ref.game_id),
            "keyType": ref.key_type,
            "revoked": revoked.get(ref.allocation_id, 0),
            "leftSold": sum(states.get(s, 0) for s in LEFT_SOLD),
            "leftActivated": sum(states.get(s, 0) for s in LEFT_ACTIVATED),
        }
        items.append(item)
        game = games.setdefault(
            item["gameId"], {"gameId": item["gameId"], "revoked": 0, "leftSold": 0, "leftActivated": 0}
        )
        for field in ("revoked", "leftSold", "leftActivated"):
            game[field] += item[field]
    return {
        "revokedKeys": sum(item["revoked"] for item in items),
        "leftSold": sum(item["leftSold"] for item in items),
        "leftActivated": sum(item["leftActivated"] for item in items),
        "games": sorted(games.values(), key=lambda g: g["gameId"]),
        "allocations": items,
    }
