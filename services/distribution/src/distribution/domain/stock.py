"""Low-stock thresholds of an allocation: events when its unsold keys fall to 25%, 10% and 0%."""

from __future__ import annotations

THRESHOLDS = (25, 10, 0)  # percent of the allocated quantity still unsold, deepest last


def reached_threshold(quantity: int, unsold: int, last_signalled: int | None) -> int | None:
    """The deepest threshold ``unsold`` has reached that was not signalled yet (None if none).

    A sale that jumps past several thresholds signals only the deepest; a threshold is signalled
    once per allocation, whatever happens later (returns do not give keys back).
    """
    if quantity <= 0:
        raise ValueError("quantity must be positive")
    reached = None
    for threshold in THRESHOLDS:
        if unsold * 100 <= threshold * quantity:
            reached = threshold
    if reached is None or (last_signalled is not None and reached >= last_signalled):
        return None
    return reached
