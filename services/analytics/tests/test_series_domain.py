"""Series buckets, funnels and fraud figures without a store."""

from __future__ import annotations

import random
import statistics
import uuid
from collections import Counter
from datetime import UTC, date, datetime

from analytics.domain.fraud import Decision, VerdictCount, fraud_statistics
from analytics.domain.funnels import KeyTotals, Performance, median_hours_to_activation, rate
from analytics.domain.reports import Period
from analytics.domain.series import ActivationSeries, BucketCount, Granularity, buckets

NOW = datetime(2026, 10, 30, tzinfo=UTC)


def test_the_night_the_clocks_go_back_has_25_local_hours_each_named_with_its_offset():
    period = Period.of(date(2026, 10, 25), date(2026, 10, 25), "Europe/Berlin", now=NOW)
    hours = buckets(period, Granularity.HOUR)
    assert len(hours) == 25
    series = ActivationSeries.build(uuid.uuid4(), period, Granularity.HOUR, None, [
        BucketCount(hours[2], "activation.succeeded", 1),
        BucketCount(hours[3], "activation.succeeded", 2),
    ])  # fmt: skip
    labels = [point["t"] for point in series.to_dict()["series"]]
    assert labels[2:4] == ["2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00"]
    assert series.to_dict()["total"] == 3


def test_a_day_series_is_zero_filled():
    period = Period.of(date(2026, 3, 1), date(2026, 3, 3), None, now=NOW)
    series = ActivationSeries.build(
        uuid.uuid4(), period, Granularity.DAY, None, [BucketCount(date(2026, 3, 2), "activation.failed", 4)]
    )
    assert [(p["t"], p["failed"]) for p in series.to_dict()["series"]] == [
        ("2026-03-01", 0),
        ("2026-03-02", 4),
        ("2026-03-03", 0),
    ]


def test_funnel_counts_rates_and_the_median_from_sale_to_activation():
    # Three keys sold (one returned), two of them activated 1 and 3 hours later, one activated
    # without a known sale; two more revoked in bulk.
    totals = KeyTotals(
        keys=4, allocated=3, sold=3, activated=3, returned=1, sales_activated=2, middle_waits=(3600, 10800)
    )
    performance = Performance.of_keys(totals, generated=10, revoked=2)
    answer = performance.to_dict(rate_of="generated")
    assert (
        answer["counts"]["sold"] == 3
        and answer["counts"]["activated"] == 3
        and answer["counts"]["revoked"] == 2
    )
    assert answer["activationRate"] == "0.3000" and answer["returnRate"] == "0.3333"
    assert answer["medianHoursFromSaleToActivation"] == 2.0 and answer["salesActivated"] == 2
    assert median_hours_to_activation(KeyTotals()) is None
    assert rate(1, 0) is None


def test_the_median_of_the_middle_waits_is_the_median_of_all_of_them():
    """What the aggregate's reader keeps of the sorted waits (the middle one, or two for an even
    count) gives what ``statistics.median`` gives over every wait, rounded alike."""
    rng = random.Random(7)
    for count in [*range(1, 12), 100, 101]:
        waits = sorted(rng.randrange(-3600, 40 * 86400) for _ in range(count))
        middle = (waits[(count + 1) // 2 - 1], waits[count // 2])
        totals = KeyTotals(sales_activated=count, middle_waits=middle)
        assert median_hours_to_activation(totals) == round(statistics.median(w / 3600 for w in waits), 2)


def test_the_false_positive_rate_is_approved_over_decided():
    period = Period.of(date(2026, 3, 1), date(2026, 3, 1), None, now=NOW)
    body = fraud_statistics(
        period,
        # Three assessments: REVIEW hitting a, REVIEW hitting a and b, BLOCK hitting b (shadow c).
        [
            VerdictCount("", "", "REVIEW", 2),
            VerdictCount("", "", "BLOCK", 1),
            VerdictCount("a", "active", "REVIEW", 2),
            VerdictCount("b", "active", "REVIEW", 1),
            VerdictCount("b", "active", "BLOCK", 1),
            VerdictCount("c", "shadow", "BLOCK", 1),
        ],
        2,
        [Decision(True, ("a",)), Decision(False, ("a", "b"))],
        Counter({"x": 2}),
        Counter(),
    )
    rules = {r["ruleId"]: r for r in body["rules"]}
    assert rules["a"]["falsePositiveRate"] == "0.5000" and rules["b"]["falsePositiveRate"] == "0.0000"
    assert body["cases"]["falsePositiveRate"] == "0.5000" and body["assessments"]["review"] == 2
    assert body["assessments"]["total"] == 3 and (rules["b"]["review"], rules["b"]["blocked"]) == (1, 1)
    assert [(r["ruleId"], r["mode"], r["blocked"]) for r in body["rules"]][-1] == ("c", "shadow", 1)
