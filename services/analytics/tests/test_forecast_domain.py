"""Forecasts and trends on synthetic series with known seasonality: the model chosen for the
history, intervals covering held-out truth at about their nominal 80 %, a backtest that beats
the seasonal-naive forecast, spikes and drops flagged."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from analytics.domain.forecast import INTERVAL, choose_method, forecast, predict
from analytics.domain.trends import trends

WEEK = np.array([10, 12, 11, 13, 20, 35, 30.0])  # a weekend bump


def weekly(days: int, seed: int, noise: float = 3.0) -> list[float]:
    rng = np.random.default_rng(seed)
    return [float(WEEK[i % 7] + rng.normal(0, noise)) for i in range(days)]


def test_the_model_follows_the_history():
    assert choose_method(21).name == "ETS(A,N,A)" and choose_method(21).seasonal
    assert choose_method(20).name == "ETS(A,N,N)"
    assert choose_method(5).name == "mean"


def test_the_80_percent_interval_covers_held_out_truth_at_about_its_nominal_rate():
    covered = []
    for seed in range(6):
        series = weekly(84 + 28, seed)
        points = predict(series[:84], 28)
        covered += [p.lower <= actual <= p.upper for p, actual in zip(points, series[84:], strict=True)]
    coverage = sum(covered) / len(covered)
    assert abs(coverage - INTERVAL) <= 0.1, coverage  # 168 points: ±0.1 is about 3 standard errors


def test_the_forecast_keeps_the_weekly_shape_and_the_backtest_beats_seasonal_naive():
    result = forecast(weekly(120, seed=42), 14)
    assert result.method.name == "ETS(A,N,A)" and len(result.points) == 14
    expected = [p.expected for p in result.points[:7]]
    # 120 days end on a day with index 119 (119 % 7 == 0): the next day is index 1 of the week
    peak = int(np.argmax(expected))
    assert (peak + 120) % 7 == 5  # the weekend peak lands on its weekday
    assert all(p.lower <= p.expected <= p.upper for p in result.points)
    bt = result.backtest
    assert bt.origins == 4 and bt.points == 28
    assert bt.mase < bt.seasonal_naive_mase  # smoothing beats "same day last week" on noisy data
    assert 0.5 <= bt.coverage <= 1.0


def test_a_short_history_gets_a_level_model_and_intervals_never_below_zero():
    result = forecast([0, 1, 0, 2, 0, 0, 1, 0, 3, 1, 0, 1], 30)
    assert result.method.name == "ETS(A,N,N)" and "fewer than 21" in result.method.why
    assert all(p.lower >= 0 for p in result.points)
    assert result.backtest.origins == 0 and result.backtest.mase is None


@pytest.mark.parametrize("horizon", [0, 91])
def test_the_horizon_is_bounded(horizon):
    with pytest.raises(ValueError, match="horizon"):
        forecast([1.0, 2.0, 3.0], horizon)


def test_trends_flag_a_spike_and_a_drop_with_their_scores():
    start = date(2026, 3, 1)
    values = [10, 11, 9, 10, 12, 10, 9] * 6
    values[-8] = 40  # a spike
    values[-1] = 0  # a drop
    days = [(start + timedelta(days=i), v) for i, v in enumerate(values)]
    body = trends(days, 14)
    flags = {a["t"]: (a["flag"], a["zScore"]) for a in body["anomalies"]}
    assert flags[days[-8][0].isoformat()][0] == "spike" and flags[days[-8][0].isoformat()][1] > 3
    assert body["latest"]["flag"] == "drop" and body["latest"]["zScore"] <= -3
    assert body["dayOverDay"] == {"current": 0, "previous": 10, "change": -10, "changePercent": "-100.0"}
    assert body["weekOverWeek"]["previous"] == sum(values[-14:-7]) and len(body["series"]) == 14
