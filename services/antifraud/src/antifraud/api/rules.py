"""``/rules``: the rule set in force, its replacement and backtests of a proposed one."""

from __future__ import annotations

from typing import Any

from antifraud.api import schemas as s
from antifraud.api.common import ADMINS, PREFIX, REVIEWERS, actor, check_period
from antifraud.context import antifraud
from antifraud.db import repository as repo
from antifraud.usecases import backtest_rules, put_rules
from gamekeys_platform.app import Blueprint
from gamekeys_platform.auth import require_roles
from gamekeys_platform.db import request_session, transactional
from gamekeys_platform.errors import format_optional_timestamp as ts

blp = Blueprint("rules", __name__, url_prefix=PREFIX, description="Fraud rules (CEL): versions, backtests")


def rule_set(row) -> dict[str, Any]:
    """A stored rule set (a ``rule_sets`` row or ``put_rules``' answer)."""
    return {
        "version": row.version,
        "rules": row.rules,
        "createdBy": row.created_by,
        "createdAt": ts(row.created_at),
    }


@blp.route("/rules", methods=["GET"])
@require_roles(*REVIEWERS)
@blp.response(200, s.RuleSetSchema)
def get_rules():
    """The rule set in force: version and rules (version 0 is the shipped default set)."""
    af, session = antifraud(), request_session()
    row = repo.latest_rule_set(session)
    if row is None:
        defaults = af.rules.current(session)
        return {
            "version": 0,
            "rules": [r.to_dict() for r in defaults.rules],
            "createdBy": None,
            "createdAt": None,
        }
    return rule_set(row)


@blp.route("/rules", methods=["PUT"])
@require_roles(*ADMINS)
@transactional
@blp.arguments(s.RuleSetRequestSchema)
@blp.response(200, s.RuleSetSchema)
def replace_rules(body):
    """Replace the rule set atomically as a new version (updateFraudRules); every instance uses it
    within ANTIFRAUD_RULES_POLL_SECONDS. A faulty rule is a 422 naming it; nothing changes then."""
    return rule_set(put_rules(antifraud(), request_session(), body["rules"], actor=actor()))


@blp.route("/rules/backtest", methods=["POST"])
@require_roles(*ADMINS)
@blp.arguments(s.BacktestRequestSchema)
@blp.response(200, s.BacktestResultSchema)
def backtest(body):
    """Replay a proposed rule set over the stored assessments of [from, to) and report how many
    decisions would change, in which direction, with examples. Nothing is written."""
    check_period(body["start"], body["end"], "json")
    return backtest_rules(
        antifraud(),
        request_session(),
        body["rules"],
        start=body["start"],
        end=body["end"],
        max_assessments=body["maxAssessments"],
        max_examples=body["maxExamples"],
    )
