"""Opaque cursors for keyset pagination (§3: ``?limit=&cursor=`` → ``{"items", "nextCursor"}``).

A cursor is the sort position of the last item returned, base64url-encoded JSON; a cursor
that does not decode to the expected shape is 422 VALIDATION_ERROR on ``cursor``.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from developer_portal.db.repository import Page
from gamekeys_platform.errors import ApiError

_ENCODERS: dict[type, Callable[[Any], Any]] = {
    datetime: lambda value: value.isoformat(),
    uuid.UUID: str,
    int: int,
}
_DECODERS: dict[type, Callable[[Any], Any]] = {
    datetime: lambda value: _aware(datetime.fromisoformat(value)),
    uuid.UUID: uuid.UUID,
    int: lambda value: value if isinstance(value, int) and not isinstance(value, bool) else int("x"),
}


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive timestamp")
    return moment


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_ENCODERS[type(value)](value) for value in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, types: Sequence[type]) -> list[Any] | None:
    if cursor is None:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(types):
            raise ValueError("wrong shape")
        return [_DECODERS[kind](value) for kind, value in zip(types, raw, strict=True)]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ApiError(
            "VALIDATION_ERROR",
            "the cursor is not one this API returned",
            {"fields": {"query": {"cursor": ["invalid cursor"]}}},
        ) from None


def page_body(
    page: Page, serialize: Callable[[Row], dict[str, Any]], position: Callable[[Row], Sequence[Any]]
) -> dict[str, Any]:
    items = [serialize(row) for row in page.rows]
    next_cursor = encode_cursor(position(page.rows[-1])) if page.has_more and page.rows else None
    return {"items": items, "nextCursor": next_cursor}
