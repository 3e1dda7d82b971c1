"""Ingestion through the real broker into the real ClickHouse: every topic, batches, offsets
committed only after the insert, redeliveries and replays that change no figure, bad events
dead-lettered while ingestion goes on."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import date

import pytest
from analytics_testkit import (
    CommittedOffsets,
    activation,
    aggregate,
    at,
    batch_generated,
    drain,
    ingestor_for,
    new_group,
    publish,
    sale_recorded,
    wait_for,
)
from kafka import KafkaConsumer, TopicPartition

from analytics.db.clickhouse import ClickHouseUnavailable
from analytics.domain.reports import Period
from analytics.ingest import ClickHouseSink
from analytics.usecases import reports
from gamekeys_platform.contracts import developer
from gamekeys_platform.events import Event

NOW = at("2026-03-31T12:00:00")


def figures(ctx, game_id: uuid.UUID) -> dict:
    aggregate(ctx.db, ctx.clickhouse)
    period = Period.of(date(2026, 3, 1), date(2026, 3, 31), "Europe/Berlin", now=NOW)
    report = reports.activation_report(ctx.clickhouse, game_id, period).to_dict()
    (exact,) = ctx.clickhouse.execute(
        "SELECT count(), uniqExact(event_id) FROM events FINAL WHERE game_id = %(g)s", {"g": game_id}
    )
    return {"report": report, "rowsFinal": exact[0], "distinctEvents": exact[1]}


def published_attempts(servers, topic: str, outcome: str, day: str, count: int) -> tuple[uuid.UUID, list]:
    """``count`` attempts of a new game with ``outcome`` at noon of ``day``, published on ``topic``."""
    game = uuid.uuid4()
    events = [activation(game, outcome, at(f"{day}T12:00:00")) for _ in range(count)]
    publish(servers, [(topic, e) for e in events])
    return game, events


def game_events(game_id: uuid.UUID, developer_id: uuid.UUID) -> list[Event]:
    held = uuid.uuid4()
    return [
        activation(game_id, "activated", at("2026-03-01T10:00:00"), region="DE"),
        activation(game_id, "activated", at("2026-03-01T23:30:00"), region="FR"),  # the 2nd in Berlin
        activation(game_id, "failed", at("2026-03-02T08:00:00"), region="DE", reason="REGION_RESTRICTED"),
        activation(game_id, "blocked", at("2026-03-02T09:00:00"), region="US", reason="FRAUD_DETECTED"),
        # Held for review, then approved in the same second: one activation, not two attempts.
        activation(game_id, "pending_review", at("2026-03-03T12:00:00"), activation_id=held),
        activation(game_id, "activated", at("2026-03-03T12:00:00"), activation_id=held),
        batch_generated(game_id, developer_id, 500, at("2026-03-01T09:00:00")),
    ]


def test_every_topic_lands_once_and_a_replayed_backlog_changes_no_figure(ctx, kafka_servers, own_topics):
    game, studio = uuid.uuid4(), uuid.uuid4()
    events = game_events(game, studio)
    others = [
        (own_topics["distribution_events_topic"], sale_recorded(uuid.uuid4(), [uuid.uuid4()], "9.99", NOW)),
        (
            own_topics["developer_events_topic"],
            developer.GameCreated(game_id=game, developer_id=studio, title="G", status="draft").to_event(),
        ),
    ]
    records = [
        (own_topics["keys_events_topic" if e.type.startswith("batch.") else "activations_events_topic"], e)
        for e in events
    ] + others
    publish(kafka_servers, records)

    ingestor = ingestor_for(ctx, kafka_servers, own_topics)
    try:
        drain(ingestor, own_topics, len(records))
        first = figures(ctx, game)
        assert first["report"]["totals"] == {
            "attempts": 5,
            "activations": 3,
            "failed": 1,
            "blocked": 1,
            "pendingReview": 0,
            "disputed": 0,
        }
        assert [p["activations"] for p in first["report"]["series"][:3]] == [1, 1, 1]  # Berlin days
        assert first["rowsFinal"] == first["distinctEvents"] == len(events) + 1  # + game.created
        ids = tuple(str(event.id) for _, event in records)
        (stored,) = ctx.clickhouse.execute(
            "SELECT uniqExact(event_id) FROM events WHERE event_id IN %(ids)s", {"ids": ids}
        )
        assert stored[0] == len(records)

        # The same events again (a producer's retry, a replayed backlog): read, inserted, collapsed.
        publish(kafka_servers, records)
        drain(ingestor, own_topics, 2 * len(records))
        assert figures(ctx, game) == first
    finally:
        ingestor.close()

    # A new consumer group reads every copy from the start: still the same figures.
    replay = ingestor_for(ctx, kafka_servers, own_topics)
    try:
        drain(replay, own_topics, 2 * len(records))
    finally:
        replay.close()
    assert figures(ctx, game) == first


class Killed(BaseException):
    """The process dies here (not an error the ingestor handles)."""


class KillingSink:
    """Inserts for real; on call ``kill_on`` the process "dies" before or after its insert."""

    def __init__(self, sink: ClickHouseSink, *, kill_on: int, after_insert: bool) -> None:
        self.sink, self.kill_on, self.after_insert, self.calls = sink, kill_on, after_insert, 0

    def insert_events(self, rows) -> None:
        self.calls += 1
        if self.calls == self.kill_on and not self.after_insert:
            raise Killed
        self.sink.insert_events(rows)
        if self.calls == self.kill_on:
            raise Killed


@pytest.mark.parametrize(
    "after_insert", [False, True], ids=["killed before the insert", "killed before the commit"]
)
def test_a_consumer_killed_mid_batch_loses_nothing_and_counts_nothing_twice(
    ctx, kafka_servers, own_topics, after_insert
):
    game = uuid.uuid4()
    events = [
        activation(game, ("activated", "failed", "blocked")[n % 3], at(f"2026-03-{1 + n % 28:02d}T12:00:00"))
        for n in range(600)
    ]
    publish(kafka_servers, [(own_topics["activations_events_topic"], e) for e in events])
    group = new_group()

    sink = KillingSink(ClickHouseSink(ctx.clickhouse), kill_on=2, after_insert=after_insert)
    doomed = ingestor_for(
        ctx, kafka_servers, own_topics, sink=sink, group=group, batch_size=100, batch_seconds=60
    )
    deadline = time.monotonic() + 60
    with pytest.raises(Killed):
        while time.monotonic() < deadline:
            doomed.poll_once(timeout_ms=200)
    committed = CommittedOffsets(kafka_servers, group, own_topics["activations_events_topic"])
    assert 100 <= committed() < 600  # the first batch is committed, the one in flight is not
    committed.close()
    doomed.close()  # no commit on the way out: a killed process commits nothing

    restarted = ingestor_for(ctx, kafka_servers, own_topics, group=group)
    try:
        drain(restarted, own_topics, len(events))
    finally:
        restarted.close()
    result = figures(ctx, game)
    assert result["distinctEvents"] == result["rowsFinal"] == 600
    assert result["report"]["totals"] == {
        "attempts": 600,
        "activations": 200,
        "failed": 200,
        "blocked": 200,
        "pendingReview": 0,
        "disputed": 0,
    }


class FlakySink:
    """ClickHouse unavailable for the first ``failures`` inserts; logs inserts and commits."""

    def __init__(self, sink: ClickHouseSink, failures: int, log: list[str]) -> None:
        self.sink, self.failures, self.log = sink, failures, log

    def insert_events(self, rows) -> None:
        if self.failures:
            self.failures -= 1
            self.log.append("insert failed")
            raise ClickHouseUnavailable("connection refused")
        self.sink.insert_events(rows)
        self.log.append("inserted")


def test_offsets_are_committed_only_after_the_insert_succeeded(ctx, kafka_servers, own_topics):
    game, events = published_attempts(
        kafka_servers, own_topics["activations_events_topic"], "activated", "2026-03-05", 50
    )
    log: list[str] = []
    ingestor = ingestor_for(
        ctx, kafka_servers, own_topics, sink=FlakySink(ClickHouseSink(ctx.clickhouse), 3, log)
    )
    commit = ingestor._commit

    def logged_commit(offsets, *, wait):
        log.append("commit")
        return commit(offsets, wait=wait)

    ingestor._commit = logged_commit
    try:
        drain(ingestor, own_topics, len(events))
    finally:
        ingestor.close()
    assert log[:4] == ["insert failed"] * 3 + ["inserted"]
    assert all(log[i - 1] == "inserted" for i, entry in enumerate(log) if entry == "commit")
    assert figures(ctx, game)["report"]["totals"]["activations"] == 50


def test_bad_events_are_dead_lettered_with_the_reason_and_ingestion_goes_on(ctx, kafka_servers, own_topics):
    game = uuid.uuid4()
    good = activation(game, "activated", at("2026-03-06T12:00:00"))
    broken = Event(
        type="activation.succeeded", source="activation-gateway", subject="a", data={"gameId": "x"}
    )
    unknown = Event(type="fraud.exploded", source="antifraud", subject="b", data={})
    activations, antifraud, keys = (
        own_topics[name]
        for name in ("activations_events_topic", "antifraud_events_topic", "keys_events_topic")
    )
    publish(
        kafka_servers, [(keys, b"not json"), (activations, broken), (antifraud, unknown), (activations, good)]
    )
    ingestor = ingestor_for(ctx, kafka_servers, own_topics)
    try:
        drain(ingestor, own_topics, 4)
    finally:
        ingestor.close()
    assert figures(ctx, game)["report"]["totals"]["activations"] == 1

    dead = KafkaConsumer(
        bootstrap_servers=kafka_servers, auto_offset_reset="earliest", consumer_timeout_ms=5000
    )
    dead.assign([TopicPartition(f"{topic}.dlq", 0) for topic in (keys, activations, antifraud)])
    letters = {record.topic: dict(record.headers) for record in dead}
    dead.close()
    assert set(letters) == {f"{keys}.dlq", f"{activations}.dlq", f"{antifraud}.dlq"}
    assert b"not JSON" in letters[f"{keys}.dlq"]["error"]
    assert b"activation.succeeded" in letters[f"{activations}.dlq"]["error"]
    assert b"no contract for fraud.exploded" in letters[f"{antifraud}.dlq"]["error"]
    assert all(headers["consumer"].startswith(b"test.analytics.") for headers in letters.values())


class GatedSink:
    """Each insert waits until the test lets it through (``let_through``), then fails while
    ``failures`` remain, else inserts for real; logs what it did and the size of each batch."""

    def __init__(self, sink: ClickHouseSink, *, failures: int = 0) -> None:
        self.sink, self.failures = sink, failures
        self.gate = threading.Semaphore(0)
        self.started = 0
        self.log: list[str] = []
        self.sizes: list[int] = []

    def let_through(self, inserts: int = 1) -> None:
        self.gate.release(inserts)

    def insert_events(self, rows) -> None:
        self.started += 1
        assert self.gate.acquire(timeout=60), "the test never let the insert through"
        if self.failures:
            self.failures -= 1
            self.log.append("insert failed")
            raise ClickHouseUnavailable("connection refused")
        self.sink.insert_events(rows)
        self.sizes.append(len(rows))
        self.log.append("inserted")


def test_the_next_batch_is_read_while_one_is_inserted_and_nothing_is_committed_before_its_insert_succeeds(
    ctx, kafka_servers, own_topics
):
    topic, group = own_topics["activations_events_topic"], new_group()
    game, events = published_attempts(kafka_servers, topic, "activated", "2026-03-07", 250)
    sink = GatedSink(ClickHouseSink(ctx.clickhouse), failures=1)
    ingestor = ingestor_for(
        ctx, kafka_servers, own_topics, sink=sink, group=group, batch_size=100, batch_seconds=1
    )
    committed = CommittedOffsets(kafka_servers, group, topic)
    worker = threading.Thread(target=ingestor.run_forever, daemon=True)
    worker.start()
    try:
        wait_for(lambda: sink.started == 1, 30, "the first insert", every=0.05)
        # The first batch is in the writer's hands; the consumer reads the next one meanwhile.
        wait_for(lambda: len(ingestor.batch.rows) > 0, 30, "the next batch", every=0.05)
        assert committed() == 0

        sink.let_through()  # ClickHouse refuses the first insert: retried after the backoff
        wait_for(lambda: sink.started == 2, 30, "the retry", every=0.05)
        assert sink.log == ["insert failed"] and committed() == 0

        sink.let_through()  # the retry succeeds: its batch, and only it, is committed
        wait_for(lambda: committed() > 0, 30, "the first commit", every=0.05)
        assert sink.log == ["insert failed", "inserted"] and committed() == sink.sizes[0]

        sink.let_through(10)
        wait_for(lambda: committed() == len(events), 30, "every event")
    finally:
        ingestor.stop()
        sink.let_through(10)
        worker.join(timeout=30)
        committed.close()
    assert sink.log[:2] == ["insert failed", "inserted"] and "insert failed" not in sink.log[2:]
    result = figures(ctx, game)
    assert result["rowsFinal"] == result["distinctEvents"] == len(events)


def test_stopping_while_an_insert_is_in_flight_writes_and_commits_everything_read(
    ctx, kafka_servers, own_topics
):
    topic, group = own_topics["activations_events_topic"], new_group()
    game, events = published_attempts(kafka_servers, topic, "failed", "2026-03-08", 300)
    sink = GatedSink(ClickHouseSink(ctx.clickhouse))
    ingestor = ingestor_for(
        ctx, kafka_servers, own_topics, sink=sink, group=group, batch_size=100, batch_seconds=60
    )
    committed = CommittedOffsets(kafka_servers, group, topic)
    worker = threading.Thread(target=ingestor.run_forever, daemon=True)
    worker.start()
    try:
        wait_for(lambda: sink.started == 1, 30, "the first insert", every=0.05)
        wait_for(lambda: len(ingestor.batch.rows) > 0, 30, "the next batch", every=0.05)
        ingestor.stop()  # the first batch still in flight, the next one half read
        time.sleep(0.5)
        assert committed() == 0
        sink.let_through(10)
        worker.join(timeout=30)
        assert not worker.is_alive()
        # Both were written and committed on the way out, in order, and nothing beyond them.
        assert sink.log == ["inserted", "inserted"]
        assert committed() == sum(sink.sizes)
    finally:
        ingestor.stop()
        sink.let_through(10)
        worker.join(timeout=30)
        committed.close()

    restarted = ingestor_for(ctx, kafka_servers, own_topics, group=group)
    try:
        drain(restarted, own_topics, len(events))
    finally:
        restarted.close()
    result = figures(ctx, game)
    assert result["rowsFinal"] == result["distinctEvents"] == len(events)
    assert result["report"]["totals"]["failed"] == len(events)


def test_partitions_revoked_while_an_insert_fails_are_rewound_and_their_events_delivered_again(
    ctx, kafka_servers, own_topics
):
    topic, group = own_topics["activations_events_topic"], new_group()
    game, events = published_attempts(kafka_servers, topic, "blocked", "2026-03-09", 150)
    sink = GatedSink(ClickHouseSink(ctx.clickhouse), failures=2)
    sink.let_through(100)  # no waiting here: ClickHouse refuses, then accepts
    ingestor = ingestor_for(
        ctx, kafka_servers, own_topics, sink=sink, group=group, batch_size=100, batch_seconds=1
    )
    committed = CommittedOffsets(kafka_servers, group, topic)
    try:
        deadline = time.monotonic() + 30
        while "insert failed" not in sink.log and time.monotonic() < deadline:
            ingestor.poll_once(timeout_ms=200)
        assert sink.log == ["insert failed"]

        # A rebalance now: the failed batch is tried once more, fails, and everything read is
        # forgotten and rewound, nothing committed; the partitions kept deliver it again.
        ingestor._on_revoke(ingestor.consumer, ingestor.consumer.assignment())
        assert "inserted" not in sink.log and committed() == 0
        assert ingestor.in_flight is None and ingestor.batch.empty and not ingestor.paused

        drain(ingestor, own_topics, len(events))
    finally:
        ingestor.close()
        committed.close()
    assert sum(sink.sizes) == len(events)  # every event inserted once: a refused insert wrote nothing
    result = figures(ctx, game)
    assert result["rowsFinal"] == result["distinctEvents"] == len(events)


class SlowSink:
    """Inserts for real, each batch a little late (so a rebalance finds one being read), and
    counts what it inserted."""

    def __init__(self, sink: ClickHouseSink, delay: float) -> None:
        self.sink, self.delay, self.inserted = sink, delay, 0

    def insert_events(self, rows) -> None:
        time.sleep(self.delay)
        self.sink.insert_events(rows)
        self.inserted += len(rows)


def test_a_second_consumer_joining_mid_ingestion_takes_partitions_and_nothing_is_lost_or_counted_twice(
    ctx, kafka_servers, own_topics
):
    topic, group = own_topics["activations_events_topic"], new_group()
    game, events = published_attempts(kafka_servers, topic, "failed", "2026-03-10", 900)
    first_sink, second_sink = (SlowSink(ClickHouseSink(ctx.clickhouse), 0.4) for _ in range(2))
    first, second = (
        ingestor_for(ctx, kafka_servers, own_topics, sink=sink, group=group, batch_size=50, batch_seconds=0.2)
        for sink in (first_sink, second_sink)
    )
    committed = CommittedOffsets(kafka_servers, group, topic)
    workers = [threading.Thread(target=ingestor.run_forever, daemon=True) for ingestor in (first, second)]
    workers[0].start()
    try:
        wait_for(lambda: committed() > 0, 60, "the first consumer's first commit", every=0.05)
        assert committed() < len(events)
        workers[1].start()  # the group rebalances: the first consumer writes what it read, or rewinds
        wait_for(lambda: committed() == len(events), 90, "every event")
    finally:
        for ingestor in (first, second):
            ingestor.stop()
        for worker in workers:
            worker.join(timeout=30)
        committed.close()
    assert first_sink.inserted > 0 and second_sink.inserted > 0  # both had partitions
    result = figures(ctx, game)
    assert result["rowsFinal"] == result["distinctEvents"] == len(events)
    assert result["report"]["totals"]["failed"] == len(events)
