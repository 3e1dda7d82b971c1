"""Activation reports as plain data: the period asked for, the counts by outcome, and the shape
of a game's report and of a studio's summary (ARCHITECTURE.md §5, analytics).

An activation is one redemption attempt (the subject of activations.events): it counts on the
day, in the report's time zone, of its first event, with the outcome of its latest event (a
held attempt later approved counts as an activation, not as pending review).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_DAYS = 30
MAX_DAYS = 366
# Days a report may name: ClickHouse's DateTime ends in 2105, and no event predates 2000.
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2100, 12, 31)
TOP_GAMES = 10

# activations.events types -> the outcome they report; the latest event of an attempt decides.
OUTCOME_BY_TYPE = {
    "activation.succeeded": "activations",
    "activation.failed": "failed",
    "activation.blocked": "blocked",
    "activation.pending_review": "pendingReview",
    "activation.disputed": "disputed",
}
ACTIVATION_TYPES = tuple(OUTCOME_BY_TYPE)
# When two events of one attempt carry the same time, the review's end beats its start and a
# dispute comes after the activation it disputes.
OUTCOME_RANK = {"activation.pending_review": 0, "activation.disputed": 2}


class InvalidPeriod(ValueError):
    """A report period that cannot be answered; ``field`` names the query parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Period:
    """Whole days ``first``..``last`` (inclusive) in time zone ``zone``."""

    first: date
    last: date
    zone: ZoneInfo

    @classmethod
    def of(cls, first: date | None, last: date | None, zone_name: str | None, *, now: datetime) -> Period:
        """The period a request asks for: the last ``DEFAULT_DAYS`` days up to today (in the
        zone) by default, at most ``MAX_DAYS`` days."""
        try:
            zone = ZoneInfo(zone_name or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidPeriod("tz", "not an IANA time zone name, e.g. Europe/Berlin") from None
        for name, day in (("from", first), ("to", last)):
            if day is not None and not EARLIEST_DAY <= day <= LATEST_DAY:
                raise InvalidPeriod(name, f"must be between {EARLIEST_DAY} and {LATEST_DAY}")
        last = last or now.astimezone(zone).date()
        first = first or max(EARLIEST_DAY, last - timedelta(days=DEFAULT_DAYS - 1))
        if last < first:
            raise InvalidPeriod("to", "must not be before from")
        if (last - first).days + 1 > MAX_DAYS:
            raise InvalidPeriod("to", f"a period is at most {MAX_DAYS} days")
        return cls(first, last, zone)

    @property
    def start(self) -> datetime:
        """The first instant of the period, in UTC."""
        return datetime.combine(self.first, time(), self.zone).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the period, in UTC."""
        return datetime.combine(self.last + timedelta(days=1), time(), self.zone).astimezone(UTC)

    @property
    def zone_name(self) -> str:
        return self.zone.key

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def in_whole_utc_hours(self) -> bool:
        """Whether the zone's UTC offset is a whole number of hours all through the period and
        changes only on a UTC hour: then each local hour is one UTC hour and each local day a run
        of them, and the hourly aggregate answers exactly (Asia/Kolkata's +05:30 does not)."""
        day = timedelta(days=1)
        probe, offset = self.start, _offset(self.zone, self.start)
        if offset % _HOUR:
            return False
        # Sampled daily (no zone changes its offset twice in a day), a change found by bisection.
        while probe < self.end:
            following = min(probe + day, self.end)
            following_offset = _offset(self.zone, following)
            if following_offset % _HOUR:
                return False
            if following_offset != offset and _change_instant(self.zone, probe, following) % _HOUR:
                return False
            probe, offset = following, following_offset
        return True


_HOUR = timedelta(hours=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _offset(zone: ZoneInfo, moment: datetime) -> timedelta:
    return moment.astimezone(zone).utcoffset() or timedelta()


def _change_instant(zone: ZoneInfo, before: datetime, after: datetime) -> timedelta:
    """The first second, after the epoch, with ``after``'s offset (``before`` has another)."""
    low, high = int((before - _EPOCH).total_seconds()), int((after - _EPOCH).total_seconds())
    old = _offset(zone, before)
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(zone, _EPOCH + timedelta(seconds=middle)) == old:
            low = middle
        else:
            high = middle
    return timedelta(seconds=high)


@dataclass
class Counts:
    activations: int = 0
    failed: int = 0
    blocked: int = 0
    pending_review: int = 0
    disputed: int = 0

    def add(self, event_type: str, count: int) -> None:
        outcome = OUTCOME_BY_TYPE[event_type]
        name = "pending_review" if outcome == "pendingReview" else outcome
        setattr(self, name, getattr(self, name) + count)

    @property
    def attempts(self) -> int:
        return self.activations + self.failed + self.blocked + self.pending_review + self.disputed

    def to_dict(self) -> dict[str, int]:
        return {
            "attempts": self.attempts,
            "activations": self.activations,
            "failed": self.failed,
            "blocked": self.blocked,
            "pendingReview": self.pending_review,
            "disputed": self.disputed,
        }


def share(part: int, whole: int) -> str:
    """``part / whole`` as a decimal string of 4 places ("0.2500"); "0.0000" when whole is 0."""
    if whole == 0:
        return "0.0000"
    return str((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True)
class DayCountryCount:
    """One row of the store's answer: attempts begun on ``day`` from ``country`` that ended as
    ``event_type``."""

    day: date
    country: str
    event_type: str
    count: int


@dataclass(frozen=True)
class GameCount:
    game_id: uuid.UUID
    event_type: str
    count: int


@dataclass
class ActivationReport:
    game_id: uuid.UUID
    period: Period
    totals: Counts = field(default_factory=Counts)
    series: dict[date, Counts] = field(default_factory=dict)
    countries: dict[str, Counts] = field(default_factory=dict)

    @classmethod
    def build(cls, game_id: uuid.UUID, period: Period, rows: list[DayCountryCount]) -> ActivationReport:
        report = cls(game_id, period, series={day: Counts() for day in period.days()})
        for row in rows:
            report.totals.add(row.event_type, row.count)
            report.series[row.day].add(row.event_type, row.count)
            report.countries.setdefault(row.country, Counts()).add(row.event_type, row.count)
        return report

    def to_dict(self) -> dict:
        total = self.totals.activations
        countries = sorted(self.countries.items(), key=lambda item: (-item[1].activations, item[0]))
        return {
            "gameId": self.game_id,
            "from": self.period.first,
            "to": self.period.last,
            "timezone": self.period.zone_name,
            "granularity": "day",
            "totals": self.totals.to_dict(),
            "series": [{"t": day, **counts.to_dict()} for day, counts in self.series.items()],
            # '' is an attempt whose player claimed no region.
            "countries": [
                {"country": country or None, **counts.to_dict(), "share": share(counts.activations, total)}
                for country, counts in countries
            ],
        }


@dataclass(frozen=True)
class GameInScope:
    game_id: uuid.UUID
    title: str | None


@dataclass
class Summary:
    """Activation figures over a period for a studio's games, or every game (platform staff)."""

    developer_id: uuid.UUID | None
    period: Period
    games: list[GameInScope]
    keys_generated: int = 0
    totals: Counts = field(default_factory=Counts)
    by_game: dict[uuid.UUID, Counts] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        developer_id: uuid.UUID | None,
        period: Period,
        games: list[GameInScope],
        rows: list[GameCount],
        keys_generated: int,
    ) -> Summary:
        summary = cls(developer_id, period, games, keys_generated)
        for row in rows:
            summary.totals.add(row.event_type, row.count)
            summary.by_game.setdefault(row.game_id, Counts()).add(row.event_type, row.count)
        return summary

    def to_dict(self) -> dict:
        titles = {game.game_id: game.title for game in self.games}
        top = sorted(
            self.by_game.items(), key=lambda item: (-item[1].activations, -item[1].attempts, str(item[0]))
        )
        return {
            "developerId": self.developer_id,
            "from": self.period.first,
            "to": self.period.last,
            "timezone": self.period.zone_name,
            "games": len(self.games),
            "keysGenerated": self.keys_generated,
            "totals": self.totals.to_dict(),
            "topGames": [
                {"gameId": game_id, "title": titles.get(game_id), **counts.to_dict()}
                for game_id, counts in top[:TOP_GAMES]
            ],
        }
