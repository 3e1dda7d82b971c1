"""A game's activation series and breakdowns, ``/api/v1/analytics/games/{gameId}/...``
(ARCHITECTURE.md §5): per hour or day, per region, per key type. Members of the game's studio
and platform admins."""

from __future__ import annotations

import uuid

from analytics.api import access
from analytics.api import schemas as s
from analytics.api.common import PERIOD_ERRORS, invalid_query, period_of
from analytics.context import analytics
from analytics.domain.reports import InvalidPeriod
from analytics.domain.series import Granularity
from analytics.usecases import series
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
    return answer.to_dict()


@blp.route("/<uuid:game_id>/regions", methods=["GET"])
@require_roles(*ROLES)
@error_responses(NOT_FOUND)
@blp.arguments(s.BreakdownQuerySchema, location="query")
@blp.response(200, s.RegionsSchema)
def regions(args, game_id: uuid.UUID):
    """Attempts and activations per region the players claimed, with each region's share of the
    activations, most activations first."""
    period = period_of(args)
    access.readable_game(request_session(), game_id)
    return series.breakdown(analytics().clickhouse, game_id, period, "country", args.get("keyType")).to_dict()


@blp.route("/<uuid:game_id>/key-types", methods=["GET"])
@require_roles(*ROLES)
@error_responses(NOT_FOUND)
@blp.arguments(s.BreakdownQuerySchema, location="query")
@blp.response(200, s.KeyTypesSchema)
def key_types(args, game_id: uuid.UUID):
    """Attempts and activations per key type (retail, press, ...), with shares."""
    period = period_of(args)
    access.readable_game(request_session(), game_id)
    return series.breakdown(analytics().clickhouse, game_id, period, "keyType", args.get("keyType")).to_dict()
