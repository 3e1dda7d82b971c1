"""From features and a rule set to a FraudScore: score, level, action, reasons, rules hit.

- score = the sum of the weights of the active rules that fired, capped at 100;
- level by score thresholds (LOW < medium ≤ MEDIUM < high ≤ HIGH < critical ≤ CRITICAL);
- action (``recommend``) = the severest of the actions of the active rules that fired with an
  explicit action, and the review / block threshold applied to the summed weights of those
  without one: a rule's explicit action is all it ever contributes, so REVIEW rules, however
  many, never add up to a BLOCK;
- shadow rules are evaluated and reported (``shadow: true``) but change nothing;
- a block-listed user, IP or device is CRITICAL / BLOCK whatever the rules say;
- a rule that fails at evaluation time does not fire and is reported in ``errors``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cel

from antifraud.domain.rules import ACTIONS, RuleSet

LEVELS = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
_SEVERITY = {action: rank for rank, action in enumerate(ACTIONS)}
DEGRADED_REASON = "velocity features unavailable: scored without them (degraded mode)"
BLOCKED_REASON = "a user, IP or device of this activation is on the block list"


@dataclass(frozen=True)
class Thresholds:
    medium: int = 30
    high: int = 60
    critical: int = 85
    review: int = 40
    block: int = 80

    def __post_init__(self) -> None:
        if not 0 < self.medium < self.high < self.critical <= 100:
            raise ValueError("level thresholds must satisfy 0 < medium < high < critical <= 100")
        if not 0 < self.review < self.block <= 100:
            raise ValueError("action thresholds must satisfy 0 < review < block <= 100")

    def level(self, score: int) -> str:
        if score >= self.critical:
            return "CRITICAL"
        if score >= self.high:
            return "HIGH"
        if score >= self.medium:
            return "MEDIUM"
        return "LOW"

    def action(self, score: int) -> str:
        if score >= self.block:
            return "BLOCK"
        if score >= self.review:
            return "REVIEW"
        return "ALLOW"


@dataclass(frozen=True)
class Decision:
    score: int
    risk_level: str
    action: str
    reasons: list[str]
    rules_hit: list[dict[str, Any]]
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def active_rule_ids(self) -> list[str]:
        return [hit["id"] for hit in self.rules_hit if not hit["shadow"]]


def severest(*actions: str) -> str:
    return max(actions, key=_SEVERITY.__getitem__)


def recommend(fired: list[tuple[int, str | None]], thresholds: Thresholds) -> str:
    """The action for the active rules that fired, as ``(weight, explicit action or None)``."""
    unforced = sum(weight for weight, action in fired if action is None)
    explicit = (action for _, action in fired if action is not None)
    return severest(thresholds.action(min(100, unforced)), *explicit)


def decide(features: dict[str, Any], rule_set: RuleSet, thresholds: Thresholds) -> Decision:
    # Built once per analysis with only the features the rules read: one conversion for all rules.
    context = cel.Context({name: features[name] for name in rule_set.variables if name in features})
    fired_active: list[tuple[int, str | None]] = []
    reasons: list[str] = []
    hits: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for compiled in rule_set.compiled:
        rule = compiled.rule
        try:
            fired = compiled.program.execute(context) is True
        except Exception as exc:
            errors.append(
                {"ruleId": rule.id, "error": str(exc).splitlines()[0][:200] if str(exc) else "error"}
            )
            continue
        if not fired:
            continue
        shadow = rule.mode == "shadow"
        hits.append(
            {"id": rule.id, "weight": rule.weight, "action": rule.action, "mode": rule.mode, "shadow": shadow}
        )
        if shadow:
            continue
        fired_active.append((rule.weight, rule.action))
        reasons.append(rule.description or rule.id)
    score = min(100, sum(weight for weight, _ in fired_active))
    action = recommend(fired_active, thresholds)
    if features.get("any_blocked"):
        if action != "BLOCK":  # no active rule said so: the block list says it anyway
            reasons.append(BLOCKED_REASON)
        score, action = 100, "BLOCK"
    if features.get("velocity_degraded"):
        reasons.append(DEGRADED_REASON)
    return Decision(
        score=score,
        risk_level=thresholds.level(score),
        action=action,
        reasons=reasons,
        rules_hit=hits,
        errors=errors,
    )
