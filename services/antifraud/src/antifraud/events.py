"""antifraud.events built from antifraud's records: each function returns the type's contract
(``gamekeys_platform.contracts.antifraud``). No event carries the features of an assessment."""

from __future__ import annotations

from typing import Any

from gamekeys_platform.contracts import antifraud as contract


def assessed(assessment_id, body: dict[str, Any], decision, version: int) -> contract.FraudAssessed:
    return contract.FraudAssessed(
        assessment_id=assessment_id,
        key_id=body["keyId"],
        user_id=str(body["userId"]),
        activation_id=body["activationId"],
        game_id=body["activationContext"]["gameId"],
        score=decision.score,
        risk_level=decision.risk_level,
        recommended_action=decision.action,
        rules_hit=[hit["id"] for hit in decision.rules_hit if not hit["shadow"]],
        shadow_rules_hit=[hit["id"] for hit in decision.rules_hit if hit["shadow"]],
        rule_set_version=version,
    )


def case_opened(case_id, assessment_id, body: dict[str, Any], decision) -> contract.CaseOpened:
    return contract.CaseOpened(
        case_id=case_id,
        assessment_id=assessment_id,
        key_id=body["keyId"],
        user_id=str(body["userId"]),
        activation_id=body["activationId"],
        score=decision.score,
        risk_level=decision.risk_level,
        reasons=decision.reasons,
    )


def case_decided(row) -> contract.CaseDecided:
    return contract.CaseDecided(
        case_id=row.id,
        assessment_id=row.assessment_id,
        key_id=row.key_id,
        user_id=str(row.user_id),
        activation_id=row.activation_id,
        decision=row.decision,
        status=row.status,
        note=row.note,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )


def rules_updated(version: int, rules: list[dict[str, Any]], actor: str) -> contract.RulesUpdated:
    return contract.RulesUpdated(
        version=version,
        rule_ids=[rule["id"] for rule in rules],
        active_rules=sum(1 for r in rules if r["enabled"] and r["mode"] == "active"),
        shadow_rules=sum(1 for r in rules if r["enabled"] and r["mode"] == "shadow"),
        updated_by=actor,
    )


def block_added(row) -> contract.BlockAdded:
    return contract.BlockAdded(
        block_id=row.id,
        entity_type=row.entity_type,
        value=row.value,
        reason=row.reason,
        assessment_id=row.assessment_id,
        expires_at=row.expires_at,
        created_by=row.created_by,
    )


def block_lifted(row) -> contract.BlockLifted:
    return contract.BlockLifted(
        block_id=row.id,
        entity_type=row.entity_type,
        value=row.value,
        reason=row.lift_reason,
        lifted_by=row.lifted_by,
        lifted_at=row.lifted_at,
    )
