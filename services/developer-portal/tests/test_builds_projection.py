"""builds.events into the projection the preflight reads: through the worker's handler (states
in order, an older state arriving late ignored, a failure kept) and once through the real broker
with the worker's consumer (a redelivered event has no second effect)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from dp_testkit import build_event, expect, project
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from sqlalchemy import func, select

from developer_portal.db.builds_projection import apply_builds_event
from developer_portal.db.tables import builds
from developer_portal.worker import BUILDS_CONSUMER
from gamekeys_platform.testing import consumer_in_own_group, settle_all


def stored(db, version_id: str):
    with db.transaction() as session:
        return session.execute(select(builds).where(builds.c.version_id == uuid.UUID(version_id))).first()


def test_states_apply_in_time_order_and_late_older_ones_are_ignored(portal, db):
    admin, _developer = portal.studio()
    game = portal.game(admin)
    version_id = str(uuid.uuid4())
    t0 = datetime.now(UTC)
    steps = [("build.upload_started", 0), ("build.uploaded", 1), ("build.scanned", 2), ("build.ready", 3)]
    events = [
        build_event(t, game, version_id=version_id, occurred_at=t0 + timedelta(seconds=s)) for t, s in steps
    ]
    project(db, events[0], events[3], events[1], events[2])  # uploaded and scanned arrive late
    row = stored(db, version_id)
    assert row.status == "ready" and row.failure is None and row.version == "1.0.0"

    failed = build_event("build.failed", game, occurred_at=t0)
    project(db, failed)
    assert stored(db, failed.data["versionId"]).failure == {
        "reason": "malware",
        "signature": "Eicar-Test-Signature",
    }
    checks = expect(
        admin.get(f"/games/{game['gameId']}/preflight", query_string={"versionId": failed.data["versionId"]}),
        200,
    )["checks"]
    assert "failed (malware)" in checks[-1]["message"]


def test_builds_events_through_the_broker_feed_the_projection_once(portal, db, kafka_servers):
    topic = f"test.dp.{uuid.uuid4().hex[:8]}.builds.events"
    admin_client = KafkaAdminClient(bootstrap_servers=kafka_servers, request_timeout_ms=10_000)
    admin_client.create_topics([NewTopic(topic, 3, 1), NewTopic(f"{topic}.dlq", 1, 1)])
    admin_client.close()

    admin, _developer = portal.studio()
    game = portal.game(admin)
    version_id = str(uuid.uuid4())
    t0 = datetime.now(UTC)
    ready = build_event("build.ready", game, version_id=version_id, occurred_at=t0 + timedelta(seconds=2))
    events = [
        build_event("build.upload_started", game, version_id=version_id, occurred_at=t0),
        ready,
        ready,  # delivered twice
    ]
    producer = KafkaProducer(bootstrap_servers=kafka_servers, acks="all")
    for event in events:
        producer.send(topic, key=event.subject.encode(), value=event.to_json()).get(timeout=10)
    producer.close()

    consumer = consumer_in_own_group(
        db, kafka_servers, name=BUILDS_CONSUMER, topics=[topic], handler=apply_builds_event
    )
    assert settle_all(consumer, len(events)) == len(events)
    assert stored(db, version_id).status == "ready"
    with db.transaction() as session:
        processed = session.execute(
            select(func.count()).where(db.tables.inbox.c.event_id == ready.id)
        ).scalar_one()
    assert processed == 1
    body = expect(
        admin.get(f"/games/{game['gameId']}/preflight", query_string={"versionId": version_id}), 200
    )
    assert next(c for c in body["checks"] if c["check"] == "version_ready")["ok"] is True
