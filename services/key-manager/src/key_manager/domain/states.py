"""The key state machine (ARCHITECTURE.md §6).

    generated ─→ allocated ─→ sold ─→ activated
        │     ←──────┤          │         ▲
        └────────────┴──────────┴─→ pending_review (a fraud case is open) ─→ back, or activated
    revoked and expired: from any state that is not final.

An allocation released by distribution hands its unsold keys back to the free pool
(allocated → generated).

A studio may also activate its own keys without a retailer (press, giveaways), so activation is
allowed from generated and allocated too. ``pending_review`` remembers the state it was held
from and a release returns the key there. ``activated``, ``revoked`` and ``expired`` are final.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class KeyStatus(StrEnum):
    GENERATED = "generated"
    ALLOCATED = "allocated"
    SOLD = "sold"
    ACTIVATED = "activated"
    PENDING_REVIEW = "pending_review"
    REVOKED = "revoked"
    EXPIRED = "expired"


class KeyType(StrEnum):
    RETAIL = "retail"
    PROMOTIONAL = "promotional"
    DEVELOPER = "developer"
    GIFT = "gift"
    SUBSCRIPTION = "subscription"


class BatchStatus(StrEnum):
    PENDING = "pending"
    GENERATING = "generating"
    COMPLETED = "completed"
    FAILED = "failed"
    REVOKED = "revoked"
    CANCELLED = "cancelled"


# A batch may be cancelled (or fail) until its keys are committed; after that it is revoked instead.
CANCELLABLE_BATCH = frozenset({BatchStatus.PENDING, BatchStatus.GENERATING})
UNFINISHED_BATCH = CANCELLABLE_BATCH
# Batches whose keys exist: they can be counted, exported, and expire.
BATCH_WITH_KEYS = frozenset({BatchStatus.COMPLETED, BatchStatus.REVOKED})

S = KeyStatus
FINAL = frozenset({S.ACTIVATED, S.REVOKED, S.EXPIRED})
NON_FINAL = frozenset(KeyStatus) - FINAL
# Where a key may be activated from (pending_review only by the holder of the hold).
ACTIVATABLE = frozenset({S.GENERATED, S.ALLOCATED, S.SOLD})
HOLDABLE = frozenset({S.GENERATED, S.ALLOCATED, S.SOLD})

TRANSITIONS: dict[KeyStatus, frozenset[KeyStatus]] = {
    S.GENERATED: frozenset({S.ALLOCATED, S.ACTIVATED, S.PENDING_REVIEW, S.REVOKED, S.EXPIRED}),
    S.ALLOCATED: frozenset({S.GENERATED, S.SOLD, S.ACTIVATED, S.PENDING_REVIEW, S.REVOKED, S.EXPIRED}),
    S.SOLD: frozenset({S.ACTIVATED, S.PENDING_REVIEW, S.REVOKED, S.EXPIRED}),
    S.PENDING_REVIEW: frozenset({S.GENERATED, S.ALLOCATED, S.SOLD, S.ACTIVATED, S.REVOKED, S.EXPIRED}),
    S.ACTIVATED: frozenset(),
    S.REVOKED: frozenset(),
    S.EXPIRED: frozenset(),
}

# The store sells a free key to a buyer straight from the studio's pool: set aside for the order
# (allocated), then sold, both steps in one transaction, each a step the table above allows.
STORE_SALE = (S.GENERATED, S.ALLOCATED, S.SOLD)

# Targets a person may set with PATCH /{keyId}/status; the others have their own operations
# (allocation, activation, hold/release) that carry what those states need.
MANUAL_TARGETS = frozenset({S.SOLD, S.REVOKED, S.EXPIRED})


class TransitionRefused(Exception):
    def __init__(self, current: KeyStatus, target: KeyStatus, reason: str) -> None:
        super().__init__(reason)
        self.current = current
        self.target = target
        self.reason = reason


def can_transition(current: KeyStatus, target: KeyStatus, *, held_from: KeyStatus | None = None) -> bool:
    if target not in TRANSITIONS[current]:
        return False
    # A release goes back exactly where the key was held from.
    if current is S.PENDING_REVIEW and target in HOLDABLE:
        return held_from is target
    return True


def check_transition(
    current: KeyStatus | str, target: KeyStatus | str, *, held_from: KeyStatus | str | None = None
) -> None:
    """Raise TransitionRefused unless the state machine allows ``current`` → ``target``."""
    current, target = KeyStatus(current), KeyStatus(target)
    held = KeyStatus(held_from) if held_from else None
    if can_transition(current, target, held_from=held):
        return
    if current in FINAL:
        reason = f"the key is {current.value}: no further change is possible"
    elif current is target:
        reason = f"the key is already {current.value}"
    else:
        reason = f"a {current.value} key cannot become {target.value}"
    raise TransitionRefused(current, target, reason)


def sources_of(target: KeyStatus) -> frozenset[KeyStatus]:
    """Every state from which ``target`` can be reached (for bulk conditional updates)."""
    return frozenset(state for state, targets in TRANSITIONS.items() if target in targets)


def ordered(states: Iterable[KeyStatus]) -> tuple[KeyStatus, ...]:
    """A set of states in declaration order, so statements that change rows one state after
    another always take them in the same order."""
    wanted = frozenset(states)
    return tuple(state for state in KeyStatus if state in wanted)


def sql_values(states: Iterable[KeyStatus] | Iterable[BatchStatus]) -> list[str]:
    """A set of states as the list SQL binds (``status = ANY(:sources)``), in declaration order."""
    wanted = list(dict.fromkeys(states))
    return [state.value for state in sorted(wanted, key=lambda state: list(type(state)).index(state))]


# A batch revocation takes every key that can still be revoked (activated keys stay activated).
REVOCABLE = sources_of(S.REVOKED)
# The expiry job expires usable keys; a held key waits for its review to end first.
EXPIRED_BY_JOB = sources_of(S.EXPIRED) - {S.PENDING_REVIEW}
