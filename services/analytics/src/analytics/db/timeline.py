"""The queries of a key's timeline: the events that name the key (its id, or among a bulk
event's key ids), found through ``key_events`` (ordered by key), then those of its batch and
allocation. One row per event id, so a stored copy of a redelivered event appears once."""

from __future__ import annotations

import json
import uuid

from analytics.db.clickhouse import ClickHouse
from analytics.domain.timeline import MAX_EVENTS, TimelineEvent

_SELECT = """
    SELECT event_id, any(type), any(source), any(occurred_at), any(occurred_at_us), any(time),
           any(game_id), any(batch_id), any(retailer_id), any(allocation_id), any(order_id),
           any(activation_id), any(user_id), any(country), any(outcome), any(reason), any(payload)
    FROM events
    WHERE {condition}
    GROUP BY event_id
    ORDER BY any(occurred_at_us), event_id
    LIMIT %(limit)s
"""
BATCH_TYPES = ("batch.generated", "batch.failed", "batch.cancelled", "batch.revoked", "batch.expired")
ALLOCATION_TYPES = ("key.allocated", "allocation.created", "allocation.released", "allocation.low_stock")


# The events' sorting key, so the look-up in ``events`` reads only the granules holding them.
_NAMING_KEY = """(game_id, type, occurred_at, event_id) IN (
    SELECT game_id, type, occurred_at, event_id FROM key_events WHERE key_id = %(key)s
)"""


def key_events(ch: ClickHouse, key_id: uuid.UUID) -> list[TimelineEvent]:
    return _events(ch, _NAMING_KEY, {"key": key_id}, "key")


def batch_events(ch: ClickHouse, batch_ids: set[uuid.UUID]) -> list[TimelineEvent]:
    if not batch_ids:
        return []
    condition = "batch_id IN %(batches)s AND type IN %(types)s"
    return _events(ch, condition, {"batches": tuple(batch_ids), "types": BATCH_TYPES}, "batch")


def allocation_events(ch: ClickHouse, allocation_ids: set[uuid.UUID]) -> list[TimelineEvent]:
    if not allocation_ids:
        return []
    condition = "allocation_id IN %(allocations)s AND type IN %(types)s"
    params = {"allocations": tuple(allocation_ids), "types": ALLOCATION_TYPES}
    return _events(ch, condition, params, "allocation")


def _events(ch: ClickHouse, condition: str, params: dict, via: str) -> list[TimelineEvent]:
    rows = ch.execute(_SELECT.format(condition=condition), {**params, "limit": MAX_EVENTS + 1})
    return [
        TimelineEvent(*row[:16], data=json.loads(row[16]).get("data") or {}, via=via)  # type: ignore[misc]
        for row in rows
    ]
