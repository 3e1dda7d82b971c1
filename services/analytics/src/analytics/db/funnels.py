"""The queries of batch and retailer performance on the raw events: a batch's game, and the bulk
quantities (a batch's generation, revocation and expiry, the allocations that name it, a
retailer's allocations and releases), few rows per batch or retailer, grouped by event id (or by
allocation) so that they stay exact before ReplacingMergeTree has merged a redelivered event's
copies (``FINAL``, which merges every part the query reads, took seconds beside millions of
other events). What the events say about each key is the aggregate's
(``db.key_facts``)."""

from __future__ import annotations

import json
import uuid

from analytics.db.clickhouse import ClickHouse
from analytics.domain.events import NIL
from analytics.domain.funnels import BatchInfo


def batch_info(ch: ClickHouse, batch_id: uuid.UUID) -> BatchInfo | None:
    """The batch's game and studio, from its generation (or any event that names the batch)."""
    rows = ch.execute(
        """
        SELECT argMax(game_id, type = 'batch.generated'), argMax(developer_id, developer_id != %(nil)s),
               argMax(key_type, type = 'batch.generated')
        FROM events
        WHERE batch_id = %(batch)s AND game_id != %(nil)s
        HAVING count() > 0
        """,
        {"batch": batch_id, "nil": NIL},
    )
    if not rows:
        return None
    game_id, developer_id, key_type = rows[0]
    return BatchInfo(batch_id, game_id, None if developer_id == NIL else developer_id, key_type)


def batch_bulk(ch: ClickHouse, batch_id: uuid.UUID) -> dict[str, int]:
    rows = ch.execute(
        """
        SELECT event_type, sum(event_quantity)
        FROM
        (
            SELECT event_id, any(type) AS event_type, any(quantity) AS event_quantity
            FROM events
            WHERE batch_id = %(batch)s AND type IN ('batch.generated', 'batch.revoked', 'batch.expired')
            GROUP BY event_id
        )
        GROUP BY event_type
        """,
        {"batch": batch_id},
    )
    totals = {event_type: int(quantity or 0) for event_type, quantity in rows}
    return {
        "generated": totals.get("batch.generated", 0),
        "revoked": totals.get("batch.revoked", 0),
        "expired": totals.get("batch.expired", 0),
    }


def batch_allocations(ch: ClickHouse, batch_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Per allocation that names the batch among those it drew on: how many keys it took from it."""
    taken: dict[uuid.UUID, int] = {}
    for allocation_id, payload in ch.execute(
        """
        SELECT allocation_id, any(payload)
        FROM events
        WHERE type = 'key.allocated' AND has(key_batch_ids, toUUID(%(batch)s))
        GROUP BY allocation_id
        """,
        {"batch": batch_id},
    ):
        shares = json.loads(payload)["data"]["batches"]
        taken[allocation_id] = sum(s["quantity"] for s in shares if uuid.UUID(s["batchId"]) == batch_id)
    return taken


def retailer_allocations(ch: ClickHouse, retailer_id: uuid.UUID) -> dict[uuid.UUID, dict[str, int]]:
    """Per game: keys allocated to the retailer, and unsold keys revoked from its allocations."""
    rows = ch.execute(
        """
        SELECT game, event_type, sum(event_quantity)
        FROM
        (
            SELECT event_id, any(game_id) AS game, any(type) AS event_type, any(quantity) AS event_quantity
            FROM events
            WHERE retailer_id = %(retailer)s AND source = 'key-manager'
              AND type IN ('key.allocated', 'allocation.released')
              AND (type = 'key.allocated' OR outcome = 'revoked')
            GROUP BY event_id
        )
        GROUP BY game, event_type
        """,
        {"retailer": retailer_id},
    )
    per_game: dict[uuid.UUID, dict[str, int]] = {}
    for game_id, event_type, quantity in rows:
        name = "allocated" if event_type == "key.allocated" else "revoked"
        per_game.setdefault(game_id, {"allocated": 0, "revoked": 0})[name] += int(quantity or 0)
    return per_game
