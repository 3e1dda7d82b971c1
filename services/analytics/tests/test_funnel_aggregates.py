"""The per-key aggregate the batch and retailer funnels read (migration 0006) against a hand count
and the raw events (``funnels_reference``, the funnels as they were read before it): generated
keys of two studios' games, allocated to three retailers, sold (some in orders that name no
batches, as key-manager wrote them before), activated hours or days later, returned and sold
again, charged back, revoked and expired, stored in three rounds in shuffled order (a key's
activation often before its sale), each round twice, with an aggregator pass after each. Then
the whole backlog stored again, passed in small slices, and merged: no figure changes."""

from __future__ import annotations

import random
import statistics
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import funnels_reference as raw
import pytest
from analytics_testkit import (
    activation,
    aggregate,
    allocation_released,
    at,
    batch_of,
    batch_revoked,
    key_activated,
    key_allocated,
    key_expired,
    key_returned,
    key_revoked,
    key_sold,
    sale_charged_back,
    sale_recorded,
)

from analytics.db import funnels as store
from analytics.db import key_facts
from analytics.domain.events import event_row
from analytics.ingest import ClickHouseSink
from analytics.usecases import funnels

START = at("2026-03-02T00:00:00")


@dataclass
class Key:
    id: uuid.UUID
    batch: uuid.UUID
    game: uuid.UUID
    retailer: uuid.UUID | None = None
    allocation: uuid.UUID | None = None
    sales: list[datetime] = field(default_factory=list)  # by its retailer
    sales_name_batches: bool = True  # False: orders as key-manager wrote them before batch ids
    activated_at: datetime | None = None
    returned: bool = False
    charged_back: bool = False
    revoked: bool = False
    expired: bool = False

    @property
    def named_by_key_event(self) -> bool:
        return self.activated_at is not None or self.revoked or self.expired

    @property
    def in_batch(self) -> bool:
        """Known to be its batch's: a per-key event, or a sale or return naming its batch."""
        return self.named_by_key_event or (bool(self.sales) and self.sales_name_batches)


@dataclass
class Channel:
    """Two studios' games, three batches, three retailers, and the events about their keys."""

    developers: dict[uuid.UUID, uuid.UUID]  # game -> studio
    batches: dict[uuid.UUID, tuple[uuid.UUID, int]]  # batch -> (game, generated)
    batch_revoked: dict[uuid.UUID, int]
    allocations: dict[
        uuid.UUID, tuple[uuid.UUID, uuid.UUID, dict[uuid.UUID, int]]
    ]  # id -> (retailer, game, shares)
    released: dict[uuid.UUID, int]  # allocation -> unsold keys revoked
    keys: list[Key]
    events: list = field(default_factory=list)

    @property
    def retailers(self) -> set[uuid.UUID]:
        return {retailer for retailer, _, _ in self.allocations.values()}


def generated_channel(seed: int) -> Channel:
    rng = random.Random(seed)
    games = [uuid.uuid4(), uuid.uuid4()]
    developers = {game: uuid.uuid4() for game in games}
    batches = {uuid.uuid4(): (games[0], 70), uuid.uuid4(): (games[0], 50), uuid.uuid4(): (games[1], 60)}
    retailers = [uuid.uuid4() for _ in range(3)]
    allocation_of = {(retailer, game): uuid.uuid4() for retailer in retailers for game in games}
    keys = []
    for batch, (game, generated) in batches.items():
        for _ in range(generated - rng.randrange(5, 15)):  # some keys no event names
            key = Key(uuid.uuid4(), batch, game)
            keys.append(key)
            if rng.random() < 0.8:
                key.retailer = rng.choice(retailers)
                key.allocation = allocation_of[key.retailer, game]
    channel = Channel(developers, batches, {}, {}, {}, keys)
    # Each allocation took its keys, and a few more no event names, from the batches it names.
    for (retailer, game), allocation in allocation_of.items():
        shares: dict[uuid.UUID, int] = {}
        for key in keys:
            if key.allocation == allocation:
                shares[key.batch] = shares.get(key.batch, 0) + 1
        for batch in shares:
            shares[batch] += rng.randrange(0, 3)
        channel.allocations[allocation] = (retailer, game, shares)
    released = allocation_of[retailers[0], games[0]]
    channel.released[released] = 2
    channel.batch_revoked[next(iter(batches))] = 4
    for key in keys:
        _lifecycle(rng, key)
    # A key sold, returned and sold again, then activated.
    again = next(key for key in keys if key.sales and not key.returned and not key.charged_back)
    again.returned = True
    again.sales.append(again.sales[0] + timedelta(days=2))
    again.activated_at = again.sales[1] + timedelta(hours=5)
    channel.events = _events(rng, channel)
    return channel


def _lifecycle(rng: random.Random, key: Key) -> None:
    if key.retailer is None:
        key.revoked = rng.random() < 0.3
        key.expired = not key.revoked and rng.random() < 0.1
        return
    if rng.random() < 0.75:
        key.sales.append(START + timedelta(days=rng.randrange(20), minutes=rng.randrange(24 * 60)))
        key.sales_name_batches = rng.random() < 0.85
        if rng.random() < 0.6:
            key.activated_at = key.sales[0] + timedelta(minutes=rng.randrange(30, 200 * 60))
        elif rng.random() < 0.2:
            key.returned = True
            if rng.random() < 0.5:  # sold again
                key.sales.append(key.sales[0] + timedelta(days=1, minutes=rng.randrange(600)))
        key.charged_back = rng.random() < 0.08
    else:
        key.revoked = rng.random() < 0.2
        key.expired = not key.revoked and rng.random() < 0.15


def _events(rng: random.Random, channel: Channel) -> list:
    events = []
    for batch, (game, generated) in channel.batches.items():
        events.append(batch_of(batch, game, channel.developers[game], generated, START - timedelta(days=1)))
    for batch, revoked in channel.batch_revoked.items():
        game = channel.batches[batch][0]
        events.append(
            batch_revoked(batch, game, channel.developers[game], revoked, START + timedelta(days=25))
        )
    for allocation, (retailer, game, shares) in channel.allocations.items():
        events.append(
            key_allocated(
                allocation, retailer, game, sum(shares.values()), START - timedelta(hours=5),
                batches=list(shares.items()),
            )
        )  # fmt: skip
    for allocation, released in channel.released.items():
        retailer, game, _ = channel.allocations[allocation]
        events.append(allocation_released(allocation, retailer, game, released, START + timedelta(days=26)))
    # Orders: the keys of one retailer and game sold at once, up to three, each with
    # distribution's sale of that game; a return or chargeback per key.
    sales: dict[tuple, list[Key]] = {}
    for key in channel.keys:
        for n, moment in enumerate(key.sales):
            sales.setdefault((key.retailer, key.game, key.sales_name_batches, n, moment.date()), []).append(
                key
            )
    for (retailer, game, name_batches, n, _), sold in sales.items():
        for offset in range(0, len(sold), 3):
            order = sold[offset : offset + 3]
            moment = min(key.sales[n] for key in order)
            for key in order:
                key.sales[n] = moment  # an order sells its keys at one time
            key_ids = [key.id for key in order]
            batch_ids = [key.batch for key in order] if name_batches else None
            order_id = f"order-{uuid.uuid4().hex[:8]}"
            events.append(key_sold(retailer, order_id, key_ids, moment, batch_ids=batch_ids))
            events.append(sale_recorded(retailer, key_ids, "9.99", moment, games=[(game, len(order))]))
            for key in order:
                if key.returned and n == 0:
                    back = moment + timedelta(hours=20)
                    events.append(
                        key_returned(retailer, order_id, [key.id], back, batch_ids=batch_ids and [key.batch])
                    )
                if key.charged_back and n == len(key.sales) - 1:
                    events.append(sale_charged_back(retailer, [key.id], moment + timedelta(days=3)))
    for key in channel.keys:
        developer = channel.developers[key.game]
        if key.activated_at is not None:
            events.append(
                key_activated(
                    key.id, key.batch, key.game, developer, key.activated_at,
                    retailer_id=key.retailer, allocation_id=key.allocation,
                )
            )  # fmt: skip
            events.append(
                activation(key.game, "activated", key.activated_at, key_id=key.id, batch_id=key.batch,
                           developer_id=developer)
            )  # fmt: skip
        later = START + timedelta(days=22, minutes=rng.randrange(600))
        if key.revoked:
            events.append(
                key_revoked(key.id, key.batch, key.game, developer, later, retailer_id=key.retailer)
            )
        if key.expired:
            events.append(
                key_expired(key.id, key.batch, key.game, developer, later, retailer_id=key.retailer)
            )
    return events


# --- hand counts ----------------------------------------------------------------------------------


def _median_hours(keys: list[Key]) -> float | None:
    waits = [
        (key.activated_at - key.sales[0]).total_seconds() / 3600
        for key in keys
        if key.sales and key.activated_at
    ]
    return round(statistics.median(waits), 2) if waits else None


def expected_batch(channel: Channel, batch: uuid.UUID) -> dict:
    generated = channel.batches[batch][1]
    keys = [key for key in channel.keys if key.batch == batch and key.in_batch]
    return {
        "counts": {
            "generated": generated,
            "allocated": sum(shares.get(batch, 0) for _, _, shares in channel.allocations.values()),
            "sold": sum(bool(key.sales) for key in keys),
            "activated": sum(key.activated_at is not None for key in keys),
            "revoked": channel.batch_revoked.get(batch, 0) + sum(key.revoked for key in keys),
            "expired": sum(key.expired for key in keys),
            "returned": sum(key.returned for key in keys),
            "chargedBack": sum(key.charged_back for key in keys),
        },
        "medianHoursFromSaleToActivation": _median_hours(keys),
        "salesActivated": sum(bool(key.sales) and key.activated_at is not None for key in keys),
    }


def expected_retailer(channel: Channel, retailer: uuid.UUID, games: set[uuid.UUID] | None) -> dict:
    keys = [key for key in channel.keys if key.retailer == retailer and (games is None or key.game in games)]
    allocations = [
        allocation
        for allocation, (owner, game, _) in channel.allocations.items()
        if owner == retailer and (games is None or game in games)
    ]
    return {
        "counts": {
            "generated": None,
            "allocated": sum(sum(channel.allocations[a][2].values()) for a in allocations),
            "sold": sum(bool(key.sales) for key in keys),
            "activated": sum(key.activated_at is not None for key in keys),
            "revoked": sum(channel.released.get(a, 0) for a in allocations)
            + sum(key.revoked for key in keys),
            "expired": sum(key.expired for key in keys),
            "returned": sum(key.returned for key in keys),
            "chargedBack": sum(key.charged_back for key in keys),
        },
        "medianHoursFromSaleToActivation": _median_hours(keys),
        "salesActivated": sum(bool(key.sales) and key.activated_at is not None for key in keys),
    }


# --- reading both ways ----------------------------------------------------------------------------


def put(ctx, events) -> None:
    """Stored twice (a redelivery not yet merged), then an aggregator pass."""
    rows = [event_row(event.to_json(), "test") for event in events]
    ClickHouseSink(ctx.clickhouse).insert_events(rows)
    ClickHouseSink(ctx.clickhouse).insert_events(rows)
    aggregate(ctx.db, ctx.clickhouse)


def views(channel: Channel):
    """Every funnel of the channel: each batch, each retailer for an admin and for each studio."""
    for batch in channel.batches:
        yield ("batch", batch, None)
    for retailer in channel.retailers:
        yield ("retailer", retailer, None)
        for game in channel.developers:
            yield ("retailer", retailer, frozenset({game}))


def read(ch, view, source) -> dict | None:
    kind, owner, games = view
    if kind == "batch":
        info = store.batch_info(ch, owner)
        return source.batch(ch, info)
    return source.retailer(ch, owner, None if games is None else set(games))


def figures(answer: dict) -> dict:
    return {name: answer[name] for name in ("counts", "medianHoursFromSaleToActivation", "salesActivated")}


def hand_count(channel: Channel, view) -> dict:
    kind, owner, games = view
    if kind == "batch":
        return expected_batch(channel, owner)
    return expected_retailer(channel, owner, None if games is None else set(games))


@pytest.fixture()
def channel() -> Channel:
    return generated_channel(seed=6)


def test_the_funnels_from_the_aggregate_equal_the_raw_events_and_a_hand_count(ctx, channel):
    ch = ctx.clickhouse
    events = list(channel.events)
    random.Random(11).shuffle(events)  # a key's activation often before its sale
    rounds = [
        events[: len(events) // 3],
        events[len(events) // 3 : 2 * len(events) // 3],
        events[2 * len(events) // 3 :],
    ]
    for stored in rounds:
        put(ctx, stored)
        for view in views(channel):
            assert read(ch, view, funnels) == read(ch, view, raw), view
    answers = {}
    for view in views(channel):
        answers[view] = read(ch, view, funnels)
        assert figures(answers[view]) == hand_count(channel, view), view
    # The hand count covers every kind of key.
    totals = [answers[view]["counts"] for view in views(channel) if view[0] == "batch"]
    assert all(sum(counts[name] for counts in totals) > 0 for name in totals[0] if name != "generated")
    assert any(answer["salesActivated"] % 2 == 0 and answer["salesActivated"] for answer in answers.values())

    # The whole backlog again, passed in small slices, and merged: no figure changes.
    key_facts_slice = key_facts.KEYS_PER_SLICE
    key_facts.KEYS_PER_SLICE = 7
    try:
        put(ctx, channel.events)
    finally:
        key_facts.KEYS_PER_SLICE = key_facts_slice
    for table in ("events", "key_events", "key_batch_facts", "key_retailer_facts"):
        ch.execute(f"OPTIMIZE TABLE {table} FINAL")
    for view in views(channel):
        assert read(ch, view, funnels) == answers[view] == read(ch, view, raw), view


def test_a_key_sold_returned_and_sold_again_and_an_allocation_released(ctx, studio):
    """k1 is sold by r1 on 1 March, returned the next day, sold again by r2 on the 3rd and
    activated 6 hours later; k2, sold by r1, activated 2 hours after. r1 revokes 3 unsold keys
    of its allocation. k3, sold by r2 in an order of two games that names no batches, is of no
    known game or batch."""
    developer_id, game_id, _ = studio
    batch, r1, r2, a1, a2 = (uuid.uuid4() for _ in range(5))
    k1, k2, k3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    put(
        ctx,
        [
            batch_of(batch, game_id, developer_id, 20, at("2026-03-01T08:00:00")),
            key_allocated(a1, r1, game_id, 10, at("2026-03-01T09:00:00"), batches=[(batch, 10)]),
            key_allocated(a2, r2, game_id, 5, at("2026-03-02T09:00:00"), batches=[(batch, 5)]),
            key_sold(r1, "order-1", [k1, k2], at("2026-03-01T10:00:00"), batch_ids=[batch, batch]),
            key_returned(r1, "order-1", [k1], at("2026-03-02T10:00:00"), batch_ids=[batch]),
            key_sold(r2, "order-2", [k1], at("2026-03-03T10:00:00"), batch_ids=[batch]),
            key_activated(
                k1, batch, game_id, developer_id, at("2026-03-03T16:00:00"), retailer_id=r2, allocation_id=a2
            ),
            key_activated(
                k2, batch, game_id, developer_id, at("2026-03-01T12:00:00"), retailer_id=r1, allocation_id=a1
            ),
            allocation_released(a1, r1, game_id, 3, at("2026-03-04T10:00:00")),
            key_sold(r2, "order-3", [k3], at("2026-03-05T10:00:00")),
            sale_recorded(
                r2, [k3], "9.99", at("2026-03-05T10:00:00"), games=[(game_id, 1), (uuid.uuid4(), 1)]
            ),
        ],
    )
    ch = ctx.clickhouse
    batch_answer = funnels.batch(ch, store.batch_info(ch, batch))
    assert batch_answer["counts"] == {
        "generated": 20, "allocated": 15, "sold": 2, "activated": 2, "revoked": 0,
        "expired": 0, "returned": 1, "chargedBack": 0,
    }  # fmt: skip
    # From each key's first sale: 54 hours (k1) and 2 (k2).
    assert batch_answer["medianHoursFromSaleToActivation"] == 28.0 and batch_answer["salesActivated"] == 2
    first = funnels.retailer(ch, r1, None)
    assert first["counts"] == {
        "generated": None, "allocated": 10, "sold": 2, "activated": 1, "revoked": 3,
        "expired": 0, "returned": 1, "chargedBack": 0,
    }  # fmt: skip
    assert first["medianHoursFromSaleToActivation"] == 2.0
    second = funnels.retailer(ch, r2, {game_id})
    assert (second["counts"]["sold"], second["counts"]["activated"], second["counts"]["returned"]) == (
        1,
        1,
        0,
    )
    assert second["medianHoursFromSaleToActivation"] == 6.0
    assert funnels.retailer(ch, r2, None)["counts"]["sold"] == 2  # k3 too, for an admin
    for view in [
        ("batch", batch, None),
        ("retailer", r1, None),
        ("retailer", r2, frozenset({game_id})),
        ("retailer", r2, None),
    ]:
        assert read(ch, view, funnels) == read(ch, view, raw)
