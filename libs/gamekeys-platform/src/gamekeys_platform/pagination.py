"""Cursor pagination (§3: ``?limit=&cursor=`` → ``{"items": [...], "nextCursor": ... | null}``).

Keyset, not offset: a cursor is the sort position of the last item returned (base64url JSON),
so pages stay stable while rows are added and cost the same however deep. A cursor that does
not decode to the expected shape is 422 VALIDATION_ERROR on ``cursor``.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import marshmallow as ma
from sqlalchemy import ColumnElement, Row, Select, tuple_
from sqlalchemy.orm import Session

from gamekeys_platform.errors import ApiError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class PageQuerySchema(ma.Schema):
    limit = ma.fields.Integer(load_default=DEFAULT_PAGE_SIZE, validate=ma.validate.Range(1, MAX_PAGE_SIZE))
    cursor = ma.fields.String(load_default=None, validate=ma.validate.Length(1, 512))


def page_schema(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """The ``{"items", "nextCursor"}`` schema of a page of ``item_schema`` (named for OpenAPI)."""
    name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "nextCursor": ma.fields.String(required=True, allow_none=True),
        },
        name=name,
    )


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    has_more: bool


def keyset_page(
    session: Session,
    query: Select,
    order: Sequence[ColumnElement],
    after: Sequence[Any] | None,
    limit: int,
    *,
    descending: bool = False,
) -> Page:
    """Rows of ``query`` after the ``after`` position of ``order`` (columns unique together)."""
    if after is not None:
        position = tuple_(*order)
        query = query.where(position < tuple_(*after) if descending else position > tuple_(*after))
    query = query.order_by(*(column.desc() if descending else column.asc() for column in order))
    rows = session.execute(query.limit(limit + 1)).all()
    return Page(rows[:limit], len(rows) > limit)


_ENCODERS: dict[type, Callable[[Any], Any]] = {
    datetime: lambda value: value.isoformat(),
    uuid.UUID: str,
    int: int,
    str: str,
}
_DECODERS: dict[type, Callable[[Any], Any]] = {
    datetime: lambda value: _aware(datetime.fromisoformat(value)),
    uuid.UUID: uuid.UUID,
    int: lambda value: _exactly(value, int),
    str: lambda value: _exactly(value, str),
}


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive timestamp")
    return moment


def _exactly(value: Any, kind: type) -> Any:
    if type(value) is not kind:
        raise ValueError(f"expected {kind.__name__}")
    return value


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
