"""The rule set in force: replaced as a whole, as a new version."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from antifraud import events
from antifraud.db import repository as repo
from antifraud.domain.backtest import StoredAssessment, backtest
from antifraud.domain.rules import Rule, RuleSet, RuleSetInvalid, compile_rule_set
from gamekeys_platform.refusals import Refusal

if TYPE_CHECKING:
    from antifraud.context import Antifraud

log = logging.getLogger("antifraud.rules")


@dataclass(frozen=True)
class StoredRuleSet:
    version: int
    rules: list[dict[str, Any]]
    created_by: str
    created_at: datetime


def compiled_rules(raw_rules: list[dict[str, Any]], version: int) -> RuleSet:
    """``raw_rules`` (a rule's fields as in ``Rule``) compiled and validated. The one place the
    domain's ``RuleSetInvalid`` becomes a refusal: VALIDATION_ERROR naming every faulty rule
    (``details.rules = [{ruleId, error}]``)."""
    rules = [Rule.from_dict(item) for item in raw_rules]
    try:
        return compile_rule_set(rules, version)
    except RuleSetInvalid as exc:
        raise Refusal(
            "VALIDATION_ERROR",
            "invalid rules: " + "; ".join(f"{e['ruleId']}: {e['error']}" for e in exc.errors)[:1000],
            {"rules": exc.errors},
        ) from None


def put_rules(
    af: Antifraud, session: Session, raw_rules: list[dict[str, Any]], *, actor: str
) -> StoredRuleSet:
    """Replace the rule set atomically as the next version (the seed's updateFraudRules) and emit
    ``fraud.rules_updated``; every instance uses it within ANTIFRAUD_RULES_POLL_SECONDS, this
    one from its next analysis. A faulty rule refuses the whole set (``compiled_rules``) and
    nothing is written."""
    rule_set = compiled_rules(raw_rules, version=0)
    raw = [rule.to_dict() for rule in rule_set.rules]
    version = repo.insert_rule_set(session, raw, actor)
    af.outbox.add(session, events.rules_updated(version, raw, actor))
    af.rules.invalidate()
    return StoredRuleSet(version, raw, actor, datetime.now(UTC))


def backtest_rules(
    af: Antifraud,
    session: Session,
    raw_rules: list[dict[str, Any]],
    *,
    start: datetime,
    end: datetime,
    max_assessments: int,
    max_examples: int,
) -> dict[str, Any]:
    """Replay a proposed rule set over the stored assessments of [start, end) (at most
    ``max_assessments``, oldest first) and report how many decisions would change, in which
    direction, with examples (``domain.backtest``), plus ``truncated``. Writes nothing."""
    rule_set = compiled_rules(raw_rules, version=-1)
    rows = repo.assessments_between(session, start, end, max_assessments + 1)
    stored = [
        StoredAssessment(str(r.id), r.features, r.action, r.score, r.risk_level)
        for r in rows[:max_assessments]
    ]
    started = time.perf_counter()
    result = backtest(stored, rule_set, af.settings.thresholds, max_examples=max_examples)
    log.info(
        "backtest", extra={"evaluated": len(stored), "ms": round((time.perf_counter() - started) * 1000, 1)}
    )
    return {**result, "truncated": len(rows) > max_assessments}
