"""Fraud statistics over a period, for platform staff."""

from __future__ import annotations

from analytics.db import fraud as store
from analytics.db.clickhouse import ClickHouse
from analytics.domain.fraud import fraud_statistics
from analytics.domain.reports import Period


def statistics(ch: ClickHouse, period: Period) -> dict:
    opened, case_reasons = store.cases_opened(ch, period)
    return fraud_statistics(
        period,
        store.assessments(ch, period),
        opened,
        store.decisions(ch, period),
        case_reasons,
        store.refusal_reasons(ch, period),
    )
