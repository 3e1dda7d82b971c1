"""The hourly activation aggregate against the raw events and a hand-computed answer, on
generated attempts stored in several rounds with an aggregator pass after each: duplicates,
events arriving late and out of order (a decision stored before the hold it decides), reviews
decided days later, disputes, day boundaries in UTC, Europe/Berlin across its clock change and
Asia/Kolkata (whose +05:30 the aggregate cannot answer: the raw events do). Then a whole backlog
stored again changes no figure, and the passes' own rules: one at a time, a margin for inserts
seen late, the change log's old days dropped. The fraud assessments' aggregate the same way."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from analytics_testkit import activation, aggregate, assessed, at

from analytics.aggregates import ACTIVATION_HOURLY, AGGREGATES, Aggregator
from analytics.db import change_logs, fraud_hourly, hourly, positions
from analytics.db import fraud as raw_fraud
from analytics.db import reports as raw_reports
from analytics.db import series as raw_series
from analytics.domain.events import event_row
from analytics.domain.reports import OUTCOME_RANK, Period
from analytics.domain.series import Granularity
from analytics.ingest import ClickHouseSink
from analytics.usecases import fraud, reports, series

NOW = at("2026-04-02T12:00:00")
STATUS_TYPE = {
    "activated": "activation.succeeded",
    "failed": "activation.failed",
    "blocked": "activation.blocked",
    "pending_review": "activation.pending_review",
    "disputed": "activation.disputed",
}


def generated_attempts(game_id: uuid.UUID, seed: int) -> list[list[tuple[str, datetime, str | None, str]]]:
    """Per attempt, its events as (status, time, region, key type): most decided at once, some
    held and decided up to four days later, some disputed weeks later, around the end of March
    (Europe/Berlin moves its clocks on the 29th)."""
    rng = random.Random(seed)
    attempts = []
    for _ in range(160):
        start = at("2026-03-03T00:00:00") + timedelta(minutes=rng.randrange(29 * 24 * 60))
        region = rng.choice(["DE", "FR", "US", None])
        key_type = rng.choice(["retail", "press"])
        roll = rng.random()
        if roll < 0.45:
            steps = [("activated", start)]
        elif roll < 0.55:
            steps = [("failed", start)]
        elif roll < 0.62:
            steps = [("blocked", start)]
        elif roll < 0.88:
            decided = start + timedelta(minutes=rng.randrange(1, 4 * 24 * 60))
            steps = [("pending_review", start), (rng.choice(["activated", "failed"]), decided)]
            if rng.random() < 0.2:
                steps = steps[:1]  # still held
        else:
            steps = [("activated", start), ("disputed", start + timedelta(days=rng.randrange(1, 30)))]
        attempts.append([(status, moment, region, key_type) for status, moment in steps])
    return attempts


def events_of(game_id: uuid.UUID, attempts) -> list[list]:
    """The attempts' events, one list per attempt, built through the contracts."""
    built = []
    for steps in attempts:
        activation_id = uuid.uuid4()
        built.append(
            [
                activation(
                    game_id, status, moment, region=region, key_type=key_type, activation_id=activation_id
                )
                for status, moment, region, key_type in steps
            ]
        )
    return built


def expected(attempts, period: Period, bucket) -> Counter:
    """By hand: each attempt on its first event's bucket, with the type of its latest event."""
    counts: Counter = Counter()
    for steps in attempts:
        start = min(moment for _, moment, _, _ in steps)
        if not period.start <= start < period.end:
            continue
        status, _, region, key_type = max(
            steps, key=lambda step: (step[1], OUTCOME_RANK.get(STATUS_TYPE[step[0]], 1))
        )
        counts[bucket(start, region or "", key_type), STATUS_TYPE[status]] += 1
    return counts


def store(ctx, events) -> None:
    ClickHouseSink(ctx.clickhouse).insert_events([event_row(event.to_json(), "test") for event in events])


def day_and_country(rows) -> Counter:
    counts: Counter = Counter()
    for row in rows:
        counts[(row.day, row.country), row.event_type] += row.count
    return counts


def buckets(rows) -> Counter:
    counts: Counter = Counter()
    for row in rows:
        counts[row.bucket, row.event_type] += row.count
    return counts


PERIODS = [
    Period.of(date(2026, 3, 5), date(2026, 3, 31), "UTC", now=NOW),
    Period.of(date(2026, 3, 5), date(2026, 3, 31), "Europe/Berlin", now=NOW),
    Period.of(date(2026, 3, 1), date(2026, 4, 1), "America/New_York", now=NOW),
]


def assert_both_paths_match_by_hand(ctx, game_id: uuid.UUID, visible) -> None:
    ch = ctx.clickhouse
    for period in PERIODS:
        assert period.in_whole_utc_hours()

        def local_day(moment, region, _key_type, zone=period.zone):
            return (moment.astimezone(zone).date(), region)

        by_hand = expected(visible, period, local_day)
        assert day_and_country(hourly.activations_by_day_and_country(ch, game_id, period)) == by_hand
        assert day_and_country(raw_reports.activations_by_day_and_country(ch, game_id, period)) == by_hand

        for dimension in ("country", "keyType"):
            aggregate_rows = hourly.activations_by_group(ch, game_id, period, dimension, "press")
            raw_rows = raw_series.activations_by_group(ch, game_id, period, dimension, "press")
            assert sorted(aggregate_rows, key=repr) == sorted(raw_rows, key=repr)
        assert sorted(hourly.activations_by_game(ch, [game_id], period), key=repr) == sorted(
            raw_reports.activations_by_game(ch, [game_id], period), key=repr
        )

    hours = Period.of(date(2026, 3, 28), date(2026, 3, 30), "Europe/Berlin", now=NOW)  # 71 hours
    by_hand_hours = expected(visible, hours, lambda moment, *_: moment.replace(minute=0, second=0))
    for store_module in (hourly, raw_series):
        rows = store_module.activations_by_bucket(ch, game_id, hours, Granularity.HOUR, None)
        assert buckets(rows) == {(bucket, kind): n for (bucket, kind), n in by_hand_hours.items()}


# The default, and slices so small that an attempt's hours fall in different slices of a pass,
# and that one hour is marked by several slices of changed attempts.
SLICES = pytest.mark.parametrize(
    ("hours_per_slice", "attempts_per_mark"), [(hourly.HOURS_PER_SLICE, hourly.ATTEMPTS_PER_MARK), (7, 5)]
)


@SLICES
def test_the_aggregate_and_the_raw_events_give_the_hand_computed_figures_round_after_round(
    ctx, monkeypatch, hours_per_slice, attempts_per_mark
):
    monkeypatch.setattr(hourly, "HOURS_PER_SLICE", hours_per_slice)
    monkeypatch.setattr(hourly, "ATTEMPTS_PER_MARK", attempts_per_mark)
    game_id = uuid.uuid4()
    attempts = generated_attempts(game_id, seed=18)
    events = events_of(game_id, attempts)
    rng = random.Random(5)
    # Three rounds, each stored twice; an attempt's later event may come in an earlier round than
    # its first (out of order: the attempt's hour moves when its first event arrives).
    rounds: list[list] = [[], [], []]
    for attempt_events in events:
        for event in attempt_events:
            rounds[rng.randrange(3)].append(event)
    visible_ids: set = set()
    for round_events in rounds:
        rng.shuffle(round_events)
        store(ctx, round_events)
        store(ctx, round_events)
        aggregate(ctx.db, ctx.clickhouse)
        visible_ids |= {event.id for event in round_events}
        visible = [
            [step for step, event in zip(steps, attempt_events, strict=True) if event.id in visible_ids]
            for steps, attempt_events in zip(attempts, events, strict=True)
        ]
        assert_both_paths_match_by_hand(ctx, game_id, [steps for steps in visible if steps])


def test_a_replayed_backlog_changes_no_figure_and_neither_do_merges(ctx):
    game_id = uuid.uuid4()
    attempts = generated_attempts(game_id, seed=19)
    events = [event for attempt_events in events_of(game_id, attempts) for event in attempt_events]
    store(ctx, events)
    aggregate(ctx.db, ctx.clickhouse)

    def figures() -> list:
        answers = []
        for period in [*PERIODS, Period.of(date(2026, 3, 5), date(2026, 3, 31), "Asia/Kolkata", now=NOW)]:
            answers.append(reports.activation_report(ctx.clickhouse, game_id, period).to_dict())
            for granularity in Granularity:
                if granularity is Granularity.DAY or len(period.days()) <= 31:
                    answers.append(
                        series.activations(ctx.clickhouse, game_id, period, granularity, None).to_dict()
                    )
            for dimension in ("country", "keyType"):
                answers.append(series.breakdown(ctx.clickhouse, game_id, period, dimension, None).to_dict())
        return answers

    before = figures()
    assert before[0]["totals"]["attempts"] > 100
    store(ctx, events)  # the whole backlog again: every event ingested twice
    assert aggregate(ctx.db, ctx.clickhouse) > 0  # its hours are all written again
    assert figures() == before
    ctx.clickhouse.execute("OPTIMIZE TABLE activation_hourly FINAL")
    ctx.clickhouse.execute("OPTIMIZE TABLE activation_attempt_events FINAL")
    assert figures() == before


def counted(ctx, game_id: uuid.UUID, period: Period) -> list[tuple]:
    rows = hourly.activations_by_day_and_country(ctx.clickhouse, game_id, period)
    return [(row.day, row.event_type, row.count) for row in rows]


def test_an_hour_whose_attempts_all_moved_reads_as_empty(ctx):
    game_id, held = uuid.uuid4(), uuid.uuid4()
    day = Period.of(date(2026, 3, 10), date(2026, 3, 10), "UTC", now=NOW)
    store(ctx, [activation(game_id, "activated", at("2026-03-10T15:10:00"), activation_id=held)])
    aggregate(ctx.db, ctx.clickhouse)
    assert counted(ctx, game_id, day) == [(date(2026, 3, 10), "activation.succeeded", 1)]
    # Its hold arrives late: the attempt began the day before, held; 15:00 on the 10th is empty.
    store(ctx, [activation(game_id, "pending_review", at("2026-03-09T23:50:00"), activation_id=held)])
    aggregate(ctx.db, ctx.clickhouse)
    assert counted(ctx, game_id, day) == []
    two_days = Period.of(date(2026, 3, 9), date(2026, 3, 10), "UTC", now=NOW)
    assert counted(ctx, game_id, two_days) == [(date(2026, 3, 9), "activation.succeeded", 1)]


def test_a_time_zone_with_a_part_hour_offset_reads_the_raw_events(ctx, monkeypatch):
    game_id = uuid.uuid4()
    # 18:45 UTC is 00:15 on the 11th in Kolkata (+05:30): a UTC hour split between two days.
    store(
        ctx,
        [
            activation(game_id, "activated", at("2026-03-10T18:15:00")),
            activation(game_id, "failed", at("2026-03-10T18:45:00"), reason="KEY_REVOKED"),
        ],
    )
    aggregate(ctx.db, ctx.clickhouse)
    monkeypatch.setattr(hourly, "activations_by_day_and_country", None)  # must not be asked
    period = Period.of(date(2026, 3, 10), date(2026, 3, 11), "Asia/Kolkata", now=NOW)
    report = reports.activation_report(ctx.clickhouse, game_id, period).to_dict()
    assert [(p["t"], p["activations"], p["failed"]) for p in report["series"]] == [
        (date(2026, 3, 10), 1, 0),
        (date(2026, 3, 11), 0, 1),
    ]


def test_an_insert_seen_after_a_pass_read_past_its_stamp_is_caught_by_the_margin(ctx):
    """The change log is stamped when an insert runs; one that finishes after a pass has read
    past its stamp is read by the next pass, which starts ``margin_seconds`` earlier."""
    game_id = uuid.uuid4()
    day = Period.of(date(2026, 3, 12), date(2026, 3, 12), "UTC", now=NOW)
    aggregate(ctx.db, ctx.clickhouse)
    stamped = change_logs.server_time(ctx.clickhouse)
    store(ctx, [activation(game_id, "activated", at("2026-03-12T08:00:00"))])

    def pass_after_reading_past_it(margin_seconds: float) -> int:
        aggregator = Aggregator(ctx.db, ctx.clickhouse, interval_seconds=1.0, margin_seconds=margin_seconds)
        with ctx.db.transaction() as session:
            position = aggregator.position(ACTIVATION_HOURLY)
            positions.advance(session, position, datetime.fromtimestamp(stamped + 2, UTC))
        aggregator.run_once()
        return sum(count for _, _, count in counted(ctx, game_id, day))

    assert pass_after_reading_past_it(0) == 0  # what a pass without a margin would miss
    assert pass_after_reading_past_it(5) == 1


def test_passes_take_turns_and_versions_only_grow(ctx):
    aggregator = Aggregator(ctx.db, ctx.clickhouse, interval_seconds=1.0, margin_seconds=5.0)
    with ctx.db.transaction() as session:
        for each in AGGREGATES:
            assert positions.claim(session, aggregator.position(each)) is not None
        assert aggregator.run_once() is None  # another worker's passes have the turn
        first = positions.next_version(session)
    assert aggregator.run_once() is not None
    with ctx.db.transaction() as session:
        assert positions.next_version(session) > first


def test_the_change_logs_days_are_dropped_once_passed(ctx):
    old = datetime(2026, 1, 2, 3)
    ctx.clickhouse.insert("activation_changes", ("logged_at", "subject"), [(old, "")])
    ctx.clickhouse.insert("fraud_changes", ("logged_at", "hour"), [(old, old)])
    ctx.clickhouse.insert("key_changes", ("logged_at", "key_id"), [(old, uuid.uuid4())])
    for log in (each.changes for each in AGGREGATES):
        assert 20260102 in change_logs.partitions(ctx.clickhouse, log)
    aggregate(ctx.db, ctx.clickhouse)
    for log in (each.changes for each in AGGREGATES):
        assert 20260102 not in change_logs.partitions(ctx.clickhouse, log)


@pytest.mark.parametrize(("hours_per_slice", "year"), [(hourly.HOURS_PER_SLICE, 2033), (7, 2034)])
def test_fraud_verdicts_from_the_aggregate_equal_the_raw_events_and_a_hand_count(
    ctx, monkeypatch, hours_per_slice, year
):
    """Assessments of a year no other test uses (the fraud figures are the platform's, not a
    game's): random verdicts and rules over three days, stored in two rounds, each twice, with a
    pass after each; then the backlog again. Once with the default slices, once with slices so
    small that a pass takes many."""
    monkeypatch.setattr(hourly, "HOURS_PER_SLICE", hours_per_slice)
    rng = random.Random(33)
    assessments = []
    for _ in range(120):
        action = rng.choice(["ALLOW", "REVIEW", "BLOCK"])
        rules = rng.sample(["velocity", "vpn", "new_device", "geo_mismatch"], rng.randrange(3))
        shadow = rng.sample(["burst", "proxy"], rng.randrange(2))
        moment = at(f"{year}-05-01T00:00:00") + timedelta(minutes=rng.randrange(3 * 24 * 60))
        assessments.append((action, rules, shadow, moment))
    events = [assessed(action, rules, moment, shadow=shadow) for action, rules, shadow, moment in assessments]

    def by_hand(period: Period) -> Counter:
        counts: Counter = Counter()
        for action, rules, shadow, moment in assessments[:visible]:
            if period.start <= moment < period.end:
                counts["", "", action] += 1
                counts.update((rule, "active", action) for rule in rules)
                counts.update((rule, "shadow", action) for rule in shadow)
        return counts

    def counted(rows) -> Counter:
        return Counter({(row.rule, row.mode, row.action): row.count for row in rows})

    periods = [
        Period.of(date(year, 5, 2), date(year, 5, 3), zone, now=NOW)
        for zone in ("UTC", "Europe/Berlin", "America/New_York")
    ]
    for first, visible in ((0, 70), (70, 120)):
        store(ctx, events[first:visible])
        store(ctx, events[first:visible])
        aggregate(ctx.db, ctx.clickhouse)
        for period in periods:
            expected_counts = by_hand(period)
            assert counted(fraud_hourly.assessment_verdicts(ctx.clickhouse, period)) == expected_counts
            assert counted(raw_fraud.assessment_verdicts(ctx.clickhouse, period)) == expected_counts

    kolkata = Period.of(date(year, 5, 2), date(year, 5, 3), "Asia/Kolkata", now=NOW)
    before = [fraud.statistics(ctx.clickhouse, period) for period in [*periods, kolkata]]
    assert before[0]["assessments"]["total"] > 50
    store(ctx, events)  # the whole backlog again
    aggregate(ctx.db, ctx.clickhouse)
    ctx.clickhouse.execute("OPTIMIZE TABLE fraud_hourly FINAL")
    assert [fraud.statistics(ctx.clickhouse, period) for period in [*periods, kolkata]] == before
