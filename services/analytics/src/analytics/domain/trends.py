"""Trends of a game's daily activations, plain Python: day-over-day and week-over-week change,
and each day scored by how unusual it is.

A day's score is a robust z-score against the ``BASELINE_DAYS`` days before it: (activations -
their median) / (1.4826 x their median absolute deviation), the MAD scaled to a normal's standard
deviation, so one earlier spike does not hide the next. The scale is at least 1 activation, so
a quiet game going from 0 to 2 is not a 'spike' of infinite score. A day scoring at least
``FLAG_AT`` is a spike, at most -``FLAG_AT`` a drop (about 1 day in 370 by chance for normal
noise).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

BASELINE_DAYS = 28
FLAG_AT = 3.0
MIN_SCALE = 1.0


@dataclass(frozen=True)
class Scored:
    day: date
    activations: int
    expected: float | None  # the baseline's median
    z_score: float | None  # None without a full baseline
    flag: str | None  # "spike", "drop" or None

    def to_dict(self) -> dict:
        return {
            "t": self.day.isoformat(),
            "activations": self.activations,
            "expected": None if self.expected is None else round(self.expected, 2),
            "zScore": None if self.z_score is None else round(self.z_score, 2),
            "flag": self.flag,
        }


def change(current: int, previous: int) -> dict:
    percent = None
    if previous:
        percent = str(
            (Decimal(current - previous) * 100 / Decimal(previous)).quantize(Decimal("0.1"), ROUND_HALF_EVEN)
        )
    return {"current": current, "previous": previous, "change": current - previous, "changePercent": percent}


def score(days: list[tuple[date, int]], shown: int) -> list[Scored]:
    """The last ``shown`` of ``days`` (oldest first, one per day), each scored against the
    ``BASELINE_DAYS`` before it."""
    scored = []
    for index in range(max(0, len(days) - shown), len(days)):
        day, value = days[index]
        baseline = [v for _, v in days[max(0, index - BASELINE_DAYS) : index]]
        if len(baseline) < BASELINE_DAYS:
            scored.append(Scored(day, value, None, None, None))
            continue
        centre = statistics.median(baseline)
        mad = statistics.median(abs(v - centre) for v in baseline)
        z = (value - centre) / max(1.4826 * mad, MIN_SCALE)
        flag = "spike" if z >= FLAG_AT else "drop" if z <= -FLAG_AT else None
        scored.append(Scored(day, value, centre, z, flag))
    return scored


def trends(days: list[tuple[date, int]], shown: int) -> dict:
    """``days``: daily activations up to the as-of day, at least ``shown + BASELINE_DAYS`` of
    them when there is that much history."""
    values = [v for _, v in days]
    scored = score(days, shown)
    latest = scored[-1]
    return {
        "asOf": latest.day.isoformat(),
        "dayOverDay": change(values[-1], values[-2] if len(values) > 1 else 0),
        "weekOverWeek": change(sum(values[-7:]), sum(values[-14:-7])),
        "latest": latest.to_dict(),
        "anomalies": [s.to_dict() for s in scored if s.flag],
        "flagAt": FLAG_AT,
        "baselineDays": BASELINE_DAYS,
        "series": [s.to_dict() for s in scored],
    }
