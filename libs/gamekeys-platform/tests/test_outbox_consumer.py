"""Outbox → Kafka → consumer, end to end against the real broker, with the broker paused
mid-way (SIGSTOP/SIGCONT, see ARCHITECTURE.md §8): every event arrives, none is applied twice,
a rolled-back transaction publishes nothing, a poisonous event ends in the dead-letter topic."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import sample_service
from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient, NewTopic
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from gamekeys_platform.consumer import EventConsumer, kafka_consumer
from gamekeys_platform.events import Event
from gamekeys_platform.outbox import Outbox, OutboxRelay, kafka_producer

INFRA = Path(__file__).resolve().parents[3] / "deploy" / "local" / "infra.sh"
EVENTS = 1_000


def broker(action: str) -> None:
    subprocess.run([str(INFRA), action, "kafka"], check=True, capture_output=True, timeout=30)


@pytest.fixture()
def topic(kafka_servers):
    name = f"test.{uuid.uuid4().hex[:8]}.events"
    admin = KafkaAdminClient(bootstrap_servers=kafka_servers, request_timeout_ms=10_000)
    admin.create_topics([NewTopic(name, 3, 1), NewTopic(f"{name}.dlq", 1, 1)])
    admin.close()
    return name


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
                ids.append(outbox.add(session, "widget.counted", f"widget-{n % 37}", {"n": n}).id)
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


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_every_event_arrives_once_through_a_broker_outage(db, kafka_servers, topic):
    outbox = Outbox(db, source="developer-portal", topic=topic)
    producer = kafka_producer(kafka_servers, client_id="test-relay", delivery_timeout_ms=6_000)
    relay = OutboxRelay(db, producer, service_name="sample", send_timeout_seconds=8)
    group = f"test-consumer-{uuid.uuid4().hex[:8]}"
    consumer = EventConsumer(
        db,
        kafka_consumer(kafka_servers, group_id=group, topics=[topic]),
        kafka_producer(kafka_servers, client_id="test-dlq"),
        name=group,
        handler=apply_event,
        max_attempts=3,
        retry_backoff_seconds=0.1,
    )

    # A transaction that rolls back takes its events with it.
    rolled_back = []
    with pytest.raises(RuntimeError), db.transaction() as session:
        rolled_back.append(outbox.add(session, "widget.counted", "widget-x", {"n": -1}).id)
        raise RuntimeError("business rule failed")

    with Running(relay, consumer):
        first_half = write_events(db, outbox, EVENTS // 2)
        wait_until(lambda: len(applied(db, first_half)) >= EVENTS // 4, 60, "some events to arrive")
        broker("pause")
        try:
            second_half = write_events(db, outbox, EVENTS // 2)  # written while the broker is away
            time.sleep(8)  # longer than the producer's delivery timeout: sends fail and are retried
        finally:
            broker("resume")
        poison = write_events(db, outbox, 0)
        with db.transaction() as session:
            poison.append(outbox.add(session, "widget.poison", "widget-p", {}).id)
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
    outbox = Outbox(db, source="developer-portal", topic=topic)
    relay = OutboxRelay(db, kafka_producer(kafka_servers, client_id="test-relay"), service_name="sample")
    with db.transaction() as session:
        sent = [outbox.add(session, "widget.step", "widget-1", {"step": step}).id for step in range(30)]
    while relay.relay_once():
        pass
    reader = KafkaConsumer(
        topic, bootstrap_servers=kafka_servers, auto_offset_reset="earliest", consumer_timeout_ms=5_000
    )
    received = [Event.from_json(record.value) for record in reader if record.key == b"widget-1"]
    reader.close()
    assert [event.id for event in received] == sent
    assert all(event.source == "developer-portal" and event.schema_version == 1 for event in received)


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
    outbox = Outbox(db, source="developer-portal", topic=topic)
    relay = OutboxRelay(db, kafka_producer(kafka_servers, client_id="test-relay"), service_name="sample")
    group = f"test-consumer-{uuid.uuid4().hex[:8]}"
    consumer = EventConsumer(
        db,
        kafka_consumer(kafka_servers, group_id=group, topics=[topic]),
        kafka_producer(kafka_servers, client_id="test-dlq"),
        name=group,
        handler=apply_event,
        event_types={"widget.counted"},
    )
    with db.transaction() as session:
        # A poisonous event of a type this consumer does not handle never reaches the handler.
        ignored = [outbox.add(session, kind, "w-1", {}).id for kind in ("widget.renamed", "widget.poison")]
    counted = write_events(db, outbox, 20)
    with Running(relay, consumer):
        wait_until(lambda: len(applied(db, counted)) == 20, 60, "the handled events")
    inbox = db.tables.inbox
    with db.transaction() as session:
        recorded = set(session.execute(select(inbox.c.event_id).where(inbox.c.consumer == group)).scalars())
    assert recorded == set(counted)  # the ignored types left no inbox row and no effect
    assert applied(db, ignored) == {}
