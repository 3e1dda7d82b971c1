"""Idempotency-Key (§3): replay, conflicting reuse, in-flight duplicates, 5xx not stored."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
import sample_service
from sqlalchemy import func, select, update

from gamekeys_platform.idempotency import purge_expired


def widgets_named(db, name: str) -> int:
    with db.transaction() as session:
        return session.execute(
            select(func.count())
            .select_from(sample_service.widgets)
            .where(sample_service.widgets.c.name == name)
        ).scalar_one()


def events_for(db, name: str) -> int:
    outbox = db.tables.outbox
    with db.transaction() as session:
        return session.execute(
            select(func.count()).select_from(outbox).where(outbox.c.payload["data"]["name"].astext == name)
        ).scalar_one()


def post(client, body, key, **headers):
    return client.post("/api/v1/widgets", json=body, headers={"Idempotency-Key": key, **headers})


def test_retry_replays_the_first_response(client, db):
    key, name = str(uuid.uuid4()), f"idem-{uuid.uuid4().hex[:8]}"
    first = post(client, {"name": name, "quantity": 2}, key)
    second = post(client, {"quantity": 2, "name": name}, key)  # same body, other key order
    assert first.status_code == second.status_code == 201
    assert second.get_data() == first.get_data()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert widgets_named(db, name) == 1
    assert events_for(db, name) == 1


def test_same_key_with_another_body_is_422_and_changes_nothing(client, db):
    key, name = str(uuid.uuid4()), f"idem-{uuid.uuid4().hex[:8]}"
    assert post(client, {"name": name, "quantity": 2}, key).status_code == 201
    response = post(client, {"name": name + "x", "quantity": 2}, key)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert widgets_named(db, name + "x") == 0


def test_keys_are_scoped_to_the_caller(client, db, make_token):
    # Two callers may pick the same key: each gets their own effect.
    key = str(uuid.uuid4())
    names = [f"scoped-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    first = post(client, {"name": names[0], "quantity": 1}, key, Authorization=f"Bearer {make_token()}")
    second = post(client, {"name": names[1], "quantity": 1}, key, Authorization=f"Bearer {make_token()}")
    assert first.status_code == second.status_code == 201
    assert all(widgets_named(db, name) == 1 for name in names)


def test_client_errors_are_stored_and_replayed(client, db):
    name = f"idem-{uuid.uuid4().hex[:8]}"
    assert client.post("/api/v1/widgets", json={"name": name, "quantity": 1}).status_code == 201
    key = str(uuid.uuid4())
    first = post(client, {"name": name, "quantity": 1}, key)
    assert first.status_code == 409
    # The conflicting widget is deleted; the same key still answers what it answered.
    client.delete(f"/api/v1/widgets/{_id_of(db, name)}")
    replay = post(client, {"name": name, "quantity": 1}, key)
    assert replay.status_code == 409
    assert replay.get_json()["error"] == first.get_json()["error"]


def test_refusals_are_stored_and_replayed_like_client_errors(client, db):
    key = str(uuid.uuid4())
    first = post(client, {"name": "reserved", "quantity": 1}, key)
    assert first.status_code == 403
    replay = post(client, {"name": "reserved", "quantity": 1}, key)
    assert replay.status_code == 403
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json()["error"] == first.get_json()["error"]
    assert widgets_named(db, "reserved") == 0


def test_server_errors_are_not_stored(client, db):
    key = str(uuid.uuid4())
    assert post(client, {"name": "explode", "quantity": 1}, key).status_code == 500
    assert post(client, {"name": "explode", "quantity": 1}, key).status_code == 500
    table = db.tables.idempotency_keys
    with db.transaction() as session:
        assert (
            session.execute(select(func.count()).select_from(table).where(table.c.key == key)).scalar_one()
            == 0
        )


def test_malformed_key_is_rejected(client):
    response = post(client, {"name": "x", "quantity": 1}, "bad key with spaces")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "VALIDATION_ERROR"


def test_concurrent_duplicates_have_one_effect(live_server, db):
    key, name = str(uuid.uuid4()), f"race-{uuid.uuid4().hex[:8]}"

    def send(_):
        return requests.post(
            f"{live_server}/api/v1/widgets",
            json={"name": name, "quantity": 5, "slow": True},
            headers={"Idempotency-Key": key},
            timeout=30,
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(send, range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    assert 201 in statuses
    for response in responses:
        if response.status_code == 409:
            assert response.headers["Retry-After"]
            assert response.json()["error"]["details"]["reason"] == "IDEMPOTENCY_IN_PROGRESS"
    assert widgets_named(db, name) == 1
    assert events_for(db, name) == 1
    created = [r.json() for r in responses if r.status_code == 201]
    assert all(body == created[0] for body in created)
    # Once the first has finished, a retry replays it.
    retry = send(0)
    assert retry.status_code == 201 and retry.json() == created[0]


def test_expired_keys_run_again_and_are_purged(client, db):
    key, name = str(uuid.uuid4()), f"ttl-{uuid.uuid4().hex[:8]}"
    assert post(client, {"name": name, "quantity": 1}, key).status_code == 201
    table = db.tables.idempotency_keys
    with db.transaction() as session:
        session.execute(
            update(table)
            .where(table.c.key == key)
            .values(expires_at=func.now() - func.make_interval(0, 0, 0, 1))
        )
    # Expired: the key no longer replays, the request runs again (and meets the existing name).
    assert post(client, {"name": name, "quantity": 1}, key).status_code == 409
    with db.transaction() as session:
        session.execute(
            update(table)
            .where(table.c.key == key)
            .values(expires_at=func.now() - func.make_interval(0, 0, 0, 1))
        )
    with db.sessions() as session:
        assert purge_expired(session, table) >= 1
    with db.transaction() as session:
        assert (
            session.execute(select(func.count()).select_from(table).where(table.c.key == key)).scalar_one()
            == 0
        )


def _id_of(db, name: str):
    with db.transaction() as session:
        return session.execute(
            select(sample_service.widgets.c.id).where(sample_service.widgets.c.name == name)
        ).scalar_one()
