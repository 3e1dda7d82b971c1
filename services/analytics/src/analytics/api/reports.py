"""Public API, ``/api/v1/analytics`` (ARCHITECTURE.md §5, analytics): a game's activation report
and a summary over the caller's games."""

from __future__ import annotations

import uuid

from analytics.api import access
from analytics.api import schemas as s
from analytics.api.common import PERIOD_ERRORS, period_of
from analytics.api.render import alternatives, negotiated
from analytics.context import analytics
from analytics.usecases import reports
from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import require_roles
from gamekeys_platform.db import request_session
from gamekeys_platform.openapi import error_responses

blp = Blueprint(
    "reports", __name__, url_prefix="/api/v1/analytics", description="Activation reports of a studio's games"
)

ROLES = ("developer", "admin", "support")


@blp.route("/games/<uuid:game_id>", methods=["GET"])
@require_roles(*ROLES)
@error_responses({404: "NOT_FOUND: no such game, or not one of the caller's studios", **PERIOD_ERRORS})
@blp.arguments(s.PeriodQuerySchema, location="query")
@blp.response(200, s.ActivationReportSchema)
@blp.doc(responses=alternatives(s.ActivationReportSchema))
def game_report(args, game_id: uuid.UUID):
    """A game's activation attempts per day and per country over a period, by outcome
    (activated, failed, blocked, pending review, disputed); members of its studio and platform
    admins."""
    period = period_of(args)
    access.readable_game(request_session(), game_id)
    body = reports.activation_report(analytics().clickhouse, game_id, period).to_dict()
    title = f"Activations per day: {game_id}, {body['from']} to {body['to']} ({body['timezone']})"
    return negotiated("series", body, title=title, name=f"activations-{game_id}")


@blp.route("/summary", methods=["GET"])
@require_roles(*ROLES)
@error_responses({404: "NOT_FOUND: no such studio, or not one of the caller's", **PERIOD_ERRORS})
@blp.arguments(s.SummaryQuerySchema, location="query")
@blp.response(200, s.SummarySchema)
def summary(args):
    """Activation figures over a period for the caller's games (one studio with developerId),
    with the games that activated most; platform admins see any studio, or the whole platform."""
    period = period_of(args)
    session = request_session()
    studios = access.summary_scope(session, args.get("developerId"))
    return reports.summary(analytics().clickhouse, session, studios, period).to_dict()
