"""Public API, ``/api/v1/antifraud`` (ARCHITECTURE.md §5): the seed's AntiFraudEngine."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from antifraud import events
from antifraud.api import schemas as s
from antifraud.context import antifraud
from antifraud.db import repository as repo
from antifraud.domain import features as feat
from antifraud.domain.backtest import StoredAssessment, backtest
from antifraud.domain.patterns import PastAssessment, suspicious_patterns
from antifraud.domain.rules import Rule, RuleSetInvalid, compile_rule_set
from antifraud.domain.scoring import decide
from antifraud.velocity import Observation
from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import current_principal, require_roles, require_scopes
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.errors import ApiError, not_found
from gamekeys_platform.errors import format_optional_timestamp as ts
from gamekeys_platform.idempotency import idempotent
from gamekeys_platform.pagination import decode_cursor, page_body

log = logging.getLogger("antifraud.api")

blp = Blueprint(
    "antifraud", __name__, url_prefix="/api/v1/antifraud", description="Fraud scoring, rules, cases"
)

ANALYZE_SCOPE = "fraud:analyze"
REVIEWERS = ("support", "admin")
ADMINS = ("admin",)


def _actor() -> str:
    return current_principal().subject[:128]


# ---------------------------------------------------------------------------------- analyze


@blp.route("/analyze", methods=["POST"])
@require_scopes(ANALYZE_SCOPE)
@idempotent
@blp.arguments(s.AnalyzeRequestSchema)
@blp.response(200, s.FraudScoreSchema)
def analyze(body):
    """Score one activation (analyzeActivation): features from Redis, then the rules in force."""
    af, session = antifraud(), request_session()
    ctx = body["activationContext"]
    assessment_id = uuid.uuid4()
    now = datetime.now(UTC)
    ip = str(ctx["ipAddress"])
    user_id = str(body["userId"])
    key_id = str(body["keyId"]) if body["keyId"] else ""
    outcome = ctx["keyOutcome"]
    geo = af.ip_ranges.lookup(ip)
    observation = Observation(
        attempt_id=body["activationId"] or str(assessment_id),
        user_id=user_id,
        ip=ip,
        device=body["deviceFingerprint"],
        key_id=key_id,
        key_token=ctx["keyFingerprint"] or key_id,
        batch_id=str(ctx["batchId"]) if ctx["batchId"] else "",
        retailer_id=str(ctx["retailerId"]) if ctx["retailerId"] else "",
        country=geo.country,
        failed=outcome in feat.FAILED_KEY_OUTCOMES,
        invalid=outcome in feat.INVALID_KEY_OUTCOMES,
    )
    entities = {"user": user_id, "ip": ip, "device": body["deviceFingerprint"]}
    try:
        observed = af.velocity.observe(observation, now.timestamp())
        velocity, sold_at = observed.features, observed.sold_at
        blocked = af.blocks.blocked_types(session, entities, now=now, version=observed.blocks_version)
    except redis.RedisError as exc:  # degraded mode: score with what is available, say so
        log.warning("velocity store unavailable: %s", type(exc).__name__)
        velocity, sold_at = None, None
        blocked = af.blocks.blocked_types_in_database(session, entities)
    metrics = body["behaviorMetrics"]
    features = feat.assemble(
        request={
            "user_id": user_id,
            "key_id": key_id,
            "activation_id": body["activationId"],
            "game_id": ctx["gameId"],
            "batch_id": ctx["batchId"],
            "retailer_id": ctx["retailerId"],
            "key_type": ctx["keyType"],
            "key_outcome": outcome,
            "ip": ip,
            "user_region": ctx["userRegion"],
            "device_fingerprint": body["deviceFingerprint"],
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
        user_id=body["userId"],
        key_id=body["keyId"],
        activation_id=body["activationId"],
        game_id=ctx["gameId"],
        ip=ip,
        device_fingerprint=body["deviceFingerprint"],
        score=decision.score,
        risk_level=decision.risk_level,
        action=decision.action,
        reasons=decision.reasons,
        rules_hit=decision.rules_hit,
        features=features,
        rule_set_version=rule_set.version,
        degraded=velocity is None,
    )
    af.outbox.add(session, events.assessed(assessment_id, body, decision, rule_set.version))
    case_id = None
    if decision.action == "REVIEW":
        case_id = repo.open_case(
            session,
            assessment_id=assessment_id,
            user_id=body["userId"],
            key_id=body["keyId"],
            activation_id=body["activationId"],
            score=decision.score,
            risk_level=decision.risk_level,
            reasons=decision.reasons,
        )
        af.outbox.add(session, events.case_opened(case_id, assessment_id, body, decision))
    return {
        "assessmentId": assessment_id,
        "score": decision.score,
        "riskLevel": decision.risk_level,
        "reasons": decision.reasons,
        "recommendedAction": decision.action,
        "rulesHit": decision.rules_hit,
        "ruleSetVersion": rule_set.version,
        "degraded": velocity is None,
        "caseId": case_id,
    }


# ------------------------------------------------------------------------------------ rules


def _rules_or_422(raw_rules: list[dict[str, Any]], version: int):
    rules = [Rule.from_dict(item) for item in raw_rules]
    try:
        return compile_rule_set(rules, version)
    except RuleSetInvalid as exc:
        raise ApiError(
            "VALIDATION_ERROR",
            "invalid rules: " + "; ".join(f"{e['ruleId']}: {e['error']}" for e in exc.errors)[:1000],
            {"rules": exc.errors},
        ) from None


@blp.route("/rules", methods=["GET"])
@require_roles(*REVIEWERS)
@blp.response(200, s.RuleSetSchema)
def get_rules():
    """The rule set in force: version and rules (version 0 is the shipped default set)."""
    af, session = antifraud(), request_session()
    row = repo.latest_rule_set(session)
    if row is None:
        rule_set = af.rules.current(session)
        return {
            "version": 0,
            "rules": [r.to_dict() for r in rule_set.rules],
            "createdBy": None,
            "createdAt": None,
        }
    return {
        "version": row.version,
        "rules": row.rules,
        "createdBy": row.created_by,
        "createdAt": ts(row.created_at),
    }


@blp.route("/rules", methods=["PUT"])
@require_roles(*ADMINS)
@transactional
@blp.arguments(s.RuleSetRequestSchema)
@blp.response(200, s.RuleSetSchema)
def put_rules(body):
    """Replace the rule set atomically as a new version (updateFraudRules); every instance uses it
    within ANTIFRAUD_RULES_POLL_SECONDS. A faulty rule is a 422 naming it; nothing changes then."""
    af, session = antifraud(), request_session()
    rule_set = _rules_or_422(body["rules"], version=0)
    raw = [rule.to_dict() for rule in rule_set.rules]
    version = repo.insert_rule_set(session, raw, _actor())
    af.outbox.add(session, events.rules_updated(version, raw, _actor()))
    af.rules.invalidate()
    return {"version": version, "rules": raw, "createdBy": _actor(), "createdAt": ts(datetime.now(UTC))}


@blp.route("/rules/backtest", methods=["POST"])
@require_roles(*ADMINS)
@blp.arguments(s.BacktestRequestSchema)
@blp.response(200, s.BacktestResultSchema)
def backtest_rules(body):
    """Replay a proposed rule set over the stored assessments of [from, to) and report how many
    decisions would change, in which direction, with examples. Nothing is written."""
    af, session = antifraud(), request_session()
    if body["end"] <= body["start"]:
        raise ApiError(
            "VALIDATION_ERROR", "'to' must be after 'from'", {"fields": {"json": {"to": ["before from"]}}}
        )
    rule_set = _rules_or_422(body["rules"], version=-1)
    limit = body["maxAssessments"]
    rows = repo.assessments_between(session, body["start"], body["end"], limit + 1)
    stored = [StoredAssessment(str(r.id), r.features, r.action, r.score, r.risk_level) for r in rows[:limit]]
    started = time.perf_counter()
    result = backtest(stored, rule_set, af.settings.thresholds, max_examples=body["maxExamples"])
    log.info(
        "backtest", extra={"evaluated": len(stored), "ms": round((time.perf_counter() - started) * 1000, 1)}
    )
    return {**result, "truncated": len(rows) > limit}


# ------------------------------------------------------------------------------------ cases


def case_dict(row) -> dict[str, Any]:
    return {
        "caseId": row.id,
        "assessmentId": row.assessment_id,
        "status": row.status,
        "userId": row.user_id,
        "keyId": row.key_id,
        "activationId": row.activation_id,
        "score": row.score,
        "riskLevel": row.risk_level,
        "reasons": row.reasons,
        "openedAt": ts(row.opened_at),
        "decidedAt": ts(row.decided_at),
        "decidedBy": row.decided_by,
        "decision": row.decision,
        "note": row.note,
    }


@blp.route("/cases", methods=["GET"])
@require_roles(*REVIEWERS)
@blp.arguments(s.CaseQuerySchema, location="query")
@blp.response(200, s.CasePageSchema)
def list_cases(query):
    """Fraud cases, newest first, optionally by status."""
    page = repo.list_cases(
        request_session(),
        status=query["status"],
        limit=query["limit"],
        after=decode_cursor(query["cursor"], repo.CASE_CURSOR),
    )
    return page_body(page, case_dict, lambda row: (row.opened_at, row.id))


@blp.route("/cases/<uuid:case_id>", methods=["GET"])
@require_roles(*REVIEWERS)
@blp.response(200, s.CaseSchema)
def get_case(case_id):
    """A fraud case with its assessment and decision."""
    row = repo.get_case(request_session(), case_id)
    if row is None:
        raise not_found("case")
    return case_dict(row)


@blp.route("/cases/<uuid:case_id>/decision", methods=["POST"])
@require_roles(*REVIEWERS)
@idempotent
@blp.arguments(s.DecisionRequestSchema)
@blp.response(200, s.CaseSchema)
def decide_case(body, case_id):
    """Approve or reject an open case (reviewFraudCase); emits fraud.case_decided, which the
    activation-gateway uses to complete or reject the pending activation."""
    af, session = antifraud(), request_session()
    existing = repo.get_case(session, case_id, for_update=True)
    if existing is None:
        raise not_found("case")
    if existing.status != "open":
        raise ApiError("CONFLICT", f"the case is already {existing.status}", {"status": existing.status})
    row = repo.decide_case(session, case_id, decision=body["decision"], note=body["note"], actor=_actor())
    af.outbox.add(session, events.case_decided(row))
    return case_dict(row)


# ----------------------------------------------------------------------------------- blocks


def block_dict(row) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "blockId": row.id,
        "entityType": row.entity_type,
        "value": row.value,
        "reason": row.reason,
        "assessmentId": row.assessment_id,
        "createdBy": row.created_by,
        "createdAt": ts(row.created_at),
        "expiresAt": ts(row.expires_at),
        "liftedAt": ts(row.lifted_at),
        "liftedBy": row.lifted_by,
        "active": row.lifted_at is None and (row.expires_at is None or row.expires_at > now),
    }


def _future_or_422(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise ApiError(
            "VALIDATION_ERROR",
            "expiresAt must be in the future",
            {"fields": {"json": {"expiresAt": ["in the past"]}}},
        )


def _add_block(session, af, *, entity_type, value, reason, expires_at, assessment_id=None):
    row = repo.add_block(
        session,
        entity_type=entity_type,
        value=value,
        reason=reason,
        expires_at=expires_at,
        assessment_id=assessment_id,
        created_by=_actor(),
    )
    af.outbox.add(session, events.block_added(row))
    af.blocks.changed(session)
    return row


@blp.route("/blocks", methods=["GET"])
@require_roles(*REVIEWERS)
@blp.arguments(s.BlockQuerySchema, location="query")
@blp.response(200, s.BlockListSchema)
def list_blocks(query):
    """Block list entries (users, IPs, devices), newest first; ``active=false`` includes lifted
    and expired ones."""
    page = repo.list_blocks(
        request_session(),
        entity_type=query["entityType"],
        value=query["value"],
        active_only=query["active"],
        limit=query["limit"],
        after=decode_cursor(query["cursor"], repo.BLOCK_CURSOR),
    )
    return page_body(page, block_dict, lambda row: (row.created_at, row.id))


@blp.route("/blocks", methods=["POST"])
@require_roles(*REVIEWERS)
@idempotent
@blp.arguments(s.BlockRequestSchema)
@blp.response(201, s.BlockSchema)
def add_block(body):
    """Block a user, IP or device, until ``expiresAt`` or for good (null)."""
    _future_or_422(body["expiresAt"])
    row = _add_block(
        request_session(),
        antifraud(),
        entity_type=body["entityType"],
        value=body["value"],
        reason=body["reason"],
        expires_at=body["expiresAt"],
    )
    return block_dict(row)


@blp.route("/blocks/<uuid:block_id>/lift", methods=["POST"])
@require_roles(*REVIEWERS)
@transactional
@blp.arguments(s.LiftRequestSchema)
@blp.response(200, s.BlockSchema)
def lift_block(body, block_id):
    """Lift a block (an appeal granted); the entry stays in the list as history. Emits
    fraud.block_lifted, which the activation-gateway's projection of blocks follows."""
    session = request_session()
    row = repo.lift_block(session, block_id, actor=_actor(), reason=body["reason"])
    if row is None:
        if repo.get_block(session, block_id) is None:
            raise not_found("block")
        raise ApiError("CONFLICT", "the block is already lifted")
    af = antifraud()
    af.outbox.add(session, events.block_lifted(row))
    af.blocks.changed(session)
    return block_dict(row)


@blp.route("/activities/<uuid:activity_id>/block", methods=["POST"])
@require_roles(*REVIEWERS)
@idempotent
@blp.arguments(s.ActivityBlockRequestSchema)
@blp.response(201, s.BlockListSchema)
def block_activity(body, activity_id):
    """Block the user / device / IP behind an assessment (blockSuspiciousActivity)."""
    af, session = antifraud(), request_session()
    _future_or_422(body["expiresAt"])
    assessment = repo.get_assessment(session, activity_id)
    if assessment is None:
        raise not_found("activity")
    values = {"user": str(assessment.user_id), "ip": assessment.ip, "device": assessment.device_fingerprint}
    rows = [
        _add_block(
            session,
            af,
            entity_type=entity,
            value=values[entity],
            reason=body["reason"],
            expires_at=body["expiresAt"],
            assessment_id=activity_id,
        )
        for entity in dict.fromkeys(body["entities"])
    ]
    return {"items": [block_dict(row) for row in rows], "nextCursor": None}


# ------------------------------------------------------------------------ users, statistics


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
    if end <= start:
        raise ApiError(
            "VALIDATION_ERROR", "'to' must be after 'from'", {"fields": {"query": {"to": ["before from"]}}}
        )
    stats = repo.statistics(request_session(), start, end)
    total = sum(stats["by_action"].values())
    return {
        "start": ts(start),
        "end": ts(end),
        "totalAssessments": total,
        "byRiskLevel": {
            level: stats["by_level"].get(level, 0) for level in ("LOW", "MEDIUM", "HIGH", "CRITICAL")
        },
        "byAction": {action: stats["by_action"].get(action, 0) for action in ("ALLOW", "REVIEW", "BLOCK")},
        "blockRate": round(stats["by_action"].get("BLOCK", 0) / total, 4) if total else 0.0,
        "reviewRate": round(stats["by_action"].get("REVIEW", 0) / total, 4) if total else 0.0,
        "topRules": [{"ruleId": r, "hits": n} for r, shadow, n in stats["rules"] if not shadow][:10],
        "topShadowRules": [{"ruleId": r, "hits": n} for r, shadow, n in stats["rules"] if shadow][:10],
        "cases": {status: stats["cases"].get(status, 0) for status in ("open", "approved", "rejected")},
        "activeBlocks": stats["active_blocks"],
    }
