"""The queries of the fraud statistics on the raw events. Assessments and cases are grouped by
their event id or subject, so a stored copy of a redelivered event counts once. The assessments'
verdicts here are those a time zone with a part-hour offset asks for; ``db.fraud_hourly``
answers the others from the hourly aggregate, from the same rows. Rule ids and reasons live in the
stored payload (JSON text): read with ``visitParamExtractRaw``/``extractAll``, which ClickHouse
18.16 and current releases both have."""

from __future__ import annotations

from collections import Counter

from analytics.db.clickhouse import ClickHouse
from analytics.db.reports import naive
from analytics.domain.fraud import Decision, VerdictCount
from analytics.domain.reports import Period

_IDS = "extractAll(visitParamExtractRaw(payload, '{name}'), '\"([^\"]+)\"')"


def _params(period: Period) -> dict:
    return {"start": naive(period.start), "end": naive(period.end)}


# One row per assessment matching ``condition`` (grouped by event id) and per rule it hit, active
# or shadow, plus one with rule and mode '' for the assessment itself: its UTC hour, the rule,
# the mode and its verdict.
ASSESSMENT_HITS = f"""
    SELECT hour, tupleElement(hit, 1) AS rule, tupleElement(hit, 2) AS mode, action
    FROM
    (
        SELECT toStartOfHour(any(occurred_at)) AS hour, any(outcome) AS action,
               arrayConcat([('', '')],
                           arrayMap(r -> (r, 'active'), any({_IDS.format(name="rulesHit")})),
                           arrayMap(r -> (r, 'shadow'), any({_IDS.format(name="shadowRulesHit")}))) AS hits
        FROM events
        WHERE type = 'fraud.assessed' AND {{condition}}
        GROUP BY event_id
    )
    ARRAY JOIN hits AS hit
"""  # noqa: S608 - fixed text


def assessment_verdicts(ch: ClickHouse, period: Period) -> list[VerdictCount]:
    hits = ASSESSMENT_HITS.format(condition="occurred_at >= %(start)s AND occurred_at < %(end)s")
    rows = ch.execute(
        f"SELECT rule, mode, action, count() FROM ({hits}) GROUP BY rule, mode, action",  # noqa: S608 - fixed text
        _params(period),
    )
    return [VerdictCount(rule, mode, action, count) for rule, mode, action, count in rows]


def cases_opened(ch: ClickHouse, period: Period) -> tuple[int, Counter]:
    rows = ch.execute(
        f"""
        SELECT subject, any({_IDS.format(name="reasons")})
        FROM events
        WHERE type = 'fraud.case_opened' AND occurred_at >= %(start)s AND occurred_at < %(end)s
        GROUP BY subject
        """,  # noqa: S608 - fixed text; values are the driver's parameters
        _params(period),
    )
    reasons: Counter = Counter()
    for _case, case_reasons in rows:
        reasons.update(set(case_reasons))
    return len(rows), reasons


def decisions(ch: ClickHouse, period: Period) -> list[Decision]:
    """Cases decided in the period, each with the active rules of the assessment that opened it."""
    decided = ch.execute(
        """
        SELECT subject, argMax(outcome, occurred_at_us), any(visitParamExtractString(payload, 'assessmentId'))
        FROM events
        WHERE type = 'fraud.case_decided' AND occurred_at >= %(start)s AND occurred_at < %(end)s
        GROUP BY subject
        """,
        _params(period),
    )
    if not decided:
        return []
    rules = dict(
        ch.execute(
            f"""
            SELECT subject, any({_IDS.format(name="rulesHit")})
            FROM events
            WHERE type = 'fraud.assessed' AND subject IN %(assessments)s
            GROUP BY subject
            """,  # noqa: S608 - fixed text; values are the driver's parameters
            {"assessments": tuple(assessment for _case, _status, assessment in decided)},
        )
    )
    return [
        Decision(status == "approved", tuple(rules.get(assessment, ())))
        for _case, status, assessment in decided
    ]


def refusal_reasons(ch: ClickHouse, period: Period) -> Counter:
    """The §3 codes of attempts that ended blocked or failed (their latest event), in the period."""
    rows = ch.execute(
        """
        SELECT why, count()
        FROM (
            SELECT subject, argMax(type, occurred_at_us) AS final_type, argMax(reason, occurred_at_us) AS why
            FROM events
            WHERE type IN ('activation.succeeded', 'activation.failed', 'activation.blocked',
                           'activation.pending_review', 'activation.disputed')
              AND occurred_at >= %(start)s AND occurred_at < %(end)s
            GROUP BY subject
        )
        WHERE final_type IN ('activation.blocked', 'activation.failed') AND why != ''
        GROUP BY why
        """,
        _params(period),
    )
    return Counter(dict(rows))
