"""Batch and retailer performance, ``/api/v1/analytics/batches/{id}/performance`` and
``/retailers/{id}/performance`` (ARCHITECTURE.md §5): keys by state, activation rate, median
hours from sale to activation, returns."""

from __future__ import annotations

import uuid

from analytics.api import access
from analytics.api import schemas as s
from analytics.context import analytics
from analytics.db import funnels as store
from analytics.usecases import funnels
from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import require_roles
from gamekeys_platform.db import request_session
from gamekeys_platform.errors import ApiError
from gamekeys_platform.openapi import error_responses

blp = Blueprint("funnels", __name__, url_prefix="/api/v1/analytics", description="Batch and retailer funnels")

ROLES = ("developer", "admin", "support")


@blp.route("/batches/<uuid:batch_id>/performance", methods=["GET"])
@require_roles(*ROLES)
@error_responses({404: "NOT_FOUND: no such batch, or not of the caller's studios"})
@blp.response(200, s.BatchPerformanceSchema)
def batch_performance(batch_id: uuid.UUID):
    """How the batch's keys fared: generated, allocated, sold, activated, revoked, expired,
    returned, charged back; activated / generated; median hours from sale to activation.
    Members of the game's studio and platform admins."""
    not_found = ApiError("NOT_FOUND", "batch not found", {"batchId": str(batch_id)})
    ch = analytics().clickhouse
    info = store.batch_info(ch, batch_id)
    if info is None:
        raise not_found
    access.readable_game(request_session(), info.game_id, not_found)
    return funnels.batch(ch, info)


@blp.route("/retailers/<uuid:retailer_id>/performance", methods=["GET"])
@require_roles(*ROLES)
@error_responses({404: "NOT_FOUND: no such retailer, or it sold none of the caller's games' keys"})
@blp.response(200, s.RetailerPerformanceSchema)
def retailer_performance(retailer_id: uuid.UUID):
    """How the keys allocated to a retailer fared: allocated, sold, activated, revoked, returned,
    charged back; activated / sold; median hours from sale to activation. Platform admins see
    every game; a studio's members see the figures of their own games' keys only."""
    games = access.retailer_games(request_session())
    answer = funnels.retailer(analytics().clickhouse, retailer_id, games)
    if answer is None:
        raise ApiError("NOT_FOUND", "retailer not found", {"retailerId": str(retailer_id)})
    return answer
