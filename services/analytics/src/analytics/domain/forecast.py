"""Forecasts of daily activations with honest intervals, plain Python over a list of counts.

The model is statsmodels' ``ETSModel`` (exponential smoothing as a state-space model, whose
forecasts carry prediction intervals; Holt-Winters' ``ExponentialSmoothing`` has none):

- ETS(A,N,A), additive error and weekly seasonality, when the history holds at least
  ``SEASONAL_MIN_DAYS`` days (three weeks: a seasonal model fitted on fewer full weeks has
  as many seasonal states as observations per state, and overfits);
- ETS(A,N,N), simple exponential smoothing, on shorter histories;
- the mean with a normal interval from the sample deviation below ``ETS_MIN_DAYS``, where
  fitting any smoothing parameter is guesswork.

No trend component: a game's activations rise at launch and decay, and a linear trend
extrapolated over 90 days runs away (below zero, or far above); the level adapts instead.
Every answer carries a rolling-origin backtest: the model is refitted at successive origins
over the last weeks of the history, and its forecasts are scored against what happened, by
MASE (the mean absolute error scaled by the in-sample error of the seasonal-naive forecast,
"same day last week"; below 1 beats it) beside the seasonal-naive forecast's own MASE over the
same points, and by how often the 80 % interval covered the truth.
"""

from __future__ import annotations

import math
import statistics
import warnings
from dataclasses import dataclass, field

import numpy as np

MAX_HORIZON = 90
SEASON = 7
SEASONAL_MIN_DAYS = 3 * SEASON
ETS_MIN_DAYS = 10
INTERVAL = 0.8
# The backtest: up to this many origins, a week apart, each forecasting this many days.
BACKTEST_ORIGINS = 4
BACKTEST_HORIZON = 7
_Z80 = 1.2815515655446004  # the normal quantile of 0.9


class NotEnoughHistory(ValueError):
    """Fewer days of history than any forecast needs."""


@dataclass(frozen=True)
class Point:
    expected: float
    lower: float
    upper: float


@dataclass(frozen=True)
class Method:
    name: str  # "ETS(A,N,A)", "ETS(A,N,N)" or "mean"
    seasonal: bool
    why: str


@dataclass
class Backtest:
    origins: int = 0
    horizon: int = 0
    points: int = 0
    mase: float | None = None
    seasonal_naive_mase: float | None = None
    coverage: float | None = None
    why: str = ""

    def to_dict(self) -> dict:
        return {
            "origins": self.origins,
            "horizon": self.horizon,
            "points": self.points,
            "mase": _round(self.mase),
            "seasonalNaiveMase": _round(self.seasonal_naive_mase),
            "coverage80": _round(self.coverage),
            "note": self.why,
        }


@dataclass
class Forecast:
    method: Method
    points: list[Point]
    backtest: Backtest = field(default_factory=Backtest)


def choose_method(days: int) -> Method:
    if days >= SEASONAL_MIN_DAYS:
        return Method(
            "ETS(A,N,A)",
            True,
            f"{days} days of history (at least {SEASONAL_MIN_DAYS}): additive level and weekly seasonality",
        )
    if days >= ETS_MIN_DAYS:
        return Method(
            "ETS(A,N,N)",
            False,
            f"{days} days of history, fewer than {SEASONAL_MIN_DAYS} for weekly seasonality: level only",
        )
    if days >= 2:
        return Method(
            "mean", False, f"{days} days of history, fewer than {ETS_MIN_DAYS} to fit a model: the mean"
        )
    raise NotEnoughHistory("a forecast needs at least 2 days of history")


def predict(history: list[float], horizon: int, method: Method | None = None) -> list[Point]:
    """``horizon`` days after ``history``, each with its 80 % prediction interval (never below 0)."""
    method = method or choose_method(len(history))
    values = np.asarray(history, dtype=float)
    if method.name == "mean":
        spread = statistics.stdev(history) if len(history) > 1 else 0.0
        centre = float(values.mean())
        half = _Z80 * spread * math.sqrt(1 + 1 / len(history))
        return [_point(centre, centre - half, centre + half)] * horizon
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel  # heavy import, only when used

    if values.std() == 0:  # a constant series: the model has nothing to fit (and would divide by 0)
        return [_point(values[-1], values[-1], values[-1])] * horizon
    import pandas as pd

    model = ETSModel(
        pd.Series(values),
        error="add",
        trend=None,
        seasonal="add" if method.seasonal else None,
        seasonal_periods=SEASON if method.seasonal else None,
        initialization_method="estimated",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on short or flat series
        fitted = model.fit(disp=False, maxiter=200)
        frame = fitted.get_prediction(start=len(values), end=len(values) + horizon - 1).summary_frame(
            alpha=1 - INTERVAL
        )
    return [_point(row["mean"], row["pi_lower"], row["pi_upper"]) for _, row in frame.iterrows()]


def forecast(history: list[float], horizon: int) -> Forecast:
    if not 1 <= horizon <= MAX_HORIZON:
        raise ValueError(f"horizon must be 1..{MAX_HORIZON}")
    method = choose_method(len(history))
    return Forecast(method, predict(history, horizon, method), backtest(history, method))


def backtest(history: list[float], method: Method) -> Backtest:
    """Rolling origin: at each origin (a week apart, the last one ``BACKTEST_HORIZON`` days
    before the end) the model chosen for that much history is fitted on what came before and
    forecasts the next ``BACKTEST_HORIZON`` days."""
    n = len(history)
    minimum_train = max(SEASONAL_MIN_DAYS if method.seasonal else ETS_MIN_DAYS, SEASON + 1)
    origins = [n - BACKTEST_HORIZON - SEASON * k for k in range(BACKTEST_ORIGINS)]
    origins = sorted(origin for origin in origins if origin >= minimum_train)
    scale = _seasonal_naive_scale(history)
    if not origins:
        return Backtest(why=f"needs at least {minimum_train + BACKTEST_HORIZON} days of history")
    if scale is None:
        return Backtest(why="'same day last week' is exact on this history: MASE is undefined")
    errors, naive_errors, covered = [], [], 0
    for origin in origins:
        train, truth = history[:origin], history[origin : origin + BACKTEST_HORIZON]
        for step, (point, actual) in enumerate(zip(predict(train, len(truth), method), truth, strict=True)):
            errors.append(abs(point.expected - actual))
            naive_errors.append(abs(train[origin - SEASON + step % SEASON] - actual))
            covered += point.lower <= actual <= point.upper
    return Backtest(
        origins=len(origins),
        horizon=BACKTEST_HORIZON,
        points=len(errors),
        mase=statistics.fmean(errors) / scale,
        seasonal_naive_mase=statistics.fmean(naive_errors) / scale,
        coverage=covered / len(errors),
        why="MASE scaled by the in-sample mean absolute error of 'same day last week'; below 1 beats it",
    )


def _seasonal_naive_scale(history: list[float]) -> float | None:
    if len(history) <= SEASON:
        return None
    scale = statistics.fmean(abs(history[i] - history[i - SEASON]) for i in range(SEASON, len(history)))
    return scale or None


def _point(expected: float, lower: float, upper: float) -> Point:
    return Point(max(0.0, float(expected)), max(0.0, float(lower)), max(0.0, float(upper)))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
