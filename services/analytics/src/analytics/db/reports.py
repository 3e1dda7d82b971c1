"""The reports' queries on ClickHouse's raw tables. Each stays exact before ReplacingMergeTree
has merged a redelivered event's copies: activation figures group by the attempt (the subject),
which two copies share; sums of other events read with FINAL. The activation figures here are
those a time zone with a part-hour offset asks for; ``db.hourly`` answers the others from the
hourly aggregate, with the same attempts."""

from __future__ import annotations

import uuid
from datetime import datetime

from analytics.db.clickhouse import ClickHouse
from analytics.domain.events import NIL
from analytics.domain.reports import (
    ACTIVATION_TYPES,
    OUTCOME_RANK,
    DayCountryCount,
    GameCount,
    Period,
)

_RANK = "multiIf({}, 1)".format(
    ", ".join(f"type = '{event_type}', {rank}" for event_type, rank in OUTCOME_RANK.items())
)

# One row per attempt that has an event matching ``candidates`` (a condition on ``events``, whose
# order key serves a game and a time range): when it began, its game, the region its player
# claimed, the key type, and the type of its latest event, from all of its events whenever they
# happened (``activation_attempt_events`` finds them by game and attempt), so an attempt that began
# before the range and was decided in it keeps its first hour. Aliases unlike any column:
# ClickHouse lets an alias shadow a column in WHERE.
ATTEMPTS = f"""
    SELECT
        subject,
        any(game_id) AS attempt_game,
        min(occurred_at) AS started_at,
        argMin(country, occurred_at_us) AS claimed_country,
        anyIf(key_type, key_type != '') AS attempt_key_type,
        argMax(type, tuple(occurred_at_us, {_RANK})) AS final_type
    FROM activation_attempt_events
    WHERE (game_id, subject) IN (
        SELECT game_id, subject FROM events
        WHERE type IN %(types)s AND game_id != %(nil)s AND {{candidates}}
    )
    GROUP BY subject
"""  # noqa: S608 - fixed text; values are the driver's parameters

# Of ``period_attempts``, those that began in the period.
STARTED_IN_PERIOD = "WHERE started_at >= %(start)s AND started_at < %(end)s"


def period_attempts(game_filter: str) -> str:
    """The attempts with an event in the period, of the games ``game_filter`` names."""
    return ATTEMPTS.format(candidates=f"occurred_at >= %(start)s AND occurred_at < %(end)s {game_filter}")


def query_params(period: Period, **extra) -> dict:
    return {
        "types": ACTIVATION_TYPES,
        "start": naive(period.start),
        "end": naive(period.end),
        "nil": NIL,
        **extra,
    }


def naive(moment: datetime) -> datetime:
    # The driver sends a datetime as wall-clock text; the columns are UTC.
    return moment.replace(tzinfo=None)


def activations_by_day_and_country(
    ch: ClickHouse, game_id: uuid.UUID, period: Period
) -> list[DayCountryCount]:
    attempts = period_attempts("AND game_id = %(game)s")
    rows = ch.execute(
        f"""
        SELECT toDate(started_at, %(tz)s) AS day, claimed_country, final_type, count()
        FROM ({attempts})
        {STARTED_IN_PERIOD}
        GROUP BY day, claimed_country, final_type
        """,  # noqa: S608 - fixed text; values are the driver's parameters
        query_params(period, game=game_id, tz=period.zone_name),
    )
    return [DayCountryCount(day, country, outcome, count) for day, country, outcome, count in rows]


def activations_by_game(ch: ClickHouse, game_ids: list[uuid.UUID] | None, period: Period) -> list[GameCount]:
    """Per game and outcome; every game when ``game_ids`` is None."""
    if game_ids == []:
        return []
    attempts = period_attempts("" if game_ids is None else "AND game_id IN %(games)s")
    rows = ch.execute(
        f"""
        SELECT attempt_game, final_type, count()
        FROM ({attempts})
        {STARTED_IN_PERIOD}
        GROUP BY attempt_game, final_type
        """,  # noqa: S608 - fixed text; values are the driver's parameters
        query_params(period, games=tuple(game_ids or ())),
    )
    return [GameCount(game, outcome, count) for game, outcome, count in rows]


def keys_generated(ch: ClickHouse, game_ids: list[uuid.UUID] | None, period: Period) -> int:
    """Keys of the batches generated in the period, for these games (every game when None)."""
    if game_ids == []:
        return 0
    game_filter = "" if game_ids is None else "AND game_id IN %(games)s"
    rows = ch.execute(
        f"""
        SELECT sum(quantity)
        FROM events FINAL
        WHERE type = 'batch.generated' AND occurred_at >= %(start)s AND occurred_at < %(end)s {game_filter}
        """,  # noqa: S608 - fixed text; values are the driver's parameters
        query_params(period, games=tuple(game_ids or ())),
    )
    return int(rows[0][0] or 0) if rows else 0
