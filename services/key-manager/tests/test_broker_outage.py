"""Broker down: the API keeps working and its events wait in the outbox, then leave once the
broker is back (paused with SIGSTOP, ARCHITECTURE.md §8)."""

from __future__ import annotations

import contextlib
import uuid

from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError
from sqlalchemy import func, select

from gamekeys_platform.events import Event
from gamekeys_platform.outbox import OutboxRelay, kafka_producer
from gamekeys_platform.testing import local_broker_paused, require_local_broker


def pending_events(km, batch_id: str) -> int:
    outbox = km.db.tables.outbox
    with km.db.transaction() as session:
        return session.execute(
            select(func.count())
            .select_from(outbox)
            .where(outbox.c.sent_at.is_(None), outbox.c.message_key == batch_id)
        ).scalar_one()


def test_generation_works_while_the_broker_is_paused_and_its_event_follows(client, km, studio, kafka_servers):
    require_local_broker()
    topic = km.settings.keys_events_topic
    admin = KafkaAdminClient(bootstrap_servers=kafka_servers)
    with contextlib.suppress(TopicAlreadyExistsError):  # another test of this run made it
        admin.create_topics([NewTopic(topic, 3, 1)])
    admin.close()
    producer = kafka_producer(kafka_servers, client_id=f"test-outage-{uuid.uuid4().hex[:6]}")  # connects now

    with local_broker_paused():
        response = client.post(
            "/api/v1/keys/generate",
            json={"gameId": str(studio.game_id), "keyType": "retail", "quantity": 25},
            headers=studio.auth(),
        )
        assert response.status_code == 201, response.get_json()
        batch_id = response.get_json()["batchId"]
        assert pending_events(km, batch_id) == 1  # batch.generated, waiting

    relay = OutboxRelay(km.db, producer, service_name="key-manager")
    for _ in range(20):
        relay.relay_once()
        if pending_events(km, batch_id) == 0:
            break
    assert pending_events(km, batch_id) == 0
    producer.close()

    reader = KafkaConsumer(
        topic, bootstrap_servers=kafka_servers, auto_offset_reset="earliest", consumer_timeout_ms=5_000
    )
    events = [Event.from_json(record.value) for record in reader if record.key == batch_id.encode()]
    reader.close()
    assert [event.type for event in events] == ["batch.generated"]
