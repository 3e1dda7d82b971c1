"""The hourly activation aggregate (``activation_hourly``, migration 0002): the aggregator's
recomputation of the hours that changed, and the reports' queries on it for a period whose
local hours and days are whole UTC hours (``Period.in_whole_utc_hours``).

Each hour of a game is a row per version; a query takes each hour's latest version (argMax), so
it is exact before ReplacingMergeTree has merged the older ones away. The rows it reads are the
same attempts ``db.reports`` reads from the raw tables, counted once each."""

from __future__ import annotations

import uuid

from analytics.db.clickhouse import ClickHouse, slices
from analytics.db.reports import ATTEMPTS, naive
from analytics.domain.events import NIL
from analytics.domain.reports import ACTIVATION_TYPES, DayCountryCount, GameCount, Period
from analytics.domain.series import BucketCount, Granularity, GroupCount, bucket_counts, group_counts

# --- the aggregator's side -----------------------------------------------------------------------

CHANGES = "activation_changes"


# How many changed attempts one statement marks the hours of: its IN-set holds each one's game
# and id (about 100 bytes), so a pass over a large change log (the first after the migration
# that logs every stored attempt) goes in slices of attempts too. Slices cost little: 2,000,000
# attempts were marked in 7.2-7.7 s in one statement, 5.4-6.2 s in four.
ATTEMPTS_PER_MARK = 1_000_000

_CHANGED_ATTEMPTS = (
    "SELECT game_id, subject FROM activation_changes "
    "WHERE logged_at >= toDateTime(%(since)s) AND modulo(cityHash64(subject), %(parts)s) = %(part)s"
)


def mark_changed_hours(ch: ClickHouse, since: int) -> int:
    """Fill ``activation_dirty_hours`` with every hour holding an event of an attempt logged as
    changed at or after ``since`` (epoch seconds): the hour it begins in now and the one it was
    counted in before (its first event then, which a late earlier event can move). Returns how
    many (an hour marked by two slices is in the table twice, and counted once)."""
    ch.execute("TRUNCATE TABLE activation_dirty_hours")
    (logged,) = ch.execute(
        "SELECT count() FROM activation_changes WHERE logged_at >= toDateTime(%(since)s)", {"since": since}
    )[0]
    parts = slices(logged, ATTEMPTS_PER_MARK)
    for part in range(parts):
        ch.execute(
            f"""
            INSERT INTO activation_dirty_hours (game_id, hour)
            SELECT DISTINCT game_id, toStartOfHour(occurred_at)
            FROM activation_attempt_events
            WHERE modulo(cityHash64(subject), %(parts)s) = %(part)s
              AND (game_id, subject) IN ({_CHANGED_ATTEMPTS})
            """,  # noqa: S608 - fixed text; values are the driver's parameters
            {"since": since, "parts": parts, "part": part},
        )
    return ch.execute("SELECT uniqExact(game_id, hour) FROM activation_dirty_hours")[0][0]


# How many marked hours one statement rewrites: a pass over a large backlog (a replay, a
# migration's first pass) goes in slices, each grouping the attempts of its own hours only (all
# of them at once took more than ClickHouse's 3.7 GiB per query at 10,000,000 attempts).
HOURS_PER_SLICE = 200_000

# The marked hours of one slice (``part`` of ``parts``, by a hash of the game and the hour).
_SLICE = (
    "(SELECT DISTINCT game_id, hour FROM activation_dirty_hours "
    "WHERE modulo(cityHash64(toString(game_id), toUInt32(hour)), %(parts)s) = %(part)s)"
)

# The attempts with an event in a marked hour of the slice; those that began in one are kept.
# An attempt reads all its events wherever they are, so slices need not keep an attempt's
# hours together: only the slice holding the hour it began in counts it.
_MARKED_ATTEMPTS = ATTEMPTS.format(
    candidates=(
        f"game_id IN (SELECT game_id FROM {_SLICE}) "  # noqa: S608 - fixed text
        f"AND occurred_at >= (SELECT min(hour) FROM {_SLICE}) "
        f"AND (game_id, toStartOfHour(occurred_at)) IN {_SLICE}"
    )
)


def recompute_marked_hours(ch: ClickHouse, version: int, hours: int) -> None:
    """Write every marked hour (``hours`` of them) again, wholly, at ``version``: its attempts by
    claimed country, key type and latest outcome, or empty arrays when none begins in it any
    more."""
    parts = slices(hours, HOURS_PER_SLICE)
    for part in range(parts):
        ch.execute(
            f"""
            INSERT INTO activation_hourly (game_id, hour, countries, key_types, outcomes, attempts, version)
            SELECT game_id, hour, countries, key_types, outcomes, attempts, %(version)s
            FROM {_SLICE}
            ANY LEFT JOIN
            (
                SELECT game_id, hour, groupArray(country) AS countries, groupArray(key_type) AS key_types,
                       groupArray(outcome) AS outcomes, groupArray(n) AS attempts
                FROM
                (
                    SELECT attempt_game AS game_id, toStartOfHour(started_at) AS hour,
                           claimed_country AS country, attempt_key_type AS key_type,
                           final_type AS outcome, count() AS n
                    FROM ({_MARKED_ATTEMPTS})
                    WHERE (attempt_game, toStartOfHour(started_at)) IN {_SLICE}
                    GROUP BY game_id, hour, country, key_type, outcome
                )
                GROUP BY game_id, hour
            ) USING (game_id, hour)
            """,  # noqa: S608 - fixed text; values are the driver's parameters
            {"version": version, "types": ACTIVATION_TYPES, "nil": NIL, "parts": parts, "part": part},
        )


# --- the reports' side ---------------------------------------------------------------------------

# One row per (game, hour, country, key type, outcome) of each hour's latest version.
_GROUPS = """
    SELECT game_id, hour, country, key_type, outcome, n
    FROM
    (
        SELECT game_id, hour, argMax(tuple(countries, key_types, outcomes, attempts), version) AS cell
        FROM activation_hourly
        WHERE hour >= %(start)s AND hour < %(end)s {game_filter}
        GROUP BY game_id, hour
    )
    ARRAY JOIN tupleElement(cell, 1) AS country, tupleElement(cell, 2) AS key_type,
               tupleElement(cell, 3) AS outcome, tupleElement(cell, 4) AS n
"""
_BUCKET = {
    Granularity.DAY: "toDate(hour, %(tz)s)",
    # A local hour is a UTC hour here: the epoch second it starts at.
    Granularity.HOUR: "toUInt32(hour)",
}
_GROUP = {"country": "country", "keyType": "key_type"}


def _params(period: Period, **extra) -> dict:
    return {"start": naive(period.start), "end": naive(period.end), "tz": period.zone_name, **extra}


def _game_counts(ch: ClickHouse, game_id: uuid.UUID, period: Period, expression: str, key_type: str | None):
    groups = _GROUPS.format(game_filter="AND game_id = %(game)s")
    key_filter = "" if key_type is None else "WHERE key_type = %(key_type)s"
    return ch.execute(
        f"""
        SELECT {expression} AS bucket, outcome, sum(n)
        FROM ({groups})
        {key_filter}
        GROUP BY bucket, outcome
        """,  # noqa: S608 - fixed text; values are the driver's parameters
        _params(period, game=game_id, key_type=key_type or ""),
    )


def activations_by_day_and_country(
    ch: ClickHouse, game_id: uuid.UUID, period: Period
) -> list[DayCountryCount]:
    groups = _GROUPS.format(game_filter="AND game_id = %(game)s")
    rows = ch.execute(
        f"""
        SELECT toDate(hour, %(tz)s) AS day, country, outcome, sum(n)
        FROM ({groups})
        GROUP BY day, country, outcome
        """,  # noqa: S608 - fixed text; values are the driver's parameters
        _params(period, game=game_id),
    )
    return [DayCountryCount(day, country, outcome, count) for day, country, outcome, count in rows]


def activations_by_game(ch: ClickHouse, game_ids: list[uuid.UUID] | None, period: Period) -> list[GameCount]:
    """Per game and outcome; every game when ``game_ids`` is None."""
    if game_ids == []:
        return []
    groups = _GROUPS.format(game_filter="" if game_ids is None else "AND game_id IN %(games)s")
    rows = ch.execute(
        f"SELECT game_id, outcome, sum(n) FROM ({groups}) GROUP BY game_id, outcome",  # noqa: S608 - fixed text
        _params(period, games=tuple(game_ids or ())),
    )
    return [GameCount(game, outcome, count) for game, outcome, count in rows]


def activations_by_bucket(
    ch: ClickHouse, game_id: uuid.UUID, period: Period, granularity: Granularity, key_type: str | None
) -> list[BucketCount]:
    return bucket_counts(_game_counts(ch, game_id, period, _BUCKET[granularity], key_type), granularity)


def activations_by_group(
    ch: ClickHouse, game_id: uuid.UUID, period: Period, dimension: str, key_type: str | None
) -> list[GroupCount]:
    return group_counts(_game_counts(ch, game_id, period, _GROUP[dimension], key_type))
