"""Registration → verification → team → game → metadata → pricing, against the real broker:
the relay publishes the outbox to developer.events, and a fresh consumer reads exactly the
event shapes of docs/events.md, in order per aggregate."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from dp_testkit import expect
from kafka import KafkaConsumer, TopicPartition

from gamekeys_platform import tracing
from gamekeys_platform.errors import format_timestamp
from gamekeys_platform.events import Event
from gamekeys_platform.outbox import OutboxRelay, kafka_producer

TOPIC = "developer.events"

# docs/events.md: the data fields of each type, exactly.
DATA_FIELDS = {
    "developer.registered": {"developerId", "companyName", "adminUserId", "verificationStatus"},
    "developer.verified": {"developerId", "verificationStatus", "reason"},
    "developer.updated": {"developerId", "companyName"},
    "team.member_invited": {"developerId", "invitationId", "email", "role", "expiresAt"},
    "team.member_added": {"developerId", "userId", "role"},
    "team.member_role_changed": {"developerId", "userId", "role", "previousRole"},
    "team.member_removed": {"developerId", "userId"},
    "game.created": {"gameId", "developerId", "title", "status"},
    "game.updated": {"gameId", "developerId", "title", "status"},
    "game.deleted": {"gameId", "developerId"},
    "game.metadata_updated": {"gameId", "developerId", "changedFields", "listing"},
    "pricing.updated": {
        "gameId",
        "developerId",
        "basePrice",
        "regionalPrices",
        "discount",
        "discounts",
        "listing",
    },
}


@pytest.fixture()
def topic_reader(kafka_servers):
    """A consumer without a group, positioned at the current end of every partition (or a little
    before it: the tests filter by subject)."""
    consumer = None
    for attempt in range(5):  # the local broker may be restarting: retry the bootstrap
        try:
            consumer = KafkaConsumer(
                bootstrap_servers=kafka_servers, enable_auto_commit=False, consumer_timeout_ms=500
            )
            partitions = consumer.partitions_for_topic(TOPIC)
            if partitions:
                break
        except Exception:
            if attempt == 4:
                raise
        time.sleep(1)
    assert partitions, f"topic {TOPIC} does not exist"
    assigned = [TopicPartition(TOPIC, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    consumer.seek_to_end()
    for partition in assigned:
        consumer.position(partition)  # resolve the end offsets now, before anything is published
    yield consumer
    consumer.close()


def relay_everything(db, kafka_servers) -> None:
    producer = kafka_producer(kafka_servers, client_id="developer-portal-test-relay")
    relay = OutboxRelay(db, producer, service_name="developer-portal-test")
    try:
        for _ in range(50):
            if relay.relay_once() == 0:
                with db.transaction() as session:
                    pending = session.execute(
                        db.tables.outbox.select().where(db.tables.outbox.c.sent_at.is_(None))
                    ).first()
                if pending is None:
                    return
                time.sleep(0.2)
        raise AssertionError("the outbox did not drain")
    finally:
        producer.close(timeout=5)


def read_events(consumer, subjects: set[str], expected: int, timeout: float = 30) -> list[Event]:
    found: list[Event] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(found) < expected:
        for record in consumer:
            event = Event.from_json(record.value)
            if event.subject in subjects:
                assert record.key.decode() == event.subject
                found.append(event)
    return found


def test_the_whole_flow_arrives_on_developer_events(portal, db, kafka_servers, topic_reader):
    founder = portal.user()
    developer = portal.register(founder, "Evented Studio")
    developer_id = developer["developerId"]
    portal.verify(developer_id)
    expect(founder.put("/accounts/me", json={"companyName": "Evented Studio Ltd"}), 200)

    colleague = portal.user()
    invitation = portal.invite(founder, colleague.email, "developer")
    expect(colleague.post(f"/accounts/invitations/{invitation['invitationId']}/accept"), 200)
    expect(founder.put(f"/accounts/me/team/{colleague.user_id}", json={"role": "marketing"}), 200)
    expect(founder.delete(f"/accounts/me/team/{colleague.user_id}"), 204)

    game = portal.game(founder, "Evented Game")
    game_id = game["gameId"]
    expect(founder.put(f"/games/{game_id}", json={"title": "Evented Game 2"}), 200)
    expect(
        founder.put(f"/games/{game_id}/metadata", json={"shortDescription": "Events!", "tags": ["Kafka"]}),
        200,
    )
    now = datetime.now(UTC)
    discount = {
        "percent": 25,
        "startsAt": format_timestamp(now + timedelta(days=1)),
        "endsAt": format_timestamp(now + timedelta(days=3)),
    }
    prices = {
        "basePrice": {"amount": "24.99", "currency": "USD"},
        "regionalPrices": {"DE": {"amount": "22.99", "currency": "EUR"}},
        "discounts": [discount],
    }
    expect(founder.put(f"/games/{game_id}/pricing", json=prices), 200)
    doomed = portal.game(founder, "Short Lived")
    expect(founder.delete(f"/games/{doomed['gameId']}"), 204)

    relay_everything(db, kafka_servers)
    expected_developer = [
        "developer.registered",
        "team.member_added",
        "developer.verified",
        "developer.updated",
        "team.member_invited",
        "team.member_added",
        "team.member_role_changed",
        "team.member_removed",
    ]
    expected_game = ["game.created", "game.updated", "game.metadata_updated", "pricing.updated"]
    expected_doomed = ["game.created", "game.deleted"]
    subjects = {developer_id, game_id, doomed["gameId"]}
    events = read_events(
        topic_reader, subjects, len(expected_developer) + len(expected_game) + len(expected_doomed)
    )

    by_subject: dict[str, list[Event]] = {subject: [] for subject in subjects}
    for event in events:
        by_subject[event.subject].append(event)
    assert [e.type for e in by_subject[developer_id]] == expected_developer
    assert [e.type for e in by_subject[game_id]] == expected_game
    assert [e.type for e in by_subject[doomed["gameId"]]] == expected_doomed
    for event in events:
        assert event.source == "developer-portal" and event.schema_version == 1
        assert set(event.data) == DATA_FIELDS[event.type], event
        assert tracing.is_trace_id(event.trace_id)  # the trace of the request that caused it

    data = {(e.subject, e.type): e.data for e in events}
    assert data[(developer_id, "developer.registered")] == {
        "developerId": developer_id,
        "companyName": "Evented Studio",
        "adminUserId": founder.user_id,
        "verificationStatus": "pending",
    }
    assert data[(developer_id, "developer.verified")] == {
        "developerId": developer_id,
        "verificationStatus": "verified",
        "reason": None,
    }
    added = [e.data for e in by_subject[developer_id] if e.type == "team.member_added"]
    assert added == [
        {"developerId": developer_id, "userId": founder.user_id, "role": "admin"},
        {"developerId": developer_id, "userId": colleague.user_id, "role": "developer"},
    ]
    assert data[(developer_id, "team.member_role_changed")] == {
        "developerId": developer_id,
        "userId": colleague.user_id,
        "role": "marketing",
        "previousRole": "developer",
    }
    assert data[(game_id, "game.created")] == {
        "gameId": game_id,
        "developerId": developer_id,
        "title": "Evented Game",
        "status": "draft",
    }
    assert data[(game_id, "game.metadata_updated")]["changedFields"] == ["shortDescription", "tags"]
    assert data[(game_id, "pricing.updated")] == {
        "gameId": game_id,
        "developerId": developer_id,
        "basePrice": {"amount": "24.99", "currency": "USD"},
        "regionalPrices": {"DE": {"amount": "22.99", "currency": "EUR"}},
        "discount": discount,
        "discounts": [discount],
        "listing": None,  # a draft has no store listing
    }


def test_a_refused_change_publishes_nothing(portal, db, kafka_servers, topic_reader):
    founder, developer = portal.studio()
    relay_everything(db, kafka_servers)
    # Read past the studio's own events: the local broker (Tansu) reports a partition's end as
    # the last batch's base offset + 1, so a seek to the end can land before them.
    assert len(read_events(topic_reader, {developer["developerId"]}, 3)) == 3
    response = founder.put(f"/accounts/me/team/{founder.user_id}", json={"role": "finance"})
    assert response.status_code == 409
    relay_everything(db, kafka_servers)
    assert read_events(topic_reader, {developer["developerId"]}, 1, timeout=3) == []
