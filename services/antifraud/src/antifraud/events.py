"""``data`` of the events antifraud emits on antifraud.events (docs/events.md)."""

from __future__ import annotations

from typing import Any

from gamekeys_platform.errors import format_timestamp


def _id(value) -> str | None:
    return str(value) if value is not None else None


def assessed(assessment_id, body: dict[str, Any], decision, version: int) -> dict[str, Any]:
    ctx = body["activationContext"]
    return {
        "assessmentId": str(assessment_id),
        "keyId": _id(body["keyId"]),
        "userId": str(body["userId"]),
        "activationId": body["activationId"],
        "gameId": _id(ctx["gameId"]),
        "score": decision.score,
        "riskLevel": decision.risk_level,
        "recommendedAction": decision.action,
        "rulesHit": [hit["id"] for hit in decision.rules_hit if not hit["shadow"]],
        "shadowRulesHit": [hit["id"] for hit in decision.rules_hit if hit["shadow"]],
        "ruleSetVersion": version,
    }


def case_opened(case_id, assessment_id, body: dict[str, Any], decision) -> dict[str, Any]:
    return {
        "caseId": str(case_id),
        "assessmentId": str(assessment_id),
        "keyId": _id(body["keyId"]),
        "userId": str(body["userId"]),
        "activationId": body["activationId"],
        "score": decision.score,
        "riskLevel": decision.risk_level,
        "reasons": decision.reasons,
    }


def case_decided(row) -> dict[str, Any]:
    return {
        "caseId": str(row.id),
        "assessmentId": str(row.assessment_id),
        "keyId": _id(row.key_id),
        "userId": str(row.user_id),
        "activationId": row.activation_id,
        "decision": row.decision,
        "status": row.status,
        "note": row.note,
        "decidedBy": row.decided_by,
        "decidedAt": format_timestamp(row.decided_at),
    }


def rules_updated(version: int, rules: list[dict[str, Any]], actor: str) -> dict[str, Any]:
    return {
        "version": version,
        "ruleIds": [rule["id"] for rule in rules],
        "activeRules": sum(1 for r in rules if r["enabled"] and r["mode"] == "active"),
        "shadowRules": sum(1 for r in rules if r["enabled"] and r["mode"] == "shadow"),
        "updatedBy": actor,
    }


def block_added(row) -> dict[str, Any]:
    return {
        "blockId": str(row.id),
        "entityType": row.entity_type,
        "value": row.value,
        "reason": row.reason,
        "assessmentId": _id(row.assessment_id),
        "expiresAt": format_timestamp(row.expires_at) if row.expires_at else None,
        "createdBy": row.created_by,
    }


def block_lifted(row) -> dict[str, Any]:
    return {
        "blockId": str(row.id),
        "entityType": row.entity_type,
        "value": row.value,
        "reason": row.lift_reason,
        "liftedBy": row.lifted_by,
        "liftedAt": format_timestamp(row.lifted_at),
    }
