"""The hourly fraud aggregate (``fraud_hourly``, migration 0004): the aggregator's recomputation
of the hours that got an assessment, and the fraud statistics' verdict counts from it for a
period whose local days are runs of whole UTC hours. Each hour's latest version is read, so the
figures are exact before merges, and equal ``db.fraud.assessment_verdicts`` on the raw events."""

from __future__ import annotations

from analytics.db import hourly
from analytics.db.clickhouse import ClickHouse, slices
from analytics.db.fraud import ASSESSMENT_HITS
from analytics.db.reports import naive
from analytics.domain.fraud import VerdictCount
from analytics.domain.reports import Period

CHANGES = "fraud_changes"


def mark_changed_hours(ch: ClickHouse, since: int) -> int:
    """Fill ``fraud_dirty_hours`` with the hours of the assessments logged at or after ``since``
    (epoch seconds); returns how many."""
    ch.execute("TRUNCATE TABLE fraud_dirty_hours")
    ch.execute(
        "INSERT INTO fraud_dirty_hours (hour) "
        "SELECT DISTINCT hour FROM fraud_changes WHERE logged_at >= toDateTime(%(since)s)",
        {"since": since},
    )
    return ch.execute("SELECT count() FROM fraud_dirty_hours")[0][0]


# As the activation aggregate's (``hourly.HOURS_PER_SLICE``): a pass over many marked hours goes
# in slices of hours, each grouping its own assessments only.
_SLICE = "(SELECT hour FROM fraud_dirty_hours WHERE modulo(cityHash64(toUInt32(hour)), %(parts)s) = %(part)s)"

_MARKED_HITS = ASSESSMENT_HITS.format(
    condition=f"occurred_at >= (SELECT min(hour) FROM {_SLICE}) AND toStartOfHour(occurred_at) IN {_SLICE}"  # noqa: S608 - fixed text
)


def recompute_marked_hours(ch: ClickHouse, version: int, hours: int) -> None:
    """Write every marked hour (``hours`` of them) again, wholly, at ``version``."""
    parts = slices(hours, hourly.HOURS_PER_SLICE)
    for part in range(parts):
        ch.execute(
            f"""
            INSERT INTO fraud_hourly (hour, rules, modes, actions, assessments, version)
            SELECT hour, rules, modes, actions, assessments, %(version)s
            FROM {_SLICE}
            ANY LEFT JOIN
            (
                SELECT hour, groupArray(rule) AS rules, groupArray(mode) AS modes,
                       groupArray(action) AS actions, groupArray(n) AS assessments
                FROM
                (
                    SELECT hour, rule, mode, action, count() AS n
                    FROM ({_MARKED_HITS})
                    GROUP BY hour, rule, mode, action
                )
                GROUP BY hour
            ) USING (hour)
            """,  # noqa: S608 - fixed text; values are the driver's parameters
            {"version": version, "parts": parts, "part": part},
        )


def assessment_verdicts(ch: ClickHouse, period: Period) -> list[VerdictCount]:
    rows = ch.execute(
        """
        SELECT rule, mode, action, sum(n)
        FROM
        (
            SELECT hour, argMax(tuple(rules, modes, actions, assessments), version) AS cell
            FROM fraud_hourly
            WHERE hour >= %(start)s AND hour < %(end)s
            GROUP BY hour
        )
        ARRAY JOIN tupleElement(cell, 1) AS rule, tupleElement(cell, 2) AS mode,
                   tupleElement(cell, 3) AS action, tupleElement(cell, 4) AS n
        GROUP BY rule, mode, action
        """,
        {"start": naive(period.start), "end": naive(period.end)},
    )
    return [VerdictCount(rule, mode, action, count) for rule, mode, action, count in rows]
