"""The per-key facts of the batch and retailer funnels (``key_batch_facts``,
``key_retailer_facts``, migration 0006): the aggregator's recomputation of the keys that got an
event, and the funnels' totals from them.

A recomputed key is written again, wholly, from all the events that name it (found through
``key_events``, then read in ``events`` by their sorting key), with min/max/any over them, which a
stored copy of a redelivered event does not change. Readers take each key's latest version
(argMax), so the totals are exact before merges. What a key's events say is what the funnels
read before the aggregate (one ``KeyFacts`` per key built from the raw events), and the tests
hold the two to the same figures."""

from __future__ import annotations

import uuid

from analytics.db.clickhouse import ClickHouse, slices
from analytics.domain.events import NIL
from analytics.domain.funnels import KeyTotals

# --- the aggregator's side -----------------------------------------------------------------------

CHANGES = "key_changes"

# Per-key events: what they say about the key of their ``key_id``, for its batch (their
# ``batch_id``) and its retailer (their ``retailer_id``).
KEY_EVENTS = (
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


def mark_changed_keys(ch: ClickHouse, since: int) -> int:
    """Fill ``key_dirty_keys`` with the keys logged as changed at or after ``since`` (epoch
    seconds); returns how many."""
    ch.execute("TRUNCATE TABLE key_dirty_keys")
    ch.execute(
        "INSERT INTO key_dirty_keys (key_id) "
        "SELECT DISTINCT key_id FROM key_changes WHERE logged_at >= toDateTime(%(since)s)",
        {"since": since},
    )
    return ch.execute("SELECT count() FROM key_dirty_keys")[0][0]


# How many marked keys one pair of statements rewrites: a large backlog (a replay, the
# migration's first pass) goes in slices, each reading the events of its own keys only.
KEYS_PER_SLICE = 100_000

_SLICE = (
    "(SELECT key_id FROM key_dirty_keys WHERE modulo(cityHash64(toString(key_id)), %(parts)s) = %(part)s)"
)

# One row per event and key of the slice it names (by its key id, ``by_id``, or among its key
# ids, ``among_ids``), with the key's batch as the event names it (its batch id when it names the
# key by id, the key's own of a sale's or return's batch ids, in the order of its key ids) and
# the games of distribution's sale (its ``games``, in the payload), written once per slice into
# ``key_slice_events`` for both statements below to read. The events are found by their ids in
# ``key_events``, in the months holding any of them, as a PREWHERE (the other columns are read
# for the matching granules only; by the sorting key, as a timeline does, took half as long
# again for 10,000 keys of 2,500,000 events, and as a WHERE, which the ARRAY JOIN keeps from
# becoming a PREWHERE, three times as long); distribution's sales apart, so that no other
# event's payload is read. Copies of an event give the same rows, which min, max
# and any below take once.
_SLICE_EVENTS = """
    INSERT INTO key_slice_events (key, type, occurred_at, occurred_at_us, game_id, retailer_id,
                                  allocation_id, by_id, among_ids, key_batch, sale_games)
    SELECT key, type, occurred_at, occurred_at_us, game_id, retailer_id, allocation_id,
           key_id = key AS by_id, has(key_ids, key) AS among_ids,
           if(by_id AND batch_id != %(nil)s, batch_id,
              if(among_ids AND type IN ('key.sold', 'key.returned')
                 AND length(key_batch_ids) = length(key_ids),
                 arrayElement(key_batch_ids, indexOf(key_ids, key)), toUUID(%(nil)s))),
           {sale_games}
    FROM events
    ARRAY JOIN arrayPushFront(key_ids, key_id) AS key
    PREWHERE {types}
      AND occurred_at >= (SELECT min(occurred_at) FROM key_events WHERE key_id IN {slice} AND {types})
      AND event_id IN (SELECT event_id FROM key_events WHERE key_id IN {slice} AND {types})
    WHERE key IN {slice}
"""
_OTHER_EVENTS = _SLICE_EVENTS.format(
    sale_games="emptyArrayString()", types="type != 'sale.recorded'", slice=_SLICE
)
_SALES_WITH_GAMES = _SLICE_EVENTS.format(
    sale_games="""extractAll(payload, '"gameId"\\\\s*:\\\\s*"([0-9a-fA-F-]{36})"')""",
    types="type = 'sale.recorded'",
    slice=_SLICE,
)

# What the key's sales, returns and chargebacks say, whoever sold it (a batch's key sold by
# any retailer is sold).
_SALES = """
    SELECT key,
           minIf(occurred_at, among_ids AND type = 'key.sold') AS sold_at,
           max(among_ids AND type = 'key.sold' AND retailer_id != %(nil)s) AS sold_by_a_retailer,
           max(among_ids AND type = 'key.returned') AS returned,
           max(among_ids AND type = 'sale.charged_back') AS charged_back
    FROM key_slice_events
    GROUP BY key
"""

# A key is its batch's when a per-key event names both, or when it was sold, returned or charged
# back and any event (a sale or return by its batch ids) names its batch. It was allocated when a
# per-key event names a retailer or an allocation, or a retailer sold it; its allocation is the
# latest a per-key event names.
_BATCH_CELLS = f"""
    INSERT INTO key_batch_facts (batch_id, key_id, allocated, allocation_id, sold_at, activated_at,
                                 revoked, expired, returned, charged_back, version)
    SELECT batch, key, allocated_by_key_events OR sold_by_a_retailer, allocation, sold_at, activated_at,
           revoked, expired, returned, charged_back, %(version)s
    FROM
    (
        SELECT key, key_batch AS batch,
               max(by_id AND type IN %(key_types)s) AS named_by_key_events,
               max(by_id AND type IN %(key_types)s
                   AND (retailer_id != %(nil)s OR allocation_id != %(nil)s)) AS allocated_by_key_events,
               argMaxIf(allocation_id, occurred_at_us,
                        by_id AND type IN %(key_types)s AND allocation_id != %(nil)s) AS allocation,
               minIf(occurred_at, by_id AND type = 'key.activated') AS activated_at,
               max(by_id AND type = 'key.revoked') AS revoked,
               max(by_id AND type = 'key.expired') AS expired
        FROM key_slice_events
        WHERE key_batch != %(nil)s
        GROUP BY key, batch
    )
    ALL INNER JOIN ({_SALES}) USING key
    WHERE named_by_key_events OR toUInt32(sold_at) > 0 OR returned OR charged_back
"""  # noqa: S608 - fixed text

# A key is a retailer's when a per-key event, a sale, a return or a chargeback names both; what
# it says there is what those events say. Its game: the one a per-key event of the retailer's
# names, else (sold by the retailer) the one any event naming the key by id names, else that of
# the retailer's sale of one game only that sold it.
_RETAILER_CELLS = """
    INSERT INTO key_retailer_facts (retailer_id, key_id, game_id, sold_at, activated_at, revoked, expired,
                                    returned, charged_back, version)
    SELECT retailer, key,
           if(own_game != %(nil)s, own_game, if(sold AND key_game != %(nil)s, key_game, sale_game)),
           sold_at, activated_at, revoked, expired, returned, charged_back, %(version)s
    FROM
    (
        SELECT key, retailer_id AS retailer,
               max((by_id AND type IN %(key_types)s)
                   OR (among_ids AND type IN ('key.sold', 'key.returned', 'sale.charged_back'))) AS named,
               anyIf(game_id, by_id AND type IN %(key_types)s AND game_id != %(nil)s) AS own_game,
               max(among_ids AND type = 'key.sold') AS sold,
               minIf(occurred_at, among_ids AND type = 'key.sold') AS sold_at,
               minIf(occurred_at, by_id AND type = 'key.activated') AS activated_at,
               max(by_id AND type = 'key.revoked') AS revoked,
               max(by_id AND type = 'key.expired') AS expired,
               max(among_ids AND type = 'key.returned') AS returned,
               max(among_ids AND type = 'sale.charged_back') AS charged_back,
               anyIf(toUUID(if(length(sale_games) = 1, arrayElement(sale_games, 1), %(nil)s)),
                     among_ids AND type = 'sale.recorded' AND length(sale_games) = 1) AS sale_game
        FROM key_slice_events
        WHERE retailer_id != %(nil)s
        GROUP BY key, retailer
    )
    ALL LEFT JOIN
    (
        SELECT key, anyIf(game_id, by_id AND game_id != %(nil)s) AS key_game
        FROM key_slice_events
        GROUP BY key
    ) USING key
    WHERE named
"""


def recompute_marked_keys(ch: ClickHouse, version: int, keys: int) -> None:
    """Write every marked key (``keys`` of them) again, wholly, at ``version``: its cell of each
    batch and each retailer its events name."""
    parts = slices(keys, KEYS_PER_SLICE)
    for part in range(parts):
        ch.execute("TRUNCATE TABLE key_slice_events")
        for events in (_OTHER_EVENTS, _SALES_WITH_GAMES):
            ch.execute(events, {"nil": NIL, "parts": parts, "part": part})
        params = {"version": version, "nil": NIL, "key_types": KEY_EVENTS}
        ch.execute(_BATCH_CELLS, params)
        ch.execute(_RETAILER_CELLS, params)


# --- the funnels' side ---------------------------------------------------------------------------

_FACTS = ("sold_at", "activated_at", "revoked", "expired", "returned", "charged_back")

# Each key's latest cell ({cells}: the cells' columns by name), then the totals: a column per
# count, and the sorted waits from sale to activation reduced to their middle one or two.
_TOTALS = """
    SELECT count(), sum(allocated), sum(allocated_elsewhere), sum(sold), sum(activated), sum(revoked),
           sum(expired), sum(returned), sum(charged_back), sum(sold AND activated) AS sales_activated,
           arraySort(groupArrayIf(toInt64(activated_at) - toInt64(sold_at), sold AND activated)) AS waits,
           arrayElement(waits, intDiv(sales_activated + 1, 2)),
           arrayElement(waits, intDiv(sales_activated, 2) + 1)
    FROM
    (
        SELECT {allocated}, toUInt32(sold_at) > 0 AS sold, toUInt32(activated_at) > 0 AS activated,
               sold_at, activated_at, revoked, expired, returned, charged_back
        FROM ({cells})
    )
"""


def _latest_cells(table: str, owner: str, columns: tuple[str, ...], condition: str = "") -> str:
    """Each key's latest cell of ``owner``'s keys in ``table``, its ``columns`` by name. Column by
    column (``argMax`` of a tuple took four times as long): a pass writes a key's cell once, so
    its columns' latest values are one row's."""
    latest = ", ".join(f"argMax({name}, version) AS latest_{name}" for name in columns)
    return f"""
        SELECT {", ".join(f"latest_{name} AS {name}" for name in columns)}
        FROM
        (
            SELECT key_id, {latest}
            FROM {table}
            WHERE {owner} = %(owner)s
            GROUP BY key_id
        )
        {condition}
    """  # noqa: S608 - fixed text


def _totals(ch: ClickHouse, allocated: str, cells: str, params: dict) -> KeyTotals:
    row = ch.execute(_TOTALS.format(allocated=allocated, cells=cells), params)[0]
    return KeyTotals(*(int(value) for value in row[:10]), middle_waits=(int(row[11]), int(row[12])))


def batch_totals(ch: ClickHouse, batch_id: uuid.UUID, allocation_ids: set[uuid.UUID]) -> KeyTotals:
    """The batch's keys' totals; ``allocated_elsewhere`` counts the keys placed in an allocation
    not among ``allocation_ids`` (those that name the batch)."""
    cells = _latest_cells("key_batch_facts", "batch_id", ("allocated", "allocation_id", *_FACTS))
    allocated = (
        "allocated, allocated AND allocation_id != %(nil)s "
        "AND NOT has(%(allocations)s, toString(allocation_id)) AS allocated_elsewhere"
    )
    # The nil id keeps the list from being empty (an empty literal has no element type).
    allocations = [str(NIL), *map(str, allocation_ids)]
    return _totals(ch, allocated, cells, {"owner": batch_id, "nil": NIL, "allocations": allocations})


def retailer_totals(ch: ClickHouse, retailer_id: uuid.UUID, game_ids: set[uuid.UUID] | None) -> KeyTotals:
    """The totals of the retailer's keys of ``game_ids`` (of every key when None; not empty).
    A retailer's allocated keys are what its allocations say: not counted here."""
    condition = "" if game_ids is None else "WHERE game_id IN %(games)s"
    cells = _latest_cells("key_retailer_facts", "retailer_id", ("game_id", *_FACTS), condition)
    allocated = "0 AS allocated, 0 AS allocated_elsewhere"
    return _totals(ch, allocated, cells, {"owner": retailer_id, "games": tuple(game_ids or ())})
