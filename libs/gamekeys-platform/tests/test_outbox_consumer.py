"""Outbox → Kafka → consumer, end to end against the real broker, with the broker paused
mid-way (SIGSTOP/SIGCONT, see ARCHITECTURE.md §8): every event arrives, none is applied twice,
a rolled-back transaction publishes nothing, a poisonous event ends in the dead-letter topic;
the records of one poll are settled in one transaction, or one at a time when one of them fails."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import pytest
import sample_service
import sqlalchemy.exc
from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient, NewTopic
from prometheus_client import REGISTRY
from sample_service import events as sample_events
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert

from gamekeys_platform.consumer import EventConsumer
from gamekeys_platform.contracts import EventHandlers
from gamekeys_platform.events import Event
from gamekeys_platform.outbox import Outbox, OutboxRelay, kafka_producer
from gamekeys_platform.request_context import current_request_id
from gamekeys_platform.testing import consumer_in_own_group, local_broker_paused, require_local_broker

EVENTS = 1_000


def new_topic(kafka_servers, partitions: int) -> str:
    """A fresh topic and its dead-letter topic."""
    name = f"test.{uuid.uuid4().hex[:8]}.events"
    admin = KafkaAdminClient(bootstrap_servers=kafka_servers, request_timeout_ms=10_000)
    admin.create_topics([NewTopic(name, partitions, 1), NewTopic(f"{name}.dlq", 1, 1)])
    admin.close()
    return name


@pytest.fixture()
def topic(kafka_servers):
    return new_topic(kafka_servers, 3)


def apply_event(session, event: Event) -> None:
    if event.type == "widget.poison":
        raise ValueError("this event can never be handled")
    table = sample_service.applied_events
    session.execute(
        insert(table)
        .values(event_id=event.id, event_type=event.type, times=1)
        .on_conflict_do_update(index_elements=[table.c.event_id], set_={"times": table.c.times + 1})
    )


def applied(db, ids) -> dict[uuid.UUID, int]:
    table = sample_service.applied_events
    with db.transaction() as session:
        rows = session.execute(select(table.c.event_id, table.c.times).where(table.c.event_id.in_(ids))).all()
    return dict(rows)


def write_events(db, outbox: Outbox, count: int, per_transaction: int = 10) -> list[uuid.UUID]:
    ids = []
    for start in range(0, count, per_transaction):
        with db.transaction() as session:
            for n in range(start, min(count, start + per_transaction)):
                ids.append(
                    outbox.add(session, sample_events.WidgetCounted(widget=f"widget-{n % 37}", n=n)).id
                )
    return ids


class Running:
    """Relay and consumer loops on background threads, stopped at the end of the test."""

    def __init__(self, *loops) -> None:
        self.loops = loops
        self.threads = [threading.Thread(target=loop.run_forever, daemon=True) for loop in loops]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        for loop in self.loops:
            loop.stop()
        for thread in self.threads:
            thread.join(timeout=20)


def consumer_of(db, kafka_servers, topic, handler, **options) -> EventConsumer:
    name = f"test-consumer-{uuid.uuid4().hex[:8]}"
    return consumer_in_own_group(db, kafka_servers, name=name, topics=[topic], handler=handler, **options)


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_every_event_arrives_once_through_a_broker_outage(db, kafka_servers, topic):
    require_local_broker()
    outbox = Outbox(db, source=sample_events.SOURCE, topic=topic)
    producer = kafka_producer(kafka_servers, client_id="test-relay", delivery_timeout_ms=6_000)
    relay = OutboxRelay(db, producer, service_name="sample", send_timeout_seconds=8)
    consumer = consumer_of(db, kafka_servers, topic, apply_event, max_attempts=3, retry_backoff_seconds=0.1)
    group = consumer.name

    # A transaction that rolls back takes its events with it.
    rolled_back = []
    with pytest.raises(RuntimeError), db.transaction() as session:
        rolled_back.append(outbox.add(session, sample_events.WidgetCounted(widget="widget-x", n=-1)).id)
        raise RuntimeError("business rule failed")

    with Running(relay, consumer):
        first_half = write_events(db, outbox, EVENTS // 2)
        wait_until(lambda: len(applied(db, first_half)) >= EVENTS // 4, 60, "some events to arrive")
        with local_broker_paused():
            second_half = write_events(db, outbox, EVENTS // 2)  # written while the broker is away
            time.sleep(8)  # longer than the producer's delivery timeout: sends fail and are retried
        poison = write_events(db, outbox, 0)
        with db.transaction() as session:
            poison.append(outbox.add(session, sample_events.WidgetPoison(widget="widget-p")).id)
        everything = first_half + second_half
        wait_until(lambda: len(applied(db, everything)) == EVENTS, 120, "all events after the outage")
        wait_until(
            lambda: _dead_lettered(db, group, poison[0]), 60, "the poisonous event to be dead-lettered"
        )

        # Kafka redelivers (here: the same records published again): no second effect.
        for event_id in everything[:50]:
            producer.send(topic, key=b"dup", value=_payload(db, event_id))
        producer.flush(timeout=10)
        time.sleep(3)

    counts = applied(db, everything)
    assert len(counts) == EVENTS
    assert set(counts.values()) == {1}
    assert applied(db, rolled_back) == {}
    outbox_table = db.tables.outbox
    with db.transaction() as session:
        pending = session.execute(
            select(func.count())
            .select_from(outbox_table)
            .where(outbox_table.c.topic == topic, outbox_table.c.sent_at.is_(None))
        ).scalar_one()
        retried = session.execute(
            select(func.count())
            .select_from(outbox_table)
            .where(outbox_table.c.topic == topic, outbox_table.c.attempts > 0)
        ).scalar_one()
    assert pending == 0
    assert retried > 0, "the outage should have made some sends fail and be retried"

    dead = KafkaConsumer(
        f"{topic}.dlq",
        bootstrap_servers=kafka_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5_000,
    )
    dead_letters = [record for record in dead]
    dead.close()
    assert [Event.from_json(r.value).id for r in dead_letters] == [poison[0]]
    assert dict(dead_letters[0].headers)["consumer"] == group.encode()


def test_events_of_one_aggregate_keep_their_order(db, kafka_servers, topic):
    outbox = Outbox(db, source=sample_events.SOURCE, topic=topic)
    relay = OutboxRelay(db, kafka_producer(kafka_servers, client_id="test-relay"), service_name="sample")
    with db.transaction() as session:
        sent = [
            outbox.add(session, sample_events.WidgetStep(widget="widget-1", step=step)).id
            for step in range(30)
        ]
    while relay.relay_once():
        pass
    reader = KafkaConsumer(
        topic, bootstrap_servers=kafka_servers, auto_offset_reset="earliest", consumer_timeout_ms=5_000
    )
    received = [Event.from_json(record.value) for record in reader if record.key == b"widget-1"]
    reader.close()
    assert [event.id for event in received] == sent
    assert all(event.source == sample_events.SOURCE and event.schema_version == 1 for event in received)


def _dead_lettered(db, consumer: str, event_id: uuid.UUID) -> bool:
    inbox = db.tables.inbox
    with db.transaction() as session:
        outcome = session.execute(
            select(inbox.c.outcome).where(inbox.c.consumer == consumer, inbox.c.event_id == event_id)
        ).scalar_one_or_none()
    return outcome == "dead_lettered"


def _payload(db, event_id: uuid.UUID) -> bytes:
    outbox_table = db.tables.outbox
    with db.transaction() as session:
        payload = session.execute(
            select(outbox_table.c.payload).where(outbox_table.c.event_id == event_id)
        ).scalar_one()
    return Event.from_dict(payload).to_json()


def test_a_consumer_settles_types_it_does_not_handle_without_a_transaction(db, kafka_servers, topic):
    outbox = Outbox(db, source=sample_events.SOURCE, topic=topic)
    relay = OutboxRelay(db, kafka_producer(kafka_servers, client_id="test-relay"), service_name="sample")
    consumer = consumer_of(db, kafka_servers, topic, apply_event, event_types={"widget.counted"})
    group = consumer.name
    with db.transaction() as session:
        # A poisonous event of a type this consumer does not handle never reaches the handler.
        ignored = [
            outbox.add(session, kind(widget="w-1")).id
            for kind in (sample_events.WidgetRenamed, sample_events.WidgetPoison)
        ]
    counted = write_events(db, outbox, 20)
    with Running(relay, consumer):
        wait_until(lambda: len(applied(db, counted)) == 20, 60, "the handled events")
    inbox = db.tables.inbox
    with db.transaction() as session:
        recorded = set(session.execute(select(inbox.c.event_id).where(inbox.c.consumer == group)).scalars())
    assert recorded == set(counted)  # the ignored types left no inbox row and no effect
    assert applied(db, ignored) == {}


# The records of one poll are settled in one transaction.


@pytest.fixture()
def one_partition_topic(kafka_servers):
    """A topic of one partition, so that a poll returns the events in the order they were sent."""
    return new_topic(kafka_servers, 1)


class RecordingHandler:
    """``apply_event`` plus, per event, the transaction and request id it was applied in; fails
    on ``widget.flaky`` as an unreachable database would, as many times as told."""

    def __init__(self, flaky_failures: int = 0) -> None:
        self.runs: Counter[uuid.UUID] = Counter()
        self.transactions: dict[uuid.UUID, int] = {}
        self.request_ids: dict[uuid.UUID, str | None] = {}
        self.flaky_failures = flaky_failures

    def __call__(self, session, event: Event) -> None:
        self.runs[event.id] += 1
        if event.type == "widget.flaky" and self.flaky_failures:
            self.flaky_failures -= 1
            raise sqlalchemy.exc.OperationalError("SELECT 1", {}, ConnectionError("database away"))
        self.transactions[event.id] = session.execute(text("SELECT txid_current()")).scalar_one()
        self.request_ids[event.id] = current_request_id()
        apply_event(session, event)


def send(kafka_servers, topic, events: list[Event]) -> None:
    producer = kafka_producer(kafka_servers, client_id="test-producer")
    for event in events:
        producer.send(topic, key=b"widget", value=event.to_json())
    producer.flush(timeout=10)
    producer.close(timeout=5)


def widget(event_type: str = "widget.counted") -> Event:
    return Event(
        type=event_type, source="developer-portal", subject="widget", data={}, trace_id=uuid.uuid4().hex
    )


def settle(consumer: EventConsumer, count: int, timeout: float = 60) -> None:
    settled, deadline = 0, time.monotonic() + timeout
    while settled < count:
        assert time.monotonic() < deadline, f"settled {settled} of {count}"
        settled += consumer.poll_once(timeout_ms=500)


def consumed(consumer: EventConsumer, outcome: str) -> float:
    return (
        REGISTRY.get_sample_value("events_consumed_total", {"consumer": consumer.name, "outcome": outcome})
        or 0
    )


def close(consumer: EventConsumer) -> None:
    consumer.consumer.close(autocommit=False)
    consumer.dead_letter_producer.close(timeout=5)


def test_the_events_of_one_poll_are_applied_once_in_one_transaction(db, kafka_servers, one_partition_topic):
    events = [widget() for _ in range(50)]
    ignored = widget("widget.renamed")
    send(kafka_servers, one_partition_topic, [*events[:25], ignored, *events[25:]])
    handler = RecordingHandler()
    consumer = consumer_of(db, kafka_servers, one_partition_topic, handler, event_types={"widget.counted"})
    polls = []
    kafka_poll = consumer.consumer.poll

    def recorded_poll(**options):
        polls.append(kafka_poll(**options))
        return polls[-1]

    consumer.consumer.poll = recorded_poll
    try:
        settle(consumer, len(events) + 1)
    finally:
        close(consumer)

    ids = [e.id for e in events]
    assert applied(db, ids) == dict.fromkeys(ids, 1)
    # One transaction per poll that returned records (the broker may split them over polls).
    batches = [records for polled in polls for records in polled.values()]
    assert len(set(handler.transactions.values())) == len(batches) < len(events)
    assert all(handler.request_ids[e.id] == e.trace_id for e in events)
    assert current_request_id() is None
    assert (consumed(consumer, "processed"), consumed(consumer, "ignored")) == (len(events), 1)


def test_a_duplicate_within_or_between_polls_has_no_second_effect(db, kafka_servers, one_partition_topic):
    first, second = [widget() for _ in range(10)], [widget() for _ in range(10)]
    handler = RecordingHandler()
    consumer = consumer_of(db, kafka_servers, one_partition_topic, handler)
    try:
        # Again right after: in the same poll when the broker returns them together.
        send(kafka_servers, one_partition_topic, first + first[:3])
        settle(consumer, 13)
        send(kafka_servers, one_partition_topic, first[3:6] + second + second[:2])  # and in a later one
        settle(consumer, 15)
    finally:
        close(consumer)
    ids = [e.id for e in first + second]
    assert applied(db, ids) == dict.fromkeys(ids, 1)
    assert (consumed(consumer, "processed"), consumed(consumer, "duplicate")) == (20, 8)
    inbox = db.tables.inbox
    with db.transaction() as session:
        rows = session.execute(select(func.count()).where(inbox.c.consumer == consumer.name)).scalar_one()
    assert rows == 20


def test_a_failing_event_in_a_poll_is_retried_or_dead_lettered_alone(db, kafka_servers, one_partition_topic):
    """The poll's transaction rolls back; its events are then settled one at a time: the others
    apply once, an event failing on an unreachable dependency is retried until it applies, a
    poisonous one is dead-lettered after ``max_attempts``."""
    before, after = [widget() for _ in range(5)], [widget() for _ in range(5)]
    flaky, poison = widget("widget.flaky"), widget("widget.poison")
    handler = RecordingHandler(flaky_failures=8)  # more than max_attempts: transient is never fatal
    consumer = consumer_of(
        db, kafka_servers, one_partition_topic, handler, max_attempts=3, retry_backoff_seconds=0.05
    )
    send(kafka_servers, one_partition_topic, [*before, flaky, poison, *after])
    try:
        settle(consumer, 12)
    finally:
        close(consumer)

    ids = [e.id for e in [*before, flaky, *after]]
    assert applied(db, ids) == dict.fromkeys(ids, 1)
    assert applied(db, [poison.id]) == {}
    assert _dead_lettered(db, consumer.name, poison.id)
    assert consumer.failures == {}
    assert handler.runs[before[0].id] > 1  # once in the rolled-back transaction of the poll
    assert (consumed(consumer, "processed"), consumed(consumer, "dead_lettered")) == (11, 1)
    dead = KafkaConsumer(
        f"{one_partition_topic}.dlq",
        bootstrap_servers=kafka_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5_000,
    )
    assert [Event.from_json(r.value).id for r in dead] == [poison.id]
    dead.close()


def test_a_poll_of_one_type_reaches_a_together_handler_as_one_run(db, kafka_servers, one_partition_topic):
    """EventHandlers with a ``together`` type: what one poll brings is claimed in the inbox and
    handed over as one list (a redelivered copy left out); a run that fails rolls the poll back
    and its events are settled one at a time, each a run of one, none lost or applied twice."""
    runs = []
    fail_once = [True]

    def count_run(session, run):
        if fail_once[0] and len(run) > 1:
            fail_once[0] = False
            raise RuntimeError("a dependency went away")
        runs.append([event.id for _data, event in run])

    events = [sample_events.WidgetCounted(widget="w", n=n).to_event() for n in range(30)]
    handlers = EventHandlers({}, together={sample_events.WidgetCounted: count_run})
    consumer = consumer_of(db, kafka_servers, one_partition_topic, handlers)
    send(kafka_servers, one_partition_topic, [*events[:20], events[3]])
    try:
        settle(consumer, 21)
        first_phase = len(runs)
        send(kafka_servers, one_partition_topic, [events[5], *events[20:], events[21]])  # with copies
        settle(consumer, 12)
    finally:
        close(consumer)
    # The failed poll was settled one event at a time, each once.
    assert runs[:first_phase] == [[e.id] for e in events[:20]]
    # Later polls went together, in order, copies of settled events left out.
    later = runs[first_phase:]
    assert [event_id for run in later for event_id in run] == [e.id for e in events[20:]]
    assert any(len(run) > 1 for run in later)
    assert consumed(consumer, "processed") == len(events)


def test_an_event_that_breaks_its_contract_is_dead_lettered_at_once_with_the_reason(
    db, kafka_servers, one_partition_topic
):
    """Typed handlers: data with a field the contract does not know is read; data missing a
    required field never reaches the handler and is dead-lettered on its first delivery."""
    counted = {}  # by event id: the poll's transaction runs the handler once before it rolls back
    handlers = EventHandlers(
        {sample_events.WidgetCounted: lambda session, data, event: counted.update({event.id: data.n})}
    )

    def counted_event(data: dict) -> Event:
        return Event(type="widget.counted", source=sample_events.SOURCE, subject="widget", data=data)

    newer = counted_event({"widget": "w", "n": 1, "colour": "blue"})  # a field added later
    broken = counted_event({"widget": "w"})
    after = counted_event({"widget": "w", "n": 2})
    consumer = consumer_of(db, kafka_servers, one_partition_topic, handlers, max_attempts=5)
    send(kafka_servers, one_partition_topic, [newer, broken, after])
    try:
        settle(consumer, 3)
    finally:
        close(consumer)
    assert counted == {newer.id: 1, after.id: 2}
    assert _dead_lettered(db, consumer.name, broken.id)
    assert consumer.failures == {}  # no retries: no attempt can mend it
    dead = KafkaConsumer(
        f"{one_partition_topic}.dlq",
        bootstrap_servers=kafka_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5_000,
    )
    [record] = list(dead)
    dead.close()
    assert Event.from_json(record.value).id == broken.id
    assert b"widget.counted v1: n: Field required" in dict(record.headers)["error"]


def test_a_consumer_stopped_while_joining_leaves_its_group_usable(db, kafka_servers, topic):
    """Stopped in the middle of its first group join (a worker restarted at once), a consumer
    still leaves the group cleanly, so the next member of the group is given the partitions."""
    group = f"join-{uuid.uuid4().hex[:8]}"
    first = EventConsumer.connect(
        db, kafka_servers, name="join-test", group=group, topics=[topic], handler=apply_event
    )
    thread = threading.Thread(target=first.run_forever)
    thread.start()
    time.sleep(0.5)  # the join is in flight
    first.stop()
    thread.join(timeout=30)
    assert not thread.is_alive()

    second = EventConsumer.connect(
        db, kafka_servers, name="join-test", group=group, topics=[topic], handler=apply_event
    )
    try:
        wait_until(
            lambda: second.poll_once() >= 0 and second.consumer.assignment(), 60, "the next member to join"
        )
    finally:
        second.consumer.close(autocommit=False)
        second.dead_letter_producer.close(timeout=5)


def lag(consumer: EventConsumer, topic: str) -> float | None:
    return REGISTRY.get_sample_value(
        "events_consumer_lag", {"consumer": consumer.name, "topic": topic, "partition": "0"}
    )


def test_the_lag_gauge_follows_what_the_member_has_left_to_consume(db, kafka_servers, one_partition_topic):
    events = [widget() for _ in range(30)]
    send(kafka_servers, one_partition_topic, events)
    consumer = consumer_of(db, kafka_servers, one_partition_topic, RecordingHandler())
    # Every outcome is exported at 0 from the start, so an alert on increase() sees the first one.
    assert consumed(consumer, "dead_lettered") == 0.0
    kafka_poll = consumer.consumer.poll
    consumer.consumer.poll = lambda **options: kafka_poll(**{**options, "max_records": 10})
    try:
        settled = 0
        while settled == 0:
            settled = consumer.poll_once(timeout_ms=500)
        consumer._lag_refreshed = 0.0  # refresh now, not after LAG_REFRESH_SECONDS
        consumer._refresh_lag()
        assert lag(consumer, one_partition_topic) == len(events) - settled > 0
        settle(consumer, len(events) - settled)
        consumer._lag_refreshed = 0.0
        consumer._refresh_lag()
        assert lag(consumer, one_partition_topic) == 0
    finally:
        close(consumer)
