"""A version's life beyond the upload: its changelog edited, an upload never completed expired by
housekeeping, a worker killed mid-verification (another run finishes the build, once), and the
developer.events projection fed through the real broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from gb_testkit import events_of, put_parts, settings_env, version_body
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from sqlalchemy import func, select, update

from game_builds.db import builds as repo
from game_builds.db.tables import builds, studio_projection
from game_builds.storage import UploadGone
from game_builds.usecases.processing import expire_uploads, process_next
from game_builds.worker import PROJECTION_CONSUMER
from gamekeys_platform.contracts import developer
from gamekeys_platform.testing import consumer_in_own_group, settle_all

HERE = Path(__file__).parent


def create(client, studio, data, **overrides):
    answer = client.post(studio.versions, json=version_body(data, **overrides), headers=studio.auth())
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def test_the_changelog_is_edited_and_nothing_else(client, studio):
    created = create(client, studio, b"c" * 10)
    url = f"{studio.versions}/{created['versionId']}"
    edited = client.put(url, json={"changelog": "fixed the crash on start"}, headers=studio.auth())
    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["changelog"] == "fixed the crash on start"
    assert client.get(url, headers=studio.auth()).get_json()["changelog"] == "fixed the crash on start"
    for body, status in [
        ({"changelog": "x", "version": "9.9"}, 422),
        ({}, 422),
        ({"changelog": "x" * 10001}, 422),
    ]:
        answer = client.put(url, json=body, headers=studio.auth())
        assert answer.status_code == status and answer.get_json()["error"]["code"] == "VALIDATION_ERROR"
    assert client.put(url, json={"changelog": "x"}, headers=studio.auth("marketing")).status_code == 403
    missing = f"{studio.versions}/{uuid.uuid4()}"
    assert client.put(missing, json={"changelog": "x"}, headers=studio.auth()).status_code == 404
    version = client.get(url, headers=studio.auth()).get_json()
    assert version["changelog"] == "fixed the crash on start" and version["version"] == "1.0.0"


def test_an_upload_not_completed_in_time_is_aborted_and_fails(client, gb, studio):
    data = os.urandom(6 * 1024 * 1024)
    created = create(client, studio, data)
    put_parts(created["upload"]["parts"][:1], data, created["upload"]["partSize"])
    fresh = create(client, studio, b"f" * 10, version="1.0.1")
    version_id = uuid.UUID(created["versionId"])
    with gb.db.transaction() as session:
        session.execute(
            update(builds)
            .where(builds.c.id == version_id)
            .values(upload_expires_at=func.now() - func.make_interval(0, 0, 0, 0, 1))
        )
    assert expire_uploads(gb) >= 1
    version = client.get(f"{studio.versions}/{version_id}", headers=studio.auth()).get_json()
    assert version["status"] == "failed" and version["failure"]["reason"] == "upload_expired"
    with pytest.raises(UploadGone):  # S3 no longer keeps its parts
        gb.store.received_parts(f"builds/{studio.game_id}/{version_id}", created["upload"]["uploadId"])
    [failed] = events_of(gb, version_id, "build.failed")
    assert failed["data"]["failure"]["reason"] == "upload_expired"
    assert (
        client.get(f"{studio.versions}/{fresh['versionId']}", headers=studio.auth()).get_json()["status"]
        == "uploading"
    )
    expire_uploads(gb)  # a second run leaves it alone
    assert events_of(gb, version_id, "build.failed") == [failed]


def test_a_worker_killed_mid_verification_is_taken_over_and_the_build_finishes_once(client, gb, studio):
    data = os.urandom(3 * 1024 * 1024)
    created = create(client, studio, data)
    parts = put_parts(created["upload"]["parts"], data, created["upload"]["partSize"])
    version_id = uuid.UUID(created["versionId"])
    url = f"{studio.versions}/{version_id}"
    assert (
        client.post(f"{url}/upload/complete", json={"parts": parts}, headers=studio.auth()).status_code == 202
    )

    lease = 5
    env = {**os.environ, **settings_env(gb.settings), "BUILD_PROCESSING_LEASE_SECONDS": str(lease)}
    worker = subprocess.Popen([sys.executable, str(HERE / "slow_worker.py")], env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and worker.poll() is None:
            with gb.db.transaction() as session:
                row = repo.get(session, version_id, studio.game_id)
            if row.status == "processing":
                break
            time.sleep(0.05)
        assert row.status == "processing" and row.attempts == 1
        time.sleep(1.5)  # reading its second chunk of three
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.kill()
        worker.wait(10)
    assert worker.returncode == -signal.SIGKILL

    assert process_next(gb) is None  # its lease holds the build for a while
    assert client.get(url, headers=studio.auth()).get_json()["status"] == "processing"
    time.sleep(lease)
    while process_next(gb) is not None:
        pass
    version = client.get(url, headers=studio.auth()).get_json()
    assert version["status"] == "ready" and version["bytesVerified"] == len(data)
    with gb.db.transaction() as session:
        assert repo.get(session, version_id, studio.game_id).attempts == 2
    assert [e["type"] for e in events_of(gb, version_id)] == [
        "build.upload_started",
        "build.uploaded",
        "build.scanned",
        "build.ready",
    ]


def test_developer_events_through_the_broker_decide_who_may_upload(client, gb, kafka_servers, make_token):
    topic = f"test.gb.{uuid.uuid4().hex[:8]}.developer.events"
    admin = KafkaAdminClient(bootstrap_servers=kafka_servers, request_timeout_ms=10_000)
    admin.create_topics([NewTopic(topic, 3, 1), NewTopic(f"{topic}.dlq", 1, 1)])
    admin.close()

    developer_id, game_id = uuid.uuid4(), uuid.uuid4()
    owner, member = str(uuid.uuid4()), str(uuid.uuid4())
    promoted = developer.TeamMemberRoleChanged(
        developer_id=developer_id, user_id=member, role="developer", previous_role="marketing"
    ).to_event()
    events = [
        developer.DeveloperRegistered(
            developer_id=developer_id, company_name="Acme", admin_user_id=owner, verification_status="pending"
        ).to_event(),
        developer.TeamMemberAdded(developer_id=developer_id, user_id=member, role="marketing").to_event(),
        developer.GameCreated(
            game_id=game_id, developer_id=developer_id, title="G", status="draft"
        ).to_event(),
        promoted,
        promoted,  # delivered twice
    ]
    producer = KafkaProducer(bootstrap_servers=kafka_servers, acks="all")
    for event in events:
        producer.send(topic, key=event.subject.encode(), value=event.to_json()).get(timeout=10)
    producer.close()

    consumer = consumer_in_own_group(
        gb.db, kafka_servers, name=PROJECTION_CONSUMER, topics=[topic], handler=studio_projection.handlers()
    )
    assert settle_all(consumer, len(events)) == len(events)
    with gb.db.transaction() as session:
        processed = session.execute(
            select(func.count()).where(gb.db.tables.inbox.c.event_id == promoted.id)
        ).scalar_one()
    assert processed == 1

    # The promoted member now writes builds of the game; a stranger still gets 404.
    versions = f"/api/v1/developer/games/{game_id}/versions"
    token = {"Authorization": f"Bearer {make_token(sub=member, roles=('developer',))}"}
    assert client.post(versions, json=version_body(b"p" * 10), headers=token).status_code == 201
    stranger = {"Authorization": f"Bearer {make_token(roles=('developer',))}"}
    assert client.get(versions, headers=stranger).status_code == 404
