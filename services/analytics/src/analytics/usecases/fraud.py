"""Fraud statistics over a period, for platform staff: the assessments' verdicts from the hourly
aggregate when the period's local days are runs of whole UTC hours, from the raw events
otherwise, with the same figures."""

from __future__ import annotations

from analytics.db import fraud as store
from analytics.db import fraud_hourly
from analytics.db.clickhouse import ClickHouse
from analytics.domain.fraud import fraud_statistics
from analytics.domain.reports import Period


def statistics(ch: ClickHouse, period: Period) -> dict:
    opened, case_reasons = store.cases_opened(ch, period)
    return fraud_statistics(
        period,
        (fraud_hourly if period.in_whole_utc_hours() else store).assessment_verdicts(ch, period),
        opened,
        store.decisions(ch, period),
        case_reasons,
        store.refusal_reasons(ch, period),
    )
