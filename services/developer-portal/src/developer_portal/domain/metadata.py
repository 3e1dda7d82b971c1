"""Game metadata: bounded text, tags, genres from the store's vocabulary, system requirements
per platform, an age rating and media links."""

from __future__ import annotations

import re
from collections.abc import Iterable

from gamekeys_platform.refusals import InvalidValue

MAX_DESCRIPTION_LENGTH = 20_000
MAX_SHORT_DESCRIPTION_LENGTH = 500
MAX_TAGS = 20
MAX_TAG_LENGTH = 32
MAX_GENRES = 5
TAG_RULE = f"a tag is 1-{MAX_TAG_LENGTH} letters, digits, spaces or ' & + . - characters"
MAX_SCREENSHOTS = 20
MAX_VIDEOS = 10
MAX_URL_LENGTH = 2048
MAX_REQUIREMENT_LENGTH = 300
MAX_AGE_RATING_LENGTH = 50

GENRES: tuple[str, ...] = (
    "action",
    "adventure",
    "casual",
    "fighting",
    "horror",
    "indie",
    "massively_multiplayer",
    "platformer",
    "puzzle",
    "racing",
    "rpg",
    "sandbox",
    "shooter",
    "simulation",
    "sports",
    "strategy",
    "survival",
    "visual_novel",
)
PLATFORMS: tuple[str, ...] = ("windows", "macos", "linux")
REQUIREMENT_FIELDS: tuple[str, ...] = (
    "os",
    "processor",
    "memory",
    "graphics",
    "storage",
    "directx",
    "network",
    "notes",
)

_TAG = re.compile(r"[\w][\w '&+.-]*", re.UNICODE)
_AGE_RATING = re.compile(r"[A-Za-z0-9][A-Za-z0-9 +\-]*")


def normalize_tags(tags: Iterable[str]) -> list[str]:
    """Trimmed, lower case, duplicates dropped (first spelling kept), at most MAX_TAGS."""
    seen: dict[str, None] = {}
    for tag in tags:
        normalized = " ".join(tag.split()).lower()
        if not normalized or len(normalized) > MAX_TAG_LENGTH or not _TAG.fullmatch(normalized):
            raise InvalidValue(f"{TAG_RULE}: {tag[:40]!r}")
        seen.setdefault(normalized, None)
    if len(seen) > MAX_TAGS:
        raise InvalidValue(f"at most {MAX_TAGS} tags")
    return list(seen)


def normalize_genres(genres: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for genre in genres:
        normalized = genre.strip().lower()
        if normalized not in GENRES:
            raise InvalidValue(f"unknown genre {genre[:40]!r}; one of {', '.join(GENRES)}")
        seen.setdefault(normalized, None)
    if len(seen) > MAX_GENRES:
        raise InvalidValue(f"at most {MAX_GENRES} genres")
    return list(seen)


def check_age_rating(rating: str) -> str:
    """Free form within bounds (``PEGI 12``, ``ESRB T``, ``16+``)."""
    normalized = " ".join(rating.split())
    if not normalized or len(normalized) > MAX_AGE_RATING_LENGTH or not _AGE_RATING.fullmatch(normalized):
        raise InvalidValue(
            f"an age rating is 1-{MAX_AGE_RATING_LENGTH} letters, digits, spaces, + or -, e.g. PEGI 12"
        )
    return normalized


def changed_fields(before: dict[str, object], after: dict[str, object]) -> list[str]:
    return sorted(key for key in after if before.get(key) != after[key])
