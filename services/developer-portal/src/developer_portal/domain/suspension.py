"""A studio's suspension by the Admin Service, as plain rules: suspending takes its published
games off the store and stops its keys' redemption; reinstating puts back on the store exactly
the games the suspension took off (those the studio had unpublished itself stay off, as the
studio left them), and its keys can be redeemed again. Both are idempotent: suspending a
suspended studio, or reinstating one that is not suspended, changes nothing."""

from __future__ import annotations

from gamekeys_platform.refusals import Refusal

MAX_REASON_LENGTH = 1000
MAX_ADMIN_ID_LENGTH = 200


def refuse_while_suspended(suspended: bool, what: str) -> None:
    """A studio's own step the suspension forbids (publishing a game): FORBIDDEN STUDIO_SUSPENDED."""
    if suspended:
        raise Refusal(
            "FORBIDDEN",
            f"the studio is suspended by the platform: it cannot {what} until it is reinstated",
            {"reason": "STUDIO_SUSPENDED"},
        )
