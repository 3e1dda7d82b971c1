"""The funnels as they were read before the per-key aggregate, from the raw events: one
``KeyFacts`` per key, built from its events grouped by key and type. The tests hold the
aggregate's figures to these (and to hand counts); the bench times both."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from analytics.db import funnels as store
from analytics.db.clickhouse import ClickHouse
from analytics.db.key_facts import KEY_EVENTS
from analytics.domain.events import NIL
from analytics.domain.funnels import (
    BatchInfo,
    KeyTotals,
    Performance,
    batch_performance,
    retailer_performance,
)


@dataclass
class KeyFacts:
    """What the events say about one key."""

    game_id: uuid.UUID | None = None
    allocated: bool = False
    allocation_id: uuid.UUID | None = None
    allocated_at_us: int = 0  # when the latest event naming its allocation happened
    sold_at: datetime | None = None
    activated_at: datetime | None = None
    revoked: bool = False
    expired: bool = False
    returned: bool = False
    charged_back: bool = False


def totals_of(keys: list[KeyFacts], allocation_ids: set[uuid.UUID]) -> KeyTotals:
    waits = sorted(
        int((key.activated_at - key.sold_at).total_seconds())
        for key in keys
        if key.sold_at is not None and key.activated_at is not None
    )
    middle = (waits[(len(waits) + 1) // 2 - 1], waits[len(waits) // 2]) if waits else (0, 0)
    return KeyTotals(
        keys=len(keys),
        allocated=sum(key.allocated for key in keys),
        allocated_elsewhere=sum(
            key.allocated and key.allocation_id is not None and key.allocation_id not in allocation_ids
            for key in keys
        ),
        sold=sum(key.sold_at is not None for key in keys),
        activated=sum(key.activated_at is not None for key in keys),
        revoked=sum(key.revoked for key in keys),
        expired=sum(key.expired for key in keys),
        returned=sum(key.returned for key in keys),
        charged_back=sum(key.charged_back for key in keys),
        sales_activated=len(waits),
        middle_waits=middle,
    )


def batch(ch: ClickHouse, info: BatchInfo) -> dict:
    allocations = store.batch_allocations(ch, info.batch_id)
    performance = Performance.of_keys(
        totals_of(batch_keys(ch, info.batch_id), set(allocations)),
        allocations=allocations,
        **store.batch_bulk(ch, info.batch_id),
    )
    return batch_performance(info, performance)


def retailer(ch: ClickHouse, retailer_id: uuid.UUID, game_ids: set[uuid.UUID] | None) -> dict | None:
    allocations = store.retailer_allocations(ch, retailer_id)
    keys = retailer_keys(ch, retailer_id)
    if game_ids is not None:
        allocations = {game: figures for game, figures in allocations.items() if game in game_ids}
        keys = [key for key in keys if key.game_id in game_ids]
    if not allocations and not keys:
        return None
    performance = Performance.of_keys(
        totals_of(keys, set()), revoked=sum(figures["revoked"] for figures in allocations.values())
    )
    performance.allocated = sum(figures["allocated"] for figures in allocations.values())
    return retailer_performance(retailer_id, game_ids, performance)


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


# The allocation the latest of a key's events that name one names, and when that happened.
_LATEST_ALLOCATION = (
    "argMax(allocation_id, tuple(allocation_id != %(nil)s, occurred_at_us)), "
    "maxIf(occurred_at_us, allocation_id != %(nil)s)"
)


def batch_keys(ch: ClickHouse, batch_id: uuid.UUID) -> list[KeyFacts]:
    params = {"batch": batch_id, "nil": NIL, "types": KEY_EVENTS}
    facts: dict[uuid.UUID, KeyFacts] = {}
    for key_id, event_type, retailer_id, allocation_id, allocated_at_us, first_at in ch.execute(
        f"""
        SELECT key_id, type, argMax(retailer_id, retailer_id != %(nil)s), {_LATEST_ALLOCATION},
               min(occurred_at)
        FROM events
        WHERE batch_id = %(batch)s AND key_id != %(nil)s AND type IN %(types)s
        GROUP BY key_id, type
        """,  # noqa: S608 - fixed text; values are the driver's parameters
        params,
    ):
        key = facts.setdefault(key_id, KeyFacts())
        _apply(key, event_type, first_at, retailer_id, allocation_id, allocated_at_us)
    _add_sales_and_returns(ch, facts, f"key IN ({_KEYS_OF_BATCH})", params, create=True)
    return list(facts.values())


def retailer_keys(ch: ClickHouse, retailer_id: uuid.UUID) -> list[KeyFacts]:
    """Every key the retailer sold, was allocated and activated, or had revoked, with its game
    where an event names it (an activation, a revocation, or a sale of one game only)."""
    params = {"retailer": retailer_id, "nil": NIL, "types": KEY_EVENTS}
    facts: dict[uuid.UUID, KeyFacts] = {}
    for key_id, event_type, game_id, allocation_id, allocated_at_us, first_at in ch.execute(
        f"""
        SELECT key_id, type, any(game_id), {_LATEST_ALLOCATION}, min(occurred_at)
        FROM events
        WHERE retailer_id = %(retailer)s AND key_id != %(nil)s AND type IN %(types)s
        GROUP BY key_id, type
        """,  # noqa: S608 - fixed text; values are the driver's parameters
        params,
    ):
        key = facts.setdefault(key_id, KeyFacts(allocated=True))
        key.game_id = game_id if game_id != NIL else key.game_id
        _apply(key, event_type, first_at, retailer_id, allocation_id, allocated_at_us)
    _add_sales_and_returns(ch, facts, "retailer_id = %(retailer)s", params, create=True)
    _add_games(ch, facts, retailer_id)
    return list(facts.values())


def _apply(key: KeyFacts, event_type: str, first_at, retailer_id, allocation_id, allocated_at_us) -> None:
    if retailer_id != NIL or allocation_id != NIL:
        key.allocated = True
    if allocation_id != NIL and allocated_at_us >= key.allocated_at_us:
        key.allocation_id, key.allocated_at_us = allocation_id, allocated_at_us
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
