"""Analytics for studios: the studio's summary, one game's activation report, and the reports of
all its games for a period, answered by the analytics service's internal API for the studio
(never its database). Every member of the studio reads them, whatever their team role; platform
admins read any studio with ``developerId`` (and any game); strangers get 404. The period
(``from``, ``to``, ``tz``) goes to analytics as given, and its refusal of one comes back as ours
(422). analytics unreachable, slow or still catching up is 503 with Retry-After, failing 502
(``developer_portal.analytics_client``)."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

import marshmallow as ma

from developer_portal.analytics_client import unexpected_answer
from developer_portal.api import access
from developer_portal.api.blueprints import public
from developer_portal.api.schemas import (
    AnalyticsPeriodQuerySchema,
    AnalyticsReportsQuerySchema,
    AnalyticsReportsSchema,
    AnalyticsStudioQuerySchema,
    AnalyticsSummarySchema,
    GameActivationReportSchema,
)
from developer_portal.context import portal
from developer_portal.db import repository
from developer_portal.domain.permissions import Action
from gamekeys_platform.db import request_session
from gamekeys_platform.openapi import error_responses
from gamekeys_platform.pagination import decode_cursor, encode_cursor

log = logging.getLogger("developer_portal.api.analytics")

_PERIOD_REFUSED = {
    422: "VALIDATION_ERROR: from, to or tz cannot make a period (to before from, more than 366 days, "
    "an unknown time zone; details.fields.query names it)"
}
_STUDIO_ERRORS = {
    404: "NOT_FOUND: the caller has no studio yet, or developerId names none the caller may read",
    **_PERIOD_REFUSED,
}


def _period(query: dict) -> dict[str, str]:
    """The query's period as analytics takes it; what the caller left out analytics defaults."""
    given = {"from": query["from_"], "to": query["to"], "tz": query["tz"]}
    return {name: str(value) for name, value in given.items() if value is not None}


def _release_connection() -> None:
    # Everything the portal itself needed is read: the connection goes back to the pool instead
    # of idling in a transaction while analytics computes (seconds, for a year of days).
    request_session().close()


def _checked(schema: type[ma.Schema], body: dict[str, Any]) -> dict[str, Any]:
    try:
        return schema().load(body)
    except ma.ValidationError as exc:
        log.error("analytics answered in an unexpected shape: %s", sorted(exc.messages))
        raise unexpected_answer(200) from None


@public.route("/analytics/summary", methods=["GET"])
@error_responses(_STUDIO_ERRORS)
@access.require_user
@public.arguments(AnalyticsStudioQuerySchema, location="query")
@public.response(200, AnalyticsSummarySchema)
def analytics_summary(query):
    """The studio's activations over a period: totals, keys generated and its top 10 games."""
    developer_id = access.studio_to_read(query["developerId"], Action.ANALYTICS_READ).developer.developer_id
    _release_connection()
    return _checked(AnalyticsSummarySchema, portal().analytics.summary(developer_id, _period(query)))


@public.route("/analytics/games/<uuid:game_id>", methods=["GET"])
@error_responses(_PERIOD_REFUSED)
@access.require_user
@public.arguments(AnalyticsPeriodQuerySchema, location="query")
@public.response(200, GameActivationReportSchema)
def analytics_game(query, game_id):
    """One game's activation report over a period: totals, every day, and by country."""
    developer_id = access.game(game_id, Action.ANALYTICS_READ).game.developer_id
    _release_connection()
    report = portal().analytics.game_report(developer_id, game_id, _period(query))
    return _checked(GameActivationReportSchema, report)


@public.route("/analytics/reports", methods=["GET"])
@error_responses(_STUDIO_ERRORS)
@access.require_user
@public.arguments(AnalyticsReportsQuerySchema, location="query")
@public.response(200, AnalyticsReportsSchema)
def analytics_reports(query):
    """The studio's reports for a period: its summary's totals and, a page of games at a time
    (newest game first), each game's activation report. Pass ``from`` and ``to`` with every page:
    the default period ends today, which may change between pages."""
    developer_id = access.studio_to_read(query["developerId"], Action.ANALYTICS_READ).developer.developer_id
    page = repository.list_games(
        request_session(),
        developer_id=developer_id,
        status=None,
        after=decode_cursor(query["cursor"], (datetime, uuid.UUID)),
        limit=query["limit"],
    )
    _release_connection()
    analytics = portal().analytics
    summary = _checked(AnalyticsSummarySchema, analytics.summary(developer_id, _period(query)))
    # Every game's report over the period the summary resolved, so defaults (today, UTC) cannot
    # drift between the calls of one page.
    period = {"from": summary["from"].isoformat(), "to": summary["to"].isoformat(), "tz": summary["timezone"]}
    items = []
    for game in page.rows:
        answer = analytics.game_report(developer_id, game.game_id, period)
        report = _checked(GameActivationReportSchema, answer)
        items.append({**report, "title": game.title, "status": game.status})
    last = page.rows[-1] if page.rows else None
    return {
        "developerId": developer_id,
        "from": summary["from"],
        "to": summary["to"],
        "timezone": summary["timezone"],
        "games": summary["games"],
        "keysGenerated": summary["keysGenerated"],
        "totals": summary["totals"],
        "items": items,
        "nextCursor": encode_cursor([last.created_at, last.game_id]) if page.has_more and last else None,
    }
