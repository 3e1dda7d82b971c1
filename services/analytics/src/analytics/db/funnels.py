"""The queries of batch and retailer performance. Bulk quantities are summed over ``FINAL``
rows; per-key facts are grouped by key (two copies of an event name the same keys), so both
stay exact before ReplacingMergeTree has merged a redelivered event's copies."""

from __future__ import annotations

import json
import uuid

from analytics.db.clickhouse import ClickHouse
from analytics.domain.events import NIL
from analytics.domain.funnels import BatchInfo, KeyFacts

# Per-key events that name a key's batch or retailer, and what each says about the key.
_KEY_EVENTS = (
    "key.activated",
    "key.revoked",
    "key.expired",
    "key.held",
    "key.released",
    "activation.succeeded",
    "activation.failed",
    "activation.blocked",
    "activation.pending_review",
    "activation.disputed",
)


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
        SELECT type, sum(quantity)
        FROM events FINAL
        WHERE batch_id = %(batch)s AND type IN ('batch.generated', 'batch.revoked', 'batch.expired')
        GROUP BY type
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


# The keys of a batch: named with it by a per-key event, or by a sale or return that names each
# key's batch (the subquery keeps only those, whose two arrays have the same length).
_KEYS_OF_BATCH = """
    SELECT key_id FROM events WHERE batch_id = %(batch)s AND key_id != %(nil)s
    UNION ALL
    SELECT key
    FROM (
        SELECT key_ids, key_batch_ids FROM events
        WHERE type IN ('key.sold', 'key.returned') AND has(key_batch_ids, toUUID(%(batch)s))
    )
    ARRAY JOIN key_ids AS key, key_batch_ids AS key_batch
    WHERE key_batch = %(batch)s
"""


def batch_keys(ch: ClickHouse, batch_id: uuid.UUID) -> list[KeyFacts]:
    params = {"batch": batch_id, "nil": NIL, "types": _KEY_EVENTS}
    facts: dict[uuid.UUID, KeyFacts] = {}
    for key_id, event_type, retailer_id, allocation_id, first_at in ch.execute(
        """
        SELECT key_id, type, argMax(retailer_id, retailer_id != %(nil)s),
               argMax(allocation_id, allocation_id != %(nil)s), min(occurred_at)
        FROM events
        WHERE batch_id = %(batch)s AND key_id != %(nil)s AND type IN %(types)s
        GROUP BY key_id, type
        """,
        params,
    ):
        _apply(facts.setdefault(key_id, KeyFacts()), event_type, first_at, retailer_id, allocation_id)
    _add_sales_and_returns(ch, facts, f"key IN ({_KEYS_OF_BATCH})", params, create=True)
    return list(facts.values())


def retailer_allocations(ch: ClickHouse, retailer_id: uuid.UUID) -> dict[uuid.UUID, dict[str, int]]:
    """Per game: keys allocated to the retailer, and unsold keys revoked from its allocations."""
    rows = ch.execute(
        """
        SELECT game_id, type, sum(quantity)
        FROM events FINAL
        WHERE retailer_id = %(retailer)s AND source = 'key-manager'
          AND (type = 'key.allocated' OR (type = 'allocation.released' AND outcome = 'revoked'))
        GROUP BY game_id, type
        """,
        {"retailer": retailer_id},
    )
    per_game: dict[uuid.UUID, dict[str, int]] = {}
    for game_id, event_type, quantity in rows:
        name = "allocated" if event_type == "key.allocated" else "revoked"
        per_game.setdefault(game_id, {"allocated": 0, "revoked": 0})[name] += int(quantity or 0)
    return per_game


def retailer_keys(ch: ClickHouse, retailer_id: uuid.UUID) -> list[KeyFacts]:
    """Every key the retailer sold, was allocated and activated, or had revoked, with its game
    where an event names it (an activation, a revocation, or a sale of one game only)."""
    params = {"retailer": retailer_id, "nil": NIL, "types": _KEY_EVENTS}
    facts: dict[uuid.UUID, KeyFacts] = {}
    for key_id, event_type, game_id, allocation_id, first_at in ch.execute(
        """
        SELECT key_id, type, any(game_id), argMax(allocation_id, allocation_id != %(nil)s), min(occurred_at)
        FROM events
        WHERE retailer_id = %(retailer)s AND key_id != %(nil)s AND type IN %(types)s
        GROUP BY key_id, type
        """,
        params,
    ):
        key = facts.setdefault(key_id, KeyFacts(allocated=True))
        key.game_id = game_id if game_id != NIL else key.game_id
        _apply(key, event_type, first_at, retailer_id, allocation_id)
    _add_sales_and_returns(ch, facts, "retailer_id = %(retailer)s", params, create=True)
    _add_games(ch, facts, retailer_id)
    return list(facts.values())


def _apply(key: KeyFacts, event_type: str, first_at, retailer_id, allocation_id) -> None:
    if retailer_id != NIL or allocation_id != NIL:
        key.allocated = True
    if allocation_id != NIL:
        key.allocation_id = allocation_id
    if event_type == "key.activated":
        key.activated_at = first_at
    elif event_type == "key.revoked":
        key.revoked = True
    elif event_type == "key.expired":
        key.expired = True


def _add_sales_and_returns(
    ch: ClickHouse, facts: dict[uuid.UUID, KeyFacts], condition: str, params: dict, *, create: bool = False
) -> None:
    """Sale times from key-manager's ``key.sold`` (the first, for a key sold, returned and sold
    again), returns from ``key.returned`` and chargebacks from distribution's
    ``sale.charged_back``, for the keys ``condition`` selects (on ``key``, or the event's
    columns); ``create``: keys not yet in ``facts`` join it."""
    rows = ch.execute(
        f"""
        SELECT key, type, min(occurred_at), max(retailer_id != %(nil)s)
        FROM events ARRAY JOIN key_ids AS key
        WHERE type IN ('key.sold', 'key.returned', 'sale.charged_back') AND {condition}
        GROUP BY key, type
        """,  # noqa: S608 - fixed text; values are the driver's parameters
        params,
    )
    for key_id, event_type, first_at, by_retailer in rows:
        key = facts.get(key_id)
        if key is None:
            if not create:
                continue
            key = facts[key_id] = KeyFacts()
        if event_type == "key.sold":
            key.sold_at = first_at
            key.allocated = key.allocated or bool(by_retailer)
        elif event_type == "key.returned":
            key.returned = True
        else:
            key.charged_back = True


def _add_games(ch: ClickHouse, facts: dict[uuid.UUID, KeyFacts], retailer_id: uuid.UUID) -> None:
    """Each key's game: from an event that names the key with its game, else from the sale of
    one game only that sold it (distribution's ``sale.recorded`` with its ``games``)."""
    params = {"retailer": retailer_id, "nil": NIL}
    for key_id, game_id in ch.execute(
        """
        SELECT key_id, any(game_id)
        FROM events
        WHERE game_id != %(nil)s AND key_id IN (
            SELECT key FROM events ARRAY JOIN key_ids AS key
            WHERE type = 'key.sold' AND retailer_id = %(retailer)s)
        GROUP BY key_id
        """,
        params,
    ):
        if key_id in facts and facts[key_id].game_id is None:
            facts[key_id].game_id = game_id
    for key_ids, payload in ch.execute(
        """
        SELECT any(key_ids), any(payload)
        FROM events
        WHERE type = 'sale.recorded' AND retailer_id = %(retailer)s
        GROUP BY event_id
        """,
        params,
    ):
        games = json.loads(payload)["data"].get("games") or []
        if len(games) != 1:
            continue
        game_id = uuid.UUID(games[0]["gameId"])
        for key_id in key_ids:
            if key_id in facts and facts[key_id].game_id is None:
                facts[key_id].game_id = game_id
