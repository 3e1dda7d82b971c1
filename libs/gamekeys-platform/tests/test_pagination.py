"""Cursors round-trip their position and reject anything this API did not hand out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from gamekeys_platform.errors import ApiError
from gamekeys_platform.pagination import decode_cursor, encode_cursor


def test_cursor_round_trips_its_position():
    position = [datetime(2026, 11, 21, 5, 0, tzinfo=UTC), uuid.uuid4(), 7, "b"]
    cursor = encode_cursor(position)
    assert decode_cursor(cursor, (datetime, uuid.UUID, int, str)) == position
    assert decode_cursor(None, (int,)) is None


@pytest.mark.parametrize(
    "cursor",
    ["not-base64!", encode_cursor([1]), encode_cursor(["x", "y"]), encode_cursor(["2026-11-21T05:00:00", 1])],
)
def test_foreign_cursors_are_422(cursor):
    with pytest.raises(ApiError) as raised:
        decode_cursor(cursor, (datetime, int))
    assert raised.value.status == 422
    assert raised.value.details == {"fields": {"query": {"cursor": ["invalid cursor"]}}}
