"""Read-only views over assessments, cases and blocks: a user's suspicious activity and the
fraud statistics of a period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from antifraud.api import schemas as s
from antifraud.api.common import PREFIX, REVIEWERS, check_period
from antifraud.context import antifraud
from antifraud.db import repository as repo
from antifraud.domain.patterns import PastAssessment, suspicious_patterns
from antifraud.domain.rules import ACTIONS
from antifraud.domain.scoring import LEVELS
from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import require_roles
from gamekeys_platform.db import request_session
from gamekeys_platform.errors import format_optional_timestamp as ts

blp = Blueprint(
    "insights", __name__, url_prefix=PREFIX, description="Fraud statistics and users' suspicious activity"
)

CASE_STATUSES = ("open", "approved", "rejected")


@blp.route("/users/<uuid:user_id>/suspicious-activity", methods=["GET"])
@require_roles(*REVIEWERS)
@blp.arguments(s.PeriodQuerySchema, location="query")
@blp.response(200, s.SuspiciousActivitySchema)
def suspicious_activity(query, user_id):
    """Patterns in the user's assessment history (detectSuspiciousPatterns), default last 30 days."""
    af, session = antifraud(), request_session()
    since = query["start"] or datetime.now(UTC) - timedelta(days=30)
    rows = repo.user_assessments(session, user_id, since)
    history = [PastAssessment(str(r.id), r.created_at, r.score, r.action, r.rules_hit) for r in rows]
    descriptions = {rule.id: rule.description for rule in af.rules.current(session).rules}
    patterns = suspicious_patterns(history, descriptions)
    for pattern in patterns:
        pattern["firstSeen"], pattern["lastSeen"] = ts(pattern["firstSeen"]), ts(pattern["lastSeen"])
    return {
        "userId": user_id,
        "patterns": patterns,
        "assessments": len(history),
        "nonAllowed": sum(1 for item in history if item.action != "ALLOW"),
        "activeBlocks": [
            {"blockId": str(b.id), "reason": b.reason, "expiresAt": ts(b.expires_at)}
            for b in repo.user_blocks(session, user_id)
        ],
    }


@blp.route("/statistics", methods=["GET"])
@require_roles(*REVIEWERS)
@blp.arguments(s.PeriodQuerySchema, location="query")
@blp.response(200, s.StatisticsSchema)
def statistics(query):
    """Assessments by level and action, block and review rates, top rules (getFraudStatistics);
    default period: the last 24 hours."""
    end = query["end"] or datetime.now(UTC)
    start = query["start"] or end - timedelta(days=1)
    check_period(start, end, "query")
    stats = repo.statistics(request_session(), start, end)
    total = sum(stats["by_action"].values())
    return {
        "start": ts(start),
        "end": ts(end),
        "totalAssessments": total,
        "byRiskLevel": {level: stats["by_level"].get(level, 0) for level in LEVELS},
        "byAction": {action: stats["by_action"].get(action, 0) for action in ACTIONS},
        "blockRate": round(stats["by_action"].get("BLOCK", 0) / total, 4) if total else 0.0,
        "reviewRate": round(stats["by_action"].get("REVIEW", 0) / total, 4) if total else 0.0,
        "topRules": [{"ruleId": r, "hits": n} for r, shadow, n in stats["rules"] if not shadow][:10],
        "topShadowRules": [{"ruleId": r, "hits": n} for r, shadow, n in stats["rules"] if shadow][:10],
        "cases": {status: stats["cases"].get(status, 0) for status in CASE_STATUSES},
        "activeBlocks": stats["active_blocks"],
    }
