"""A game's series and breakdowns, each one function (access checked by the caller): from the
hourly aggregate when the period's local hours are whole UTC hours, from the raw events
otherwise, with the same figures."""

from __future__ import annotations

import uuid

from analytics.db import hourly
from analytics.db import series as raw
from analytics.db.clickhouse import ClickHouse
from analytics.domain.reports import Period
from analytics.domain.series import ActivationSeries, Breakdown, Granularity, check_granularity


def activations(
    ch: ClickHouse, game_id: uuid.UUID, period: Period, granularity: Granularity, key_type: str | None
) -> ActivationSeries:
    check_granularity(period, granularity)
    store = hourly if period.in_whole_utc_hours() else raw
    rows = store.activations_by_bucket(ch, game_id, period, granularity, key_type)
    return ActivationSeries.build(game_id, period, granularity, key_type, rows)


def breakdown(
    ch: ClickHouse, game_id: uuid.UUID, period: Period, dimension: str, key_type: str | None
) -> Breakdown:
    store = hourly if period.in_whole_utc_hours() else raw
    rows = store.activations_by_group(ch, game_id, period, dimension, key_type)
    return Breakdown.build(game_id, period, dimension, key_type, rows)
