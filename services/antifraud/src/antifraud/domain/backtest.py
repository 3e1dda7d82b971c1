"""Backtest: what a proposed rule set would have decided on stored assessments.

Each stored assessment keeps the exact feature dict it was scored on, so replaying a rule set
over those features is deterministic; the comparison is with the action actually recommended.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from antifraud.domain.rules import ACTIONS, RuleSet
from antifraud.domain.scoring import Thresholds, decide

_RANK = {action: rank for rank, action in enumerate(ACTIONS)}


@dataclass(frozen=True)
class StoredAssessment:
    id: str
    features: dict[str, Any]
    action: str
    score: int
    risk_level: str


def backtest(
    assessments: list[StoredAssessment], rule_set: RuleSet, thresholds: Thresholds, *, max_examples: int = 10
) -> dict[str, Any]:
    transitions: Counter[str] = Counter()
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    rule_hits: Counter[str] = Counter()
    stricter = looser = 0
    examples: list[dict[str, Any]] = []
    for stored in assessments:
        decision = decide(stored.features, rule_set, thresholds)
        before[stored.action] += 1
        after[decision.action] += 1
        for hit in decision.rules_hit:
            rule_hits[hit["id"]] += 1
        if decision.action == stored.action:
            continue
        transitions[f"{stored.action}->{decision.action}"] += 1
        if _RANK[decision.action] > _RANK[stored.action]:
            stricter += 1
        else:
            looser += 1
        if len(examples) < max_examples:
            examples.append(
                {
                    "assessmentId": stored.id,
                    "before": {
                        "action": stored.action,
                        "score": stored.score,
                        "riskLevel": stored.risk_level,
                    },
                    "after": {
                        "action": decision.action,
                        "score": decision.score,
                        "riskLevel": decision.risk_level,
                        "rulesHit": [hit["id"] for hit in decision.rules_hit],
                    },
                }
            )
    return {
        "evaluated": len(assessments),
        "changed": stricter + looser,
        "stricter": stricter,
        "looser": looser,
        "transitions": dict(transitions),
        "actionsBefore": {action: before.get(action, 0) for action in ACTIONS},
        "actionsAfter": {action: after.get(action, 0) for action in ACTIONS},
        "ruleHits": dict(rule_hits),
        "examples": examples,
    }
