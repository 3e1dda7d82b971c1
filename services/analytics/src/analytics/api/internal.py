"""Internal API for developer-portal's ``/api/v1/developer/analytics/*`` routes,
``/internal/v1/analytics`` (service tokens with scope ``analytics:read``; the gateway never routes
it). developer-portal checks its user's studio and role; this service answers for the studio it
names, and only for games that studio owns."""

from __future__ import annotations

import uuid

from analytics.api import schemas as s
from analytics.api.access import studio_not_found
from analytics.api.common import PERIOD_ERRORS, game_not_found, period_of
from analytics.context import analytics
from analytics.db import projection as reads
from analytics.db.tables import studio_projection as projection
from analytics.usecases import reports
from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import require_scopes
from gamekeys_platform.db import request_session
from gamekeys_platform.openapi import error_responses

SCOPE_READ = "analytics:read"

blp = Blueprint(
    "internal-analytics",
    __name__,
    url_prefix="/internal/v1/analytics/developers/<uuid:developer_id>",
    description="A studio's figures, for developer-portal (scope analytics:read)",
)


@blp.route("/games/<uuid:game_id>", methods=["GET"])
@require_scopes(SCOPE_READ)
@error_responses({404: "NOT_FOUND: no such game of this studio", **PERIOD_ERRORS})
@blp.arguments(s.PeriodQuerySchema, location="query")
@blp.response(200, s.ActivationReportSchema)
def studio_game_report(args, developer_id: uuid.UUID, game_id: uuid.UUID):
    """The activation report of one of the studio's games (as ``GET /api/v1/analytics/games/{gameId}``)."""
    period = period_of(args)
    owner = projection.game_owner(request_session(), game_id)
    if owner is None or owner.deleted or owner.developer_id != developer_id:
        raise game_not_found(game_id)
    return reports.activation_report(analytics().clickhouse, game_id, period).to_dict()


@blp.route("/summary", methods=["GET"])
@require_scopes(SCOPE_READ)
@error_responses({404: "NOT_FOUND: no such studio", **PERIOD_ERRORS})
@blp.arguments(s.PeriodQuerySchema, location="query")
@blp.response(200, s.SummarySchema)
def studio_summary(args, developer_id: uuid.UUID):
    """The studio's summary (as ``GET /api/v1/analytics/summary?developerId=``)."""
    period = period_of(args)
    session = request_session()
    if not reads.studio_exists(session, developer_id):
        raise studio_not_found(developer_id)
    return reports.summary(analytics().clickhouse, session, [developer_id], period).to_dict()
