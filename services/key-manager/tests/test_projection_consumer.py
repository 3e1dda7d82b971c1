"""developer.events through the real broker into the projection with the worker's consumer:
a studio, its team and its game arrive as events; a redelivered event has no second effect."""

from __future__ import annotations

import uuid

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from sqlalchemy import func, select

from gamekeys_platform.events import Event
from gamekeys_platform.testing import consumer_in_own_group, settle_all
from key_manager.db.tables import studio_projection
from key_manager.worker import PROJECTION_CONSUMER


def test_developer_events_feed_the_projection_once(client, km, kafka_servers, make_token):
    topic = f"test.km.{uuid.uuid4().hex[:8]}.developer.events"
    admin = KafkaAdminClient(bootstrap_servers=kafka_servers, request_timeout_ms=10_000)
    admin.create_topics([NewTopic(topic, 3, 1), NewTopic(f"{topic}.dlq", 1, 1)])
    admin.close()

    developer_id, game_id = str(uuid.uuid4()), str(uuid.uuid4())
    owner, marketer = str(uuid.uuid4()), str(uuid.uuid4())

    def event(event_type, subject, data):
        return Event(type=event_type, source="developer-portal", subject=subject, data=data)

    role_change = event(
        "team.member_role_changed",
        developer_id,
        {"developerId": developer_id, "userId": marketer, "role": "developer", "previousRole": "marketing"},
    )
    studio = {"developerId": developer_id}
    game = {"gameId": game_id, "developerId": developer_id}
    events = [
        event("developer.registered", developer_id,
              {**studio, "companyName": "Acme", "adminUserId": owner, "verificationStatus": "pending"}),
        event("team.member_added", developer_id, {**studio, "userId": marketer, "role": "marketing"}),
        event("developer.verified", developer_id,
              {**studio, "verificationStatus": "verified", "reason": None}),
        event("game.created", game_id, {**game, "title": "G", "status": "draft"}),
        event("pricing.updated", game_id, game),  # not the projection's business: ignored
        role_change,
        role_change,  # delivered twice
    ]  # fmt: skip
    producer = KafkaProducer(bootstrap_servers=kafka_servers, acks="all")
    for e in events:
        producer.send(topic, key=e.subject.encode(), value=e.to_json()).get(timeout=10)
    producer.close()

    consumer = consumer_in_own_group(
        km.db,
        kafka_servers,
        name=PROJECTION_CONSUMER,
        topics=[topic],
        handler=studio_projection.handlers(),
    )
    assert settle_all(consumer, len(events)) == len(events)

    with km.db.transaction() as session:
        role = session.execute(
            select(studio_projection.members.c.role).where(studio_projection.members.c.user_id == marketer)
        ).scalar_one()
        processed = session.execute(
            select(func.count()).where(km.db.tables.inbox.c.event_id == role_change.id)
        ).scalar_one()
    assert role == "developer" and processed == 1

    # The projection is what authorization reads: the promoted member may now generate retail keys.
    token = {"Authorization": f"Bearer {make_token(sub=marketer, roles=('developer',))}"}
    response = client.post(
        "/api/v1/keys/generate", json={"gameId": game_id, "keyType": "retail", "quantity": 2}, headers=token
    )
    assert response.status_code == 201, response.get_json()
