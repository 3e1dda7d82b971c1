"""The queries of a game's activation series and breakdowns, on the attempts of
``db.reports`` (one row per attempt, however many copies of its events are stored), for a time
zone with a part-hour offset (``db.hourly`` answers the others)."""

from __future__ import annotations

import uuid

from analytics.db.clickhouse import ClickHouse
from analytics.db.reports import STARTED_IN_PERIOD, period_attempts, query_params
from analytics.domain.reports import Period
from analytics.domain.series import BucketCount, Granularity, GroupCount, bucket_counts, group_counts

_BUCKET = {
    Granularity.DAY: "toDate(started_at, %(tz)s)",
    # The epoch second the local hour starts at: an instant, unambiguous in any zone.
    Granularity.HOUR: "toUInt32(toStartOfHour(started_at, %(tz)s))",
}
_GROUP = {"country": "claimed_country", "keyType": "attempt_key_type"}


def _grouped(ch: ClickHouse, game_id: uuid.UUID, period: Period, expression: str, key_type: str | None):
    attempts = period_attempts("AND game_id = %(game)s")
    key_filter = "" if key_type is None else "AND attempt_key_type = %(key_type)s"
    return ch.execute(
        f"""
        SELECT {expression} AS bucket, final_type, count()
        FROM ({attempts})
        {STARTED_IN_PERIOD} {key_filter}
        GROUP BY bucket, final_type
        """,  # noqa: S608 - fixed text; values are the driver's parameters
        query_params(period, game=game_id, tz=period.zone_name, key_type=key_type or ""),
    )


def activations_by_bucket(
    ch: ClickHouse, game_id: uuid.UUID, period: Period, granularity: Granularity, key_type: str | None
) -> list[BucketCount]:
    return bucket_counts(_grouped(ch, game_id, period, _BUCKET[granularity], key_type), granularity)


def activations_by_group(
    ch: ClickHouse, game_id: uuid.UUID, period: Period, dimension: str, key_type: str | None
) -> list[GroupCount]:
    return group_counts(_grouped(ch, game_id, period, _GROUP[dimension], key_type))
