"""Scoring one activation (the seed's analyzeActivation)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import redis
from prometheus_client import Counter
from sqlalchemy.orm import Session

from antifraud import events
from antifraud.db import repository as repo
from antifraud.domain import features as feat
from antifraud.domain.scoring import Decision, decide
from antifraud.velocity import Observation

if TYPE_CHECKING:
    from antifraud.context import Antifraud

log = logging.getLogger("antifraud.analysis")

# The fraud decisions dashboard (helm chart) reads it; counted as decided, before the commit.
ASSESSMENTS = Counter(
    "antifraud_assessments_total",
    "Assessments by action and risk level",
    ["action", "risk_level", "degraded"],
)


@dataclass(slots=True)
class Assessment:
    """What ``assess`` decided and stored."""

    assessment_id: uuid.UUID
    decision: Decision
    rule_set_version: int
    degraded: bool  # the velocity store did not answer: scored without its counters
    case_id: uuid.UUID | None  # the review case opened (REVIEW only)


def assess(af: Antifraud, session: Session, request: dict[str, Any]) -> Assessment:
    """Score one activation: record the attempt and read the velocity counters and the block
    list's version (one Redis round trip), answer the block list from the snapshot, assemble the
    features, evaluate the rule set in force; store the assessment with its features, emit
    ``fraud.assessed``, and for a REVIEW open a case and emit ``fraud.case_opened``, all in the
    ``session``'s transaction.

    ``request`` is a FraudAnalysisRequest as the API loads it (``AnalyzeRequestSchema``: the
    seed's camelCase names, ids as UUIDs, every optional field present). Without Redis the
    analysis still succeeds (degraded mode): counters are 0 and the block list is read from
    PostgreSQL.
    """
    ctx = request["activationContext"]
    assessment_id = uuid.uuid4()
    now = datetime.now(UTC)
    ip = str(ctx["ipAddress"])
    user_id = str(request["userId"])
    key_id = str(request["keyId"]) if request["keyId"] else ""
    outcome = ctx["keyOutcome"]
    geo = af.geoip.lookup(ip)
    observation = Observation(
        attempt_id=request["activationId"] or str(assessment_id),
        user_id=user_id,
        ip=ip,
        device=request["deviceFingerprint"],
        key_id=key_id,
        key_token=ctx["keyFingerprint"] or key_id,
        batch_id=str(ctx["batchId"]) if ctx["batchId"] else "",
        retailer_id=str(ctx["retailerId"]) if ctx["retailerId"] else "",
        country=geo.country,
        failed=outcome in feat.FAILED_KEY_OUTCOMES,
        invalid=outcome in feat.INVALID_KEY_OUTCOMES,
    )
    entities = {"user": user_id, "ip": ip, "device": request["deviceFingerprint"]}
    try:
        observed = af.velocity.observe(observation, now.timestamp())
        velocity, sold_at = observed.features, observed.sold_at
        blocked = af.blocks.blocked_types(session, entities, now=now, version=observed.blocks_version)
    except redis.RedisError as exc:  # degraded mode: score with what is available, say so
        log.warning("velocity store unavailable: %s", type(exc).__name__)
        velocity, sold_at = None, None
        blocked = af.blocks.blocked_types_in_database(session, entities)
    metrics = request["behaviorMetrics"]
    features = feat.assemble(
        request={
            "user_id": user_id,
            "key_id": key_id,
            "activation_id": request["activationId"],
            "game_id": ctx["gameId"],
            "batch_id": ctx["batchId"],
            "retailer_id": ctx["retailerId"],
            "key_type": ctx["keyType"],
            "key_outcome": outcome,
            "ip": ip,
            "user_region": ctx["userRegion"],
            "device_fingerprint": request["deviceFingerprint"],
            "platform": ctx["platform"],
            "key_regions": ctx["keyRegions"],
            "sold_at": ctx["soldAt"],
            "account_created_at": ctx["accountCreatedAt"],
            "account_age_days": metrics.get("accountAgeDays"),
            "behavior": metrics,
        },
        geo=geo,
        blocked=blocked,
        velocity=velocity,
        sold_at=sold_at,
        now=now,
    )
    rule_set = af.rules.current(session)
    decision = decide(features, rule_set, af.settings.thresholds)
    if decision.errors:
        log.warning("rules failed at evaluation", extra={"errors": decision.errors[:5]})
    repo.insert_assessment(
        session,
        id=assessment_id,
        user_id=request["userId"],
        key_id=request["keyId"],
        activation_id=request["activationId"],
        game_id=ctx["gameId"],
        ip=ip,
        device_fingerprint=request["deviceFingerprint"],
        score=decision.score,
        risk_level=decision.risk_level,
        action=decision.action,
        reasons=decision.reasons,
        rules_hit=decision.rules_hit,
        features=features,
        rule_set_version=rule_set.version,
        degraded=velocity is None,
    )
    af.outbox.add(session, events.assessed(assessment_id, request, decision, rule_set.version))
    ASSESSMENTS.labels(decision.action, decision.risk_level, str(velocity is None).lower()).inc()
    case_id = None
    if decision.action == "REVIEW":
        case_id = repo.open_case(
            session,
            assessment_id=assessment_id,
            user_id=request["userId"],
            key_id=request["keyId"],
            activation_id=request["activationId"],
            score=decision.score,
            risk_level=decision.risk_level,
            reasons=decision.reasons,
        )
        af.outbox.add(session, events.case_opened(case_id, assessment_id, request, decision))
    return Assessment(assessment_id, decision, rule_set.version, velocity is None, case_id)
