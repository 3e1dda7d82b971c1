"""``POST /analyze``: score one activation (the seed's analyzeActivation)."""

from __future__ import annotations

from typing import Any

from antifraud.api import schemas as s
from antifraud.api.common import ANALYZE_SCOPE, PREFIX
from antifraud.context import antifraud
from antifraud.usecases import Assessment, assess
from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import require_scopes
from gamekeys_platform.db import request_session
from gamekeys_platform.idempotency import idempotent

blp = Blueprint("analyze", __name__, url_prefix=PREFIX, description="Fraud scoring of an activation")


def fraud_score(assessment: Assessment) -> dict[str, Any]:
    """The seed's FraudScore, with the assessment's id, the rules hit and the case opened."""
    decision = assessment.decision
    return {
        "assessmentId": assessment.assessment_id,
        "score": decision.score,
        "riskLevel": decision.risk_level,
        "reasons": decision.reasons,
        "recommendedAction": decision.action,
        "rulesHit": decision.rules_hit,
        "ruleSetVersion": assessment.rule_set_version,
        "degraded": assessment.degraded,
        "caseId": assessment.case_id,
    }


@blp.route("/analyze", methods=["POST"])
@require_scopes(ANALYZE_SCOPE)
@idempotent
@blp.arguments(s.AnalyzeRequestSchema)
@blp.response(200, s.FraudScoreSchema)
def analyze(body):
    """Score one activation (analyzeActivation): features from Redis, then the rules in force."""
    return fraud_score(assess(antifraud(), request_session(), body))
