"""Batch and retailer performance, each one function (access checked by the caller)."""

from __future__ import annotations

import uuid

from analytics.db import funnels as store
from analytics.db.clickhouse import ClickHouse
from analytics.domain.funnels import BatchInfo, Performance, batch_performance, retailer_performance


def batch(ch: ClickHouse, info: BatchInfo) -> dict:
    performance = Performance.of_keys(
        store.batch_keys(ch, info.batch_id),
        allocations=store.batch_allocations(ch, info.batch_id),
        **store.batch_bulk(ch, info.batch_id),
    )
    return batch_performance(info, performance)


def retailer(ch: ClickHouse, retailer_id: uuid.UUID, game_ids: set[uuid.UUID] | None) -> dict | None:
    """The retailer's figures over ``game_ids`` (every game when None); None when the retailer
    has no key of those games (nothing allocated, sold or activated)."""
    allocations = store.retailer_allocations(ch, retailer_id)
    keys = store.retailer_keys(ch, retailer_id)
    if game_ids is not None:
        allocations = {game: figures for game, figures in allocations.items() if game in game_ids}
        keys = [key for key in keys if key.game_id in game_ids]
    if not allocations and not keys:
        return None
    performance = Performance.of_keys(
        keys, revoked=sum(figures["revoked"] for figures in allocations.values())
    )
    # What was allocated is what the allocations say (every key of the retailer's was allocated).
    performance.allocated = sum(figures["allocated"] for figures in allocations.values())
    return retailer_performance(
        retailer_id, None if game_ids is None else sorted(game_ids, key=str), performance
    )
