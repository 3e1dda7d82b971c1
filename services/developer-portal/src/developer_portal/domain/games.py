"""Games: titles, statuses and the publishing workflow's transitions (PUT never changes a
status; submission, moderation, publish and unpublish do)."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

from gamekeys_platform.refusals import InvalidValue, Refusal

MAX_TITLE_LENGTH = 255
_WHITESPACE = re.compile(r"\s+")


class GameStatus(StrEnum):
    DRAFT = "draft"
    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    PUBLISHED = "published"
    REMOVED = "removed"


GAME_STATUSES: tuple[str, ...] = tuple(status.value for status in GameStatus)

# The seed's lifecycle: draft → pending_review → approved | rejected, approved → published,
# published → removed (unpublished) → published again; a rejected game may be submitted again.
# Reviewing a new version of an approved or published game without taking it off the store is
# not part of this workflow yet.
TRANSITIONS: dict[GameStatus, frozenset[GameStatus]] = {
    GameStatus.DRAFT: frozenset({GameStatus.PENDING_REVIEW}),
    GameStatus.PENDING_REVIEW: frozenset({GameStatus.APPROVED, GameStatus.REJECTED}),
    GameStatus.REJECTED: frozenset({GameStatus.PENDING_REVIEW}),
    GameStatus.APPROVED: frozenset({GameStatus.PUBLISHED}),
    GameStatus.PUBLISHED: frozenset({GameStatus.REMOVED}),
    GameStatus.REMOVED: frozenset({GameStatus.PUBLISHED}),
}


def sources_of(target: GameStatus) -> tuple[str, ...]:
    """The statuses a game may move to ``target`` from (for SQL conditions, ``status = ANY``)."""
    return tuple(status.value for status, targets in TRANSITIONS.items() if target in targets)


# A release can be scheduled for a game that may become published (approved, or removed and
# coming back); the worker publishes it when the time comes.
SCHEDULABLE: tuple[str, ...] = sources_of(GameStatus.PUBLISHED)

# While a game is under review its content is frozen: what moderators see is what ships.
# A removed game is out of the catalogue; bring it back before editing it.
_CONTENT_FROZEN = frozenset({GameStatus.PENDING_REVIEW, GameStatus.REMOVED})


def check_transition(current: str, target: str) -> GameStatus:
    """The workflow's step from ``current`` to ``target``, or 409 with the current status."""
    current_status, target_status = GameStatus(current), GameStatus(target)
    if target_status not in TRANSITIONS[current_status]:
        raise Refusal(
            "CONFLICT",
            f"a {current_status.value} game cannot become {target_status.value}",
            {"reason": "INVALID_STATUS_TRANSITION", "status": current_status.value},
        )
    return target_status


def check_deletable(status: str) -> None:
    if GameStatus(status) is not GameStatus.DRAFT:
        raise Refusal(
            "CONFLICT", "only a draft game can be deleted", {"reason": "GAME_NOT_DRAFT", "status": status}
        )


def check_content_editable(status: str) -> None:
    if GameStatus(status) in _CONTENT_FROZEN:
        raise Refusal(
            "CONFLICT",
            f"a {status} game's title and metadata cannot change",
            {"reason": "GAME_CONTENT_FROZEN", "status": status},
        )


def normalize_title(title: str) -> str:
    """Trimmed, inner whitespace collapsed, NFC; control characters refused."""
    # Normalising cannot shorten a title to a quarter, so a longer one is refused unread.
    if len(title) > 4 * MAX_TITLE_LENGTH:
        raise InvalidValue(f"title is over {MAX_TITLE_LENGTH} characters")
    normalized = _WHITESPACE.sub(" ", unicodedata.normalize("NFC", title)).strip()
    if not normalized:
        raise InvalidValue("title must not be blank")
    if len(normalized) > MAX_TITLE_LENGTH:
        raise InvalidValue(f"title is over {MAX_TITLE_LENGTH} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in normalized):
        raise InvalidValue("title contains control characters")
    return normalized


def title_key(title: str) -> str:
    """What makes two titles "the same" within a studio: case and spacing do not count."""
    return normalize_title(title).casefold()
