"""Fraud statistics for platform staff as plain data: assessments by verdict and by rule
(blocked, held for review, allowed; shadow rules beside), cases opened and decided, the
false-positive rate (a decided case approved: the review held a legitimate redemption), and the
most frequent reasons."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from analytics.domain.funnels import rate
from analytics.domain.reports import Period

ACTIONS = {"ALLOW": "allowed", "REVIEW": "review", "BLOCK": "blocked"}
TOP_REASONS = 10


@dataclass(frozen=True)
class VerdictCount:
    """``count`` assessments with verdict ``action`` (ALLOW, REVIEW, BLOCK) that hit ``rule`` as
    ``mode`` ("active" or "shadow"); rule and mode '' count the assessments themselves."""

    rule: str
    mode: str
    action: str
    count: int


@dataclass(frozen=True)
class Decision:
    approved: bool
    rules: tuple[str, ...]  # the active rules of the assessment that opened the case


@dataclass
class _RuleFigures:
    mode: str
    verdicts: Counter = field(default_factory=Counter)
    approved: int = 0
    rejected: int = 0

    def to_dict(self, rule_id: str) -> dict:
        decided = self.approved + self.rejected
        return {
            "ruleId": rule_id,
            "mode": self.mode,
            **{name: self.verdicts[action] for action, name in ACTIONS.items()},
            "decided": decided,
            "approved": self.approved,
            "rejected": self.rejected,
            "falsePositiveRate": rate(self.approved, decided),
        }


def fraud_statistics(
    period: Period,
    verdict_counts: list[VerdictCount],
    cases_opened: int,
    decisions: list[Decision],
    case_reasons: Counter,
    refusal_reasons: Counter,
) -> dict:
    verdicts: Counter = Counter()
    rules: dict[tuple[str, str], _RuleFigures] = {}
    for row in verdict_counts:
        if row.rule:
            rules.setdefault((row.rule, row.mode), _RuleFigures(row.mode)).verdicts[row.action] += row.count
        else:
            verdicts[row.action] += row.count
    for decision in decisions:
        for rule in decision.rules:
            figures = rules.setdefault((rule, "active"), _RuleFigures("active"))
            if decision.approved:
                figures.approved += 1
            else:
                figures.rejected += 1
    approved = sum(d.approved for d in decisions)
    ordered = sorted(
        rules.items(), key=lambda item: (item[0][1], -sum(item[1].verdicts.values()), item[0][0])
    )
    return {
        "from": period.first,
        "to": period.last,
        "timezone": period.zone_name,
        "assessments": {"total": verdicts.total(), **{name: verdicts[a] for a, name in ACTIONS.items()}},
        "rules": [figures.to_dict(rule) for (rule, _mode), figures in ordered],
        "cases": {
            "opened": cases_opened,
            "decided": len(decisions),
            "approved": approved,
            "rejected": len(decisions) - approved,
            "falsePositiveRate": rate(approved, len(decisions)),
        },
        "topCaseReasons": _top(case_reasons),
        "topRefusalReasons": _top(refusal_reasons),
    }


def _top(counter: Counter) -> list[dict]:
    ordered = sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:TOP_REASONS]
    return [{"reason": reason, "count": count} for reason, count in ordered]
