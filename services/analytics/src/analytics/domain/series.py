"""A game's activation series and breakdowns as plain data (ARCHITECTURE.md §5, analytics):
``/games/{id}/activations`` per hour or day, ``/regions`` per claimed country and
``/key-types`` per key type, each over a ``Period`` in a stated time zone.

Buckets are the time zone's: a day is a local calendar day, an hour a local hour (an hour's
start is an instant, written with its UTC offset, so the two 02:00 of a night the clocks go
back stay distinct). Every bucket of the period is in the series, with zeros where nothing
happened.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from analytics.domain.reports import Counts, InvalidPeriod, Period, share

# An hourly series is at most this many days (744 points); a daily one a Period's 366.
MAX_HOURLY_DAYS = 31


class Granularity(StrEnum):
    HOUR = "hour"
    DAY = "day"


def check_granularity(period: Period, granularity: Granularity) -> None:
    if granularity is Granularity.HOUR and len(period.days()) > MAX_HOURLY_DAYS:
        raise InvalidPeriod("to", f"an hourly series is at most {MAX_HOURLY_DAYS} days")


def buckets(period: Period, granularity: Granularity) -> list[date | datetime]:
    """Every bucket of the period: its days, or the UTC instants each local hour starts."""
    if granularity is Granularity.DAY:
        return list(period.days())
    hours = int((period.end - period.start) / timedelta(hours=1))
    return [period.start + timedelta(hours=n) for n in range(hours)]


def hour_bucket(epoch_seconds: int) -> datetime:
    """A bucket the store names by the epoch second its local hour starts at."""
    return datetime.fromtimestamp(epoch_seconds, UTC)


@dataclass(frozen=True)
class BucketCount:
    """Attempts begun in ``bucket`` (a day, or an hour's first instant in UTC) that ended as
    ``event_type``."""

    bucket: date | datetime
    event_type: str
    count: int


@dataclass(frozen=True)
class GroupCount:
    """Attempts of one group (a claimed country, a key type; '' for none) that ended as
    ``event_type``."""

    group: str
    event_type: str
    count: int


def bucket_counts(rows, granularity: Granularity) -> list[BucketCount]:
    """A store's ``(bucket, outcome, count)`` rows, an hour's bucket the epoch second it starts at."""
    if granularity is Granularity.HOUR:
        return [BucketCount(hour_bucket(bucket), outcome, count) for bucket, outcome, count in rows]
    return [BucketCount(bucket, outcome, count) for bucket, outcome, count in rows]


def group_counts(rows) -> list[GroupCount]:
    """A store's ``(group, outcome, count)`` rows."""
    return [GroupCount(group, outcome, count) for group, outcome, count in rows]


@dataclass
class ActivationSeries:
    game_id: uuid.UUID
    period: Period
    granularity: Granularity
    key_type: str | None
    totals: Counts = field(default_factory=Counts)
    points: dict[date | datetime, Counts] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        game_id: uuid.UUID,
        period: Period,
        granularity: Granularity,
        key_type: str | None,
        rows: list[BucketCount],
    ) -> ActivationSeries:
        series = cls(game_id, period, granularity, key_type)
        series.points = {bucket: Counts() for bucket in buckets(period, granularity)}
        for row in rows:
            counts = series.points.get(row.bucket)
            if counts is None:  # an hour the period's edges cut (a zone with a half-hour offset change)
                continue
            counts.add(row.event_type, row.count)
            series.totals.add(row.event_type, row.count)
        return series

    def label(self, bucket: date | datetime) -> str:
        """The day (``2026-03-01``), or the hour's start with its offset in the time zone."""
        if isinstance(bucket, datetime):
            return bucket.astimezone(self.period.zone).isoformat()
        return bucket.isoformat()

    def values(self) -> list[tuple[date | datetime, int]]:
        """(bucket, activations) in order: what trends, forecasts and charts read."""
        return [(bucket, counts.activations) for bucket, counts in self.points.items()]

    def to_dict(self) -> dict:
        return {
            "gameId": self.game_id,
            "from": self.period.first,
            "to": self.period.last,
            "timezone": self.period.zone_name,
            "granularity": self.granularity.value,
            "keyType": self.key_type,
            "total": self.totals.activations,
            "totals": self.totals.to_dict(),
            "series": [
                {"t": self.label(bucket), **counts.to_dict()} for bucket, counts in self.points.items()
            ],
        }


@dataclass
class Breakdown:
    """A game's attempts over a period by one dimension (``regions``: the claimed country;
    ``keyTypes``: the key type), most activations first."""

    game_id: uuid.UUID
    period: Period
    dimension: str  # "country" or "keyType"
    key_type: str | None
    groups: dict[str, Counts] = field(default_factory=dict)
    totals: Counts = field(default_factory=Counts)

    @classmethod
    def build(
        cls, game_id: uuid.UUID, period: Period, dimension: str, key_type: str | None, rows: list[GroupCount]
    ) -> Breakdown:
        breakdown = cls(game_id, period, dimension, key_type)
        for row in rows:
            breakdown.groups.setdefault(row.group, Counts()).add(row.event_type, row.count)
            breakdown.totals.add(row.event_type, row.count)
        return breakdown

    def items(self) -> list[dict]:
        total = self.totals.activations
        ordered = sorted(
            self.groups.items(), key=lambda item: (-item[1].activations, -item[1].attempts, item[0])
        )
        return [
            {
                self.dimension: group or None,
                **counts.to_dict(),
                "share": share(counts.activations, total),
            }
            for group, counts in ordered
        ]

    def to_dict(self) -> dict:
        return {
            "gameId": self.game_id,
            "from": self.period.first,
            "to": self.period.last,
            "timezone": self.period.zone_name,
            "keyType": self.key_type,
            "total": self.totals.activations,
            "totals": self.totals.to_dict(),
            "items": self.items(),
        }
