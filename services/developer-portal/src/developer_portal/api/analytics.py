"""Analytics for studios: activation reports answered by the analytics service's internal API
(every member of the studio reads them; platform admins with ``developerId``)."""

from __future__ import annotations

from developer_portal.api import access
from developer_portal.api.blueprints import public
from developer_portal.api.schemas import AnalyticsQuerySchema, StudioAnalyticsQuerySchema
from developer_portal.context import portal
from developer_portal.db import repository
from developer_portal.domain.permissions import Action
from gamekeys_platform.db import request_session
from gamekeys_platform.openapi import error_responses

_UPSTREAM = {
    502: "EXTERNAL_SERVICE_ERROR: analytics failed",
    503: "SERVICE_UNAVAILABLE: analytics is unreachable or not configured; retry after Retry-After",
}
REPORTS_MAX_GAMES = 50


def _period(query) -> dict[str, str]:
    """The period as analytics' query parameters (what the caller left out, analytics defaults)."""
    wire = {"from": query["since"], "to": query["until"], "tz": query["tz"]}
    return {name: value for name, value in wire.items() if value is not None}


@public.route("/analytics/summary", methods=["GET"])
@error_responses({**access.NO_STUDIO, **_UPSTREAM})
@access.require_user
@public.arguments(StudioAnalyticsQuerySchema, location="query")
@public.response(200, description="analytics' report, as its API documents it")
def analytics_summary(query):
    """The studio's activations over a period: totals, keys generated, its top games."""
    studio = access.studio_to_read(query["developerId"], Action.ANALYTICS_READ)
    return portal().analytics.summary(studio.developer.developer_id, _period(query))


@public.route("/analytics/games/<uuid:game_id>", methods=["GET"])
@error_responses(_UPSTREAM)
@access.require_user
@public.arguments(AnalyticsQuerySchema, location="query")
@public.response(200, description="analytics' report, as its API documents it")
def analytics_game(query, game_id):
    """One game's activation report: per day and per country, by outcome."""
    game = access.game(game_id, Action.ANALYTICS_READ).game
    return portal().analytics.game_report(game.developer_id, game_id, _period(query))


@public.route("/analytics/reports", methods=["GET"])
@error_responses({**access.NO_STUDIO, **_UPSTREAM})
@access.require_user
@public.arguments(StudioAnalyticsQuerySchema, location="query")
@public.response(200, description="analytics' report, as its API documents it")
def analytics_reports(query):
    """The studio's summary and the activation report of each of its games (its 50 newest) over
    one period: what a studio exports at the end of a month."""
    developer_id = access.studio_to_read(query["developerId"], Action.ANALYTICS_READ).developer.developer_id
    period = _period(query)
    analytics = portal().analytics
    games = repository.list_games(
        request_session(), developer_id=developer_id, status=None, after=None, limit=REPORTS_MAX_GAMES
    ).rows
    return {
        "summary": analytics.summary(developer_id, period),
        "games": [analytics.game_report(developer_id, game.game_id, period) for game in games],
    }
