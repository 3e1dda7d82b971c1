"""Fraud statistics for platform staff, ``GET /api/v1/analytics/fraud/statistics``."""

from __future__ import annotations

from analytics.api import access
from analytics.api import schemas as s
from analytics.api.common import PERIOD_ERRORS, period_of
from analytics.context import analytics
from analytics.usecases import fraud
from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import require_roles
from gamekeys_platform.openapi import error_responses

blp = Blueprint("fraud", __name__, url_prefix="/api/v1/analytics/fraud", description="Fraud statistics")


@blp.route("/statistics", methods=["GET"])
@require_roles("admin", "support")
@error_responses(PERIOD_ERRORS)
@blp.arguments(s.PeriodQuerySchema, location="query")
@blp.response(200, s.FraudStatisticsSchema)
def statistics(args):
    """Assessments by verdict and by rule (blocked, review, allowed; shadow rules beside), cases
    opened and decided with the false-positive rate (approved / decided, per rule too), and the
    most frequent case reasons and refusal codes, over a period (platform admins and support)."""
    period = period_of(args)
    access.platform_staff()
    return fraud.statistics(analytics().clickhouse, period)
