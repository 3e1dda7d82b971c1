"""A game's activation series and breakdowns, ``/api/v1/analytics/games/{gameId}/...``
(ARCHITECTURE.md §5): per hour or day, per region, per key type. Members of the game's studio
and platform admins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from analytics.api import access
from analytics.api import schemas as s
from analytics.api.common import PERIOD_ERRORS, invalid_query, period_of
from analytics.api.render import alternatives, negotiated
from analytics.context import analytics
from analytics.db.projection import game_title
from analytics.domain.reports import InvalidPeriod, Period
from analytics.domain.series import Granularity
from analytics.usecases import insights, series
from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import require_roles
from gamekeys_platform.db import request_session
from gamekeys_platform.openapi import error_responses

blp = Blueprint(
    "series",
    __name__,
    url_prefix="/api/v1/analytics/games",
    description="A game's activations over time and by group",
)

ROLES = ("developer", "admin", "support")
NOT_FOUND = {404: "NOT_FOUND: no such game, or not one of the caller's studios", **PERIOD_ERRORS}


@blp.route("/<uuid:game_id>/activations", methods=["GET"])
@require_roles(*ROLES)
@error_responses(NOT_FOUND)
@blp.arguments(s.SeriesQuerySchema, location="query")
@blp.response(200, s.ActivationSeriesSchema)
@blp.doc(responses=alternatives(s.ActivationSeriesSchema))
def activations(args, game_id: uuid.UUID):
    """Redemption attempts of the game per hour or per day of the time zone, by outcome; ``total``
    is the activations. Hourly series cover at most 31 days."""
    period = period_of(args)
    access.readable_game(request_session(), game_id)
    try:
        answer = series.activations(
            analytics().clickhouse, game_id, period, Granularity(args["granularity"]), args.get("keyType")
        )
    except InvalidPeriod as exc:
        raise invalid_query(exc) from None
    body = answer.to_dict()
    unit = f"per {answer.granularity.value}"
    return negotiated(
        "series", body, title=_title(game_id, f"Activations {unit}", body), name=f"activations-{game_id}"
    )


@blp.route("/<uuid:game_id>/regions", methods=["GET"])
@require_roles(*ROLES)
@error_responses(NOT_FOUND)
@blp.arguments(s.BreakdownQuerySchema, location="query")
@blp.response(200, s.RegionsSchema)
@blp.doc(responses=alternatives(s.RegionsSchema))
def regions(args, game_id: uuid.UUID):
    """Attempts and activations per region the players claimed, with each region's share of the
    activations, most activations first."""
    period = period_of(args)
    access.readable_game(request_session(), game_id)
    body = series.breakdown(analytics().clickhouse, game_id, period, "country", args.get("keyType")).to_dict()
    return negotiated(
        "regions", body, title=_title(game_id, "Activations by region", body), name=f"regions-{game_id}"
    )


@blp.route("/<uuid:game_id>/key-types", methods=["GET"])
@require_roles(*ROLES)
@error_responses(NOT_FOUND)
@blp.arguments(s.BreakdownQuerySchema, location="query")
@blp.response(200, s.KeyTypesSchema)
@blp.doc(responses=alternatives(s.KeyTypesSchema))
def key_types(args, game_id: uuid.UUID):
    """Attempts and activations per key type (retail, press, ...), with shares."""
    period = period_of(args)
    access.readable_game(request_session(), game_id)
    body = series.breakdown(analytics().clickhouse, game_id, period, "keyType", args.get("keyType")).to_dict()
    return negotiated(
        "keyTypes", body, title=_title(game_id, "Activations by key type", body), name=f"key-types-{game_id}"
    )


def _as_of(args: dict, *, default_back: int) -> tuple:
    try:
        zone_name = Period.of(None, None, args.get("tz"), now=datetime.now(UTC)).zone_name
    except InvalidPeriod as exc:
        raise invalid_query(exc) from None
    last = args.get("to") or datetime.now(ZoneInfo(zone_name)).date() - timedelta(days=default_back)
    return last, zone_name


@blp.route("/<uuid:game_id>/trends", methods=["GET"])
@require_roles(*ROLES)
@error_responses(NOT_FOUND)
@blp.arguments(s.TrendsQuerySchema, location="query")
@blp.response(200, s.TrendsSchema)
@blp.doc(responses=alternatives(s.TrendsSchema))
def trends(args, game_id: uuid.UUID):
    """Day-over-day and week-over-week change of the activations up to ``to`` (default today),
    and each of the last ``days`` days scored against the 28 before it (a robust z-score:
    spike at 3 or more, drop at -3 or less)."""
    last, zone_name = _as_of(args, default_back=0)
    try:
        period = insights.trend_period(last, args["days"], zone_name, datetime.now(UTC))
    except InvalidPeriod as exc:
        raise invalid_query(InvalidPeriod("to", str(exc))) from None
    access.readable_game(request_session(), game_id)
    body = insights.game_trends(analytics().clickhouse, game_id, period, args["days"], args.get("keyType"))
    title = _title(game_id, "Daily activations and unusual days", {**body, "to": body["asOf"]})
    return negotiated("trends", body, title=title, name=f"trends-{game_id}")


@blp.route("/<uuid:game_id>/forecast", methods=["GET"])
@require_roles(*ROLES)
@error_responses(NOT_FOUND)
@blp.arguments(s.ForecastQuerySchema, location="query")
@blp.response(200, s.ForecastSchema)
@blp.doc(responses=alternatives(s.ForecastSchema))
def forecast(args, game_id: uuid.UUID):
    """Daily activations for ``horizon`` days (at most 90) after ``to`` (default yesterday), from
    up to a year of history, with 80 % prediction intervals (statsmodels ETSModel; ``method``
    and ``methodReason`` say which and why) and a rolling-origin backtest (MASE against the
    seasonal-naive forecast, 80 % interval coverage)."""
    last, zone_name = _as_of(args, default_back=1)
    try:
        period = insights.forecast_period(last, zone_name, datetime.now(UTC))
    except InvalidPeriod as exc:
        raise invalid_query(InvalidPeriod("to", str(exc))) from None
    access.readable_game(request_session(), game_id)
    body = insights.game_forecast(
        analytics().clickhouse, game_id, period, args["horizon"], args.get("keyType")
    )
    span = {**body, "from": body["historyFrom"], "to": body["historyTo"]}
    title = _title(game_id, f"Daily activations and a {body['horizon']}-day forecast", span)
    return negotiated("forecast", body, title=title, name=f"forecast-{game_id}")


def _title(game_id: uuid.UUID, what: str, body: dict) -> str:
    game = game_title(request_session(), game_id) or str(game_id)
    span = f"{body['from']} to {body['to']}" if "from" in body else f"to {body['to']}"
    key_type = f", {body['keyType']} keys" if body.get("keyType") else ""
    return f"{what}: {game}{key_type}, {span} ({body['timezone']})"
