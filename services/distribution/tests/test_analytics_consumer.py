"""Activation counts from keys.events through the real broker into the analytics; the worker's
loops; the migration matches the tables."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from distribution.consumers import apply_event
from distribution.db.tables import metadata
from distribution.worker import build_loops
from gamekeys_platform.contracts import keys as key_events
from gamekeys_platform.events import Event
from gamekeys_platform.outbox import OutboxRelay, kafka_producer
from gamekeys_platform.testing import consumer_in_own_group, migration_drift
from gamekeys_platform.workers import Deferred

API = "/api/v1/distribution"


def key_activated(key_id, retailer_id) -> Event:
    data = key_events.KeyActivated(
        key_id=key_id,
        batch_id=uuid.uuid4(),
        game_id=uuid.uuid4(),
        developer_id=uuid.uuid4(),
        key_type="retail",
        previous_status="sold",
        user_id="player-1",
        activation_id=str(uuid.uuid4()),
        region="DE",
        retailer_id=retailer_id,
        allocation_id=None,
        activated_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return data.to_event()


def test_activations_from_keys_events_feed_the_analytics(
    client,
    make_game,
    make_retailer,
    allocate,
    retailer_token,
    km_app,
    make_token,
    dist,
    admin_auth,
    kafka_servers,
):
    game = make_game(5)
    retailer = make_retailer([game.game_id])
    assert allocate(retailer, game, 4).status_code == 201
    token = retailer_token(retailer)
    keys = client.get(f"{API}/retailer/keys?limit=10", headers=token).get_json()["items"]
    sold = client.post(
        f"{API}/retailer/sales",
        json={
            "orderId": "o-1",
            "keyIds": [k["keyId"] for k in keys[:2]],
            "price": {"amount": "5.00", "currency": "EUR"},
            "soldAt": datetime.now(UTC).isoformat(),
        },
        headers=token,
    )
    assert sold.status_code == 201
    service = {
        "Authorization": f"Bearer {make_token(sub='activation-gateway', roles=(), scopes=('keys:activate',))}"
    }
    activated = km_app.test_client().post(
        "/internal/v1/keys/activate",
        json={"key": keys[0]["key"], "userId": "p", "activationId": str(uuid.uuid4()), "userRegion": "DE"},
        headers=service,
    )
    assert activated.status_code == 200

    km = km_app.extensions["key_manager"]
    relay = OutboxRelay(
        km.db, kafka_producer(kafka_servers, client_id="test-km-relay"), service_name="key-manager"
    )
    while relay.relay_once():
        pass
    relay.producer.close(timeout=5)
    consumer = consumer_in_own_group(
        dist.db,
        kafka_servers,
        name="distribution.activations",
        topics=[dist.settings.keys_events_topic],
        handler=apply_event,
    )

    def metrics():
        page = client.get(f"{API}/analytics?limit=100", headers=admin_auth).get_json()
        cursor = page["nextCursor"]
        items = page["items"]
        while cursor:
            page = client.get(f"{API}/analytics?limit=100&cursor={cursor}", headers=admin_auth).get_json()
            items += page["items"]
            cursor = page["nextCursor"]
        return next(item for item in items if item["retailerId"] == retailer["id"])

    deadline = time.monotonic() + 30
    try:
        while metrics()["activated"] == 0 and time.monotonic() < deadline:
            consumer.poll_once(timeout_ms=500)
    finally:
        consumer.consumer.close(autocommit=False)
        consumer.dead_letter_producer.close(timeout=5)
    assert metrics() == {
        "retailerId": retailer["id"],
        "name": "Key Shop",
        "status": "active",
        "allocated": 4,
        "sold": 2,
        "returned": 0,
        "activated": 1,
        "chargedBack": 0,
        "sellThrough": "0.5000",
        "activationRate": "0.5000",
        "chargebackRate": "0.0000",
    }
    # The same key activated again counts no second time; another key's activation does.
    # activation-gateway's activation.succeeded repeats key-manager's key.activated: not read.
    assert "activation.succeeded" not in apply_event.event_types
    with dist.db.transaction() as session:
        for key in keys[:2]:
            apply_event(session, key_activated(key["keyId"], retailer["id"]))
        apply_event(session, key_activated(keys[2]["keyId"], None))  # no retailer: not ours
        apply_event(
            session,
            Event(
                type="activation.succeeded",
                source="activation-gateway",
                subject=str(uuid.uuid4()),
                data={"keyId": keys[3]["keyId"], "activatedAt": "2026-01-01T00:00:00Z"},
            ),
        )
        apply_event(session, Event(type="batch.generated", source="key-manager", subject="x", data={}))
    assert metrics()["activated"] == 2


def test_worker_loops_are_deferred(settings, dist):
    loops = build_loops(settings, dist.db)
    assert [type(loop).__name__ for loop in loops] == [
        "Deferred",
        "Deferred",
        "Deferred",
        "PeriodicTask",
        "PeriodicTask",
    ]
    assert [loop.name for loop in loops[3:]] == ["orphaned allocations", "housekeeping"]
    assert all(isinstance(loop, Deferred) for loop in loops[:3])


def test_openapi_lists_every_route(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/distribution/retailers",
        "/api/v1/distribution/retailers/{retailer_id}",
        "/api/v1/distribution/retailers/{retailer_id}/credentials",
        "/api/v1/distribution/allocations",
        "/api/v1/distribution/allocations/{allocation_id}/release",
        "/api/v1/distribution/retailers/{retailer_id}/keys",
        "/api/v1/distribution/retailers/{retailer_id}/sales-report",
        "/api/v1/distribution/retailers/{retailer_id}/revoke-unsold",
        "/api/v1/distribution/analytics",
        "/api/v1/distribution/oauth/token",
        "/api/v1/distribution/retailer/keys",
        "/api/v1/distribution/retailer/sales",
        "/api/v1/distribution/retailer/returns",
    ):
        assert path in paths, path
    assert client.get("/readyz").status_code == 200


def test_migration_matches_the_tables(dist):
    assert migration_drift(dist.db.engine.url, metadata) == []
