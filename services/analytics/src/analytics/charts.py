"""Charts and CSV of the series answers (``Accept: image/png`` / ``text/csv``), from the same
dicts the JSON answers are made of.

Charts are drawn with matplotlib's Agg backend on a ``Figure`` of their own (no pyplot: no
global state shared between request threads), with a title naming the game, the period and the
time zone, labelled axes with their units, and prediction intervals shaded.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, datetime

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

COUNT_FIELDS = ("attempts", "activations", "failed", "blocked", "pendingReview", "disputed")
TOP_GROUPS = 15


# --- CSV -----------------------------------------------------------------------------------------


def to_csv(kind: str, body: dict) -> str:
    header, rows = _table(kind, body)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _table(kind: str, body: dict) -> tuple[list[str], Iterable[list]]:
    zone = body["timezone"]
    if kind == "series":
        return ["t", "timezone", *COUNT_FIELDS], (
            [p["t"], zone, *(p[f] for f in COUNT_FIELDS)] for p in body["series"]
        )
    if kind in ("regions", "keyTypes"):
        name = "country" if kind == "regions" else "keyType"
        return [name, *COUNT_FIELDS, "share", "from", "to", "timezone"], (
            [i[name] or "", *(i[f] for f in COUNT_FIELDS), i["share"], body["from"], body["to"], zone]
            for i in body["items"]
        )
    if kind == "trends":
        return ["t", "timezone", "activations", "expected", "zScore", "flag"], (
            [p["t"], zone, p["activations"], _blank(p["expected"]), _blank(p["zScore"]), p["flag"] or ""]
            for p in body["series"]
        )
    if kind == "forecast":
        history = ([p["t"], zone, "history", p["activations"], "", "", ""] for p in body["history"])
        future = (
            [p["t"], zone, "forecast", "", p["expected"], p["lower"], p["upper"]] for p in body["series"]
        )
        return ["t", "timezone", "kind", "activations", "expected", "lower80", "upper80"], [*history, *future]
    raise ValueError(kind)


def _blank(value) -> object:
    return "" if value is None else value


# --- PNG -----------------------------------------------------------------------------------------


def to_png(kind: str, body: dict, *, title: str) -> bytes:
    figure = Figure(figsize=(10, 5), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    draw = {
        "series": _series,
        "regions": _groups,
        "keyTypes": _groups,
        "trends": _trends,
        "forecast": _forecast,
    }
    draw[kind](axes, body, kind)
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    out = io.BytesIO()
    FigureCanvasAgg(figure).print_png(out)
    return out.getvalue()


def _x(values: list) -> list[datetime | date]:
    """Points' ``t``: a date, an ISO day, or an ISO instant with its offset."""
    return [
        v if isinstance(v, date) else datetime.fromisoformat(v) if "T" in v else date.fromisoformat(v)
        for v in values
    ]


def _series(axes, body: dict, _kind: str) -> None:
    x = _x([p["t"] for p in body["series"]])
    unit = "hour" if body["granularity"] == "hour" else "day"
    axes.plot(x, [p["activations"] for p in body["series"]], label="activations", color="tab:blue")
    axes.plot(x, [p["failed"] for p in body["series"]], label="failed", color="tab:orange")
    axes.plot(x, [p["blocked"] for p in body["series"]], label="blocked", color="tab:red")
    axes.set_xlabel(f"{unit} ({body['timezone']})")
    axes.set_ylabel(f"redemption attempts per {unit}")
    axes.set_ylim(bottom=0)
    axes.legend()
    axes.figure.autofmt_xdate()


def _groups(axes, body: dict, kind: str) -> None:
    name = "country" if kind == "regions" else "keyType"
    items = body["items"][:TOP_GROUPS][::-1]
    labels = [item[name] or "(none)" for item in items]
    axes.barh(labels, [item["activations"] for item in items], color="tab:blue")
    for index, item in enumerate(items):
        axes.annotate(
            f"{float(item['share']) * 100:.1f} %", (item["activations"], index), xytext=(3, 0),
            textcoords="offset points", va="center",
        )  # fmt: skip
    axes.set_xlabel(f"activations, {body['from']} to {body['to']} ({body['timezone']})")
    axes.set_ylabel("claimed region" if kind == "regions" else "key type")


def _trends(axes, body: dict, _kind: str) -> None:
    x = _x([p["t"] for p in body["series"]])
    axes.plot(
        x, [p["activations"] for p in body["series"]], label="activations", color="tab:blue", marker="."
    )
    axes.plot(
        x, [p["expected"] for p in body["series"]], label=f"median of the {body['baselineDays']} days before",
        color="tab:gray", linestyle="--",
    )  # fmt: skip
    for flag, color in (("spike", "tab:red"), ("drop", "tab:purple")):
        points = [
            (day, p["activations"]) for day, p in zip(x, body["series"], strict=True) if p["flag"] == flag
        ]
        if points:
            axes.scatter(
                *zip(*points, strict=True),
                color=color,
                zorder=3,
                s=60,
                label=f"{flag} (|z| ≥ {body['flagAt']:g})",
            )
    axes.set_xlabel(f"day ({body['timezone']})")
    axes.set_ylabel("activations per day")
    axes.set_ylim(bottom=0)
    axes.legend()
    axes.figure.autofmt_xdate()


def _forecast(axes, body: dict, _kind: str) -> None:
    history_x = _x([p["t"] for p in body["history"]])
    future_x = _x([p["t"] for p in body["series"]])
    axes.plot(history_x, [p["activations"] for p in body["history"]], label="activations", color="tab:blue")
    axes.plot(
        future_x,
        [p["expected"] for p in body["series"]],
        label=f"forecast, {body['method']}",
        color="tab:green",
    )
    axes.fill_between(
        future_x, [p["lower"] for p in body["series"]], [p["upper"] for p in body["series"]],
        color="tab:green", alpha=0.2, label=f"{body['interval'] * 100:.0f} % prediction interval",
    )  # fmt: skip
    backtest = body["backtest"]
    if backtest["mase"] is not None:
        axes.text(
            0.01, 0.01,
            f"backtest: MASE {backtest['mase']:.2f} (seasonal-naive {backtest['seasonalNaiveMase']:.2f}), "
            f"80 % coverage {backtest['coverage80'] * 100:.0f} % over {backtest['points']} days",
            transform=axes.transAxes, va="bottom", fontsize=9,
        )  # fmt: skip
    axes.set_xlabel(f"day ({body['timezone']})")
    axes.set_ylabel("activations per day")
    axes.set_ylim(bottom=0)
    axes.legend(loc="best")
    axes.figure.autofmt_xdate()
