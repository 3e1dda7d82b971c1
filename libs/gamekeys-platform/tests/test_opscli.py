"""The operator commands (gamekeys dlq / outbox status / consumers lag) against the real broker and
database: each test makes its own topics."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sample_service
from kafka.admin import KafkaAdminClient, NewTopic
from sample_service import events as sample_events
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from gamekeys_platform import cli
from gamekeys_platform.consumer import EventConsumer
from gamekeys_platform.events import Event
from gamekeys_platform.outbox import Outbox, kafka_producer
from gamekeys_platform.testing import settle_all

GAMEKEYS = Path(sys.executable).with_name("gamekeys")


@pytest.fixture()
def topic(kafka_servers) -> str:
    name = f"test.ops.{uuid.uuid4().hex[:8]}.events"
    admin = KafkaAdminClient(bootstrap_servers=kafka_servers, request_timeout_ms=10_000)
    admin.create_topics([NewTopic(name, 1, 1), NewTopic(f"{name}.dlq", 1, 1)])
    admin.close()
    return name


class Handler:
    """Applies widget events once per id (sample_service.applied_events counts how often), failing
    while ``broken``, as a bug would."""

    def __init__(self) -> None:
        self.broken = False

    def __call__(self, session, event: Event) -> None:
        if self.broken:
            raise ValueError("the handler has a bug")
        table = sample_service.applied_events
        session.execute(
            insert(table)
            .values(event_id=event.id, event_type=event.type, times=1)
            .on_conflict_do_update(index_elements=[table.c.event_id], set_={"times": table.c.times + 1})
        )


def times_applied(db, event_id: uuid.UUID) -> int:
    table = sample_service.applied_events
    with db.transaction() as session:
        return session.execute(select(table.c.times).where(table.c.event_id == event_id)).scalar() or 0


def send(kafka_servers, topic: str, events: list[Event]) -> None:
    """One record per batch: the local broker (Tansu) answers a partition's end offset as its last
    batch's base offset + 1, which is the true end only when that batch holds one record."""
    producer = kafka_producer(kafka_servers, client_id="test-ops-producer")
    for event in events:
        producer.send(topic, key=event.subject.encode(), value=event.to_json())
        producer.flush(timeout=10)
    producer.close(timeout=5)


def widget() -> Event:
    return Event(type="widget.counted", source="developer-portal", subject="widget", data={})


def run(capsys, *argv: str) -> tuple[int, str]:
    status = cli.main(list(argv))
    return status, capsys.readouterr().out


def consume(db, kafka_servers, topic, name, group, handler, count: int) -> int:
    consumer = EventConsumer.connect(
        db, kafka_servers, name=name, group=group, topics=[topic], handler=handler, max_attempts=1
    )
    return settle_all(consumer, count)


def test_a_dead_letter_is_listed_with_its_reason_and_replayed_once(
    db, settings, kafka_servers, topic, capsys
):
    servers = ",".join(kafka_servers)
    name, group = f"ops-test-{uuid.uuid4().hex[:8]}", f"ops-test-group-{uuid.uuid4().hex[:8]}"
    handler = Handler()
    handler.broken = True
    event = widget()
    send(kafka_servers, topic, [event])
    assert consume(db, kafka_servers, topic, name, group, handler, 1) == 1

    status, out = run(capsys, "dlq", "list", "--topic", topic, "--bootstrap-servers", servers, "--json")
    [letter] = json.loads(out)
    assert status == 0
    assert (letter["eventId"], letter["consumer"], letter["type"]) == (str(event.id), name, "widget.counted")
    assert "the handler has a bug" in letter["error"] and letter["origin"] == f"{topic}/0/0"

    show = ["dlq", "show", "--topic", topic, "--id", str(event.id), "--bootstrap-servers", servers]
    status, out = run(capsys, *show)
    assert status == 0 and json.loads(out)["event"]["id"] == str(event.id)

    # Fixed: the replay clears the consumer's dead-letter mark and publishes the event again.
    handler.broken = False
    replay = ["dlq", "replay", "--topic", topic, "--id", str(event.id), "--bootstrap-servers", servers]
    status, out = run(capsys, *replay, "--database-url", settings.database_url, "--json")
    [done] = json.loads(out)
    assert status == 0
    assert done["replayedTo"] == topic and done["inboxMarkCleared"] == [sample_service.SCHEMA]
    assert consume(db, kafka_servers, topic, name, group, handler, 1) == 1
    assert times_applied(db, event.id) == 1

    # A second replay reaches the consumer again and has no second effect (its inbox).
    status, out = run(capsys, *replay, "--database-url", settings.database_url, "--json")
    assert status == 0 and json.loads(out)[0]["inboxMarkCleared"] == []
    assert consume(db, kafka_servers, topic, name, group, handler, 1) == 1
    assert times_applied(db, event.id) == 1


def test_replay_names_what_it_replays(kafka_servers, topic, capsys):
    servers = ",".join(kafka_servers)
    with pytest.raises(SystemExit) as exited:
        cli.main(["dlq", "replay", "--topic", topic, "--bootstrap-servers", servers, "--database-url", "x"])
    assert exited.value.code == 2
    status = cli.main(["dlq", "show", "--topic", topic, "--id", "0/0", "--bootstrap-servers", servers])
    assert status == 1 and "no dead letter" in capsys.readouterr().err


def test_outbox_status_shows_the_backlog_and_its_age(db, settings, capsys):
    outbox = Outbox(db, source=sample_events.SOURCE, topic=f"test.ops.{uuid.uuid4().hex[:8]}.events")
    with db.transaction() as session:
        for n in range(3):
            outbox.add(session, sample_events.WidgetCounted(widget="w", n=n))
    status, out = run(capsys, "outbox", "status", "--database-url", settings.database_url, "--json")
    [row] = [row for row in json.loads(out) if row["schema"] == sample_service.SCHEMA]
    assert status == 0 and row["pending"] >= 3 and row["oldestAgeSeconds"] >= 0


def test_consumer_lag_is_the_end_offset_less_the_committed_one(db, kafka_servers, topic, capsys):
    name, group = f"ops-test-{uuid.uuid4().hex[:8]}", f"ops-lag-{uuid.uuid4().hex[:8]}"
    send(kafka_servers, topic, [widget() for _ in range(3)])
    assert consume(db, kafka_servers, topic, name, group, Handler(), 3) == 3
    send(kafka_servers, topic, [widget() for _ in range(2)])
    # Through the installed `gamekeys` (clients/gamekeys-cli), which finds the command by entry point.
    result = subprocess.run(
        [str(GAMEKEYS), "consumers", "lag", "--group", group, "--bootstrap-servers", ",".join(kafka_servers)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    header, line = result.stdout.strip().splitlines()
    assert header.split() == ["group", "topic", "partition", "committed", "end", "lag"]
    assert line.split() == [group, topic, "0", "3", "5", "2"]
