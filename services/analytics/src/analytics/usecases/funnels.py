"""Batch and retailer performance, each one function (access checked by the caller): the keys'
totals from the per-key aggregate (as fresh as the aggregator's last pass), the bulk quantities
from the raw events."""

from __future__ import annotations

import uuid

from analytics.db import funnels as store
from analytics.db import key_facts
from analytics.db.clickhouse import ClickHouse
from analytics.domain.funnels import BatchInfo, Performance, batch_performance, retailer_performance


def batch(ch: ClickHouse, info: BatchInfo) -> dict:
    allocations = store.batch_allocations(ch, info.batch_id)
    performance = Performance.of_keys(
        key_facts.batch_totals(ch, info.batch_id, set(allocations)),
        allocations=allocations,
        **store.batch_bulk(ch, info.batch_id),
    )
    return batch_performance(info, performance)


def retailer(ch: ClickHouse, retailer_id: uuid.UUID, game_ids: set[uuid.UUID] | None) -> dict | None:
    """The retailer's figures over ``game_ids`` (every game when None); None when the retailer
    has no key of those games (nothing allocated, sold or activated)."""
    if game_ids is not None and not game_ids:
        return None
    allocations = store.retailer_allocations(ch, retailer_id)
    if game_ids is not None:
        allocations = {game: figures for game, figures in allocations.items() if game in game_ids}
    totals = key_facts.retailer_totals(ch, retailer_id, game_ids)
    if not allocations and not totals.keys:
        return None
    performance = Performance.of_keys(
        totals, revoked=sum(figures["revoked"] for figures in allocations.values())
    )
    # What was allocated is what the allocations say (every key of the retailer's was allocated).
    performance.allocated = sum(figures["allocated"] for figures in allocations.values())
    return retailer_performance(retailer_id, game_ids, performance)
