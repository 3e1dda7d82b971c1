"""Trends and forecasts of a game's daily activations (access checked by the caller)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from analytics.db.clickhouse import ClickHouse
from analytics.domain import forecast as fc
from analytics.domain.reports import Period
from analytics.domain.series import Granularity
from analytics.domain.trends import BASELINE_DAYS, trends
from analytics.usecases.series import activations

HISTORY_DAYS = 365


def trend_period(last: date, shown: int, zone_name: str, now) -> Period:
    return Period.of(last - timedelta(days=shown + BASELINE_DAYS - 1), last, zone_name, now=now)


def forecast_period(last: date, zone_name: str, now) -> Period:
    return Period.of(last - timedelta(days=HISTORY_DAYS - 1), last, zone_name, now=now)


def game_trends(ch: ClickHouse, game_id: uuid.UUID, period: Period, shown: int, key_type: str | None) -> dict:
    daily = activations(ch, game_id, period, Granularity.DAY, key_type).values()
    return {
        "gameId": game_id,
        "timezone": period.zone_name,
        "keyType": key_type,
        **trends(daily, shown),
    }


def game_forecast(
    ch: ClickHouse, game_id: uuid.UUID, period: Period, horizon: int, key_type: str | None
) -> dict:
    """Daily activations for ``horizon`` days after the period, from the period's history (its
    days before the game's first activation left out, but at least two)."""
    daily = activations(ch, game_id, period, Granularity.DAY, key_type).values()
    first_active = next((i for i, (_, value) in enumerate(daily) if value), len(daily))
    history = daily[min(first_active, len(daily) - 2) :]
    result = fc.forecast([float(value) for _, value in history], horizon)
    last_day = history[-1][0]
    return {
        "gameId": game_id,
        "timezone": period.zone_name,
        "keyType": key_type,
        "historyFrom": history[0][0].isoformat(),
        "historyTo": last_day.isoformat(),
        "horizon": horizon,
        "method": result.method.name,
        "methodReason": result.method.why,
        "interval": fc.INTERVAL,
        "history": [{"t": day.isoformat(), "activations": value} for day, value in history[-56:]],
        "series": [
            {
                "t": (last_day + timedelta(days=step + 1)).isoformat(),
                "expected": round(point.expected, 2),
                "lower": round(point.lower, 2),
                "upper": round(point.upper, 2),
            }
            for step, point in enumerate(result.points)
        ],
        "backtest": result.backtest.to_dict(),
    }
