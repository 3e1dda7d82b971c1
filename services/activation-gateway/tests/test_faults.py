"""Faults: key-manager down (before or during the activation) → 503 and nothing written;
the broker down → redemptions still succeed, events wait in the outbox; Redis down → the
lockout fails closed (503)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from activation_gateway.app import create_app
from activation_gateway.context import lockout_redis
from gamekeys_platform.ratelimit import RateLimiter
from gamekeys_platform.testing import serving

API = "/api/v1/activations"
DEAD = "http://127.0.0.1:1"  # nothing listens there


def test_key_manager_down_is_503_and_writes_nothing(game, user, redeem, counts, gw):
    _, auth = user()
    key = game.key()
    client = gw.key_manager.client
    real_url = client.base_url
    before = counts()
    client.base_url = DEAD
    try:
        response = redeem(key["key"], auth, headers={"Idempotency-Key": f"k-{uuid.uuid4()}"})
    finally:
        client.base_url = real_url
        client.breaker.record_success()
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert response.headers.get("Retry-After")
    assert counts() == before
    assert redeem(key["key"], auth).status_code == 200  # back up: the key is still there to take


def test_key_manager_stops_between_check_and_activation(game, user, redeem, counts, gw, km_app, monkeypatch):
    _, auth = user()
    key = game.key()
    client = gw.key_manager.client
    real_url, real_activate = client.base_url, gw.key_manager.activate

    def stopped_then_activate(*args, **kwargs):
        client.base_url = DEAD
        return real_activate(*args, **kwargs)

    monkeypatch.setattr(gw.key_manager, "activate", stopped_then_activate)
    before = counts()
    try:
        response = redeem(key["key"], auth)
    finally:
        client.base_url = real_url
        client.breaker.record_success()
    assert response.status_code == 503
    assert counts() == before
    info = km_app.test_client().get(f"/api/v1/keys/{key['id']}", headers=game.developer_auth).get_json()
    assert info["status"] == "generated"


def test_a_key_lookup_that_fails_once_is_retried(game, user, redeem, gw, km_app):
    _, auth = user()
    key = game.key()
    calls = []

    def failing_first_call(environ, start_response):
        calls.append(environ["PATH_INFO"])
        if len(calls) == 1:
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [b"{}"]
        return km_app(environ, start_response)

    client = gw.key_manager.client
    real_url = client.base_url
    with serving(failing_first_call) as url:
        client.base_url = url
        try:
            response = redeem(key["key"], auth)
        finally:
            client.base_url = real_url
    assert response.status_code == 200, response.get_json()
    assert calls[:2] == ["/internal/v1/keys/lookup"] * 2


def test_broker_down_redemptions_still_succeed(settings, game, user, redeem_body, random_ip):
    app = create_app(settings.model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:1"}))
    gw = app.extensions["activation_gateway"]
    try:
        _, auth = user()
        # An address of its own: this app's lockout counters are not the per-test ones of conftest.
        headers = {**auth, "X-Forwarded-For": random_ip()}
        response = app.test_client().post(
            f"{API}/redeem", json=redeem_body(game.key()["key"]), headers=headers
        )
        assert response.status_code == 200, response.get_json()
        outbox = gw.db.tables.outbox
        with gw.db.transaction() as session:
            row = session.execute(
                select(outbox).where(outbox.c.message_key == response.get_json()["transactionId"])
            ).one()
        assert row.event_type == "activation.succeeded" and row.sent_at is None  # waits for the relay
    finally:
        gw.db.dispose()


def test_redis_down_fails_closed(game, user, redeem, gw, monkeypatch, counts):
    monkeypatch.setattr(gw, "limiter", RateLimiter(lockout_redis("redis://127.0.0.1:1/0"), fail_open=False))
    _, auth = user()
    before = counts()
    response = redeem(game.key()["key"], auth)
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert counts() == before


def test_antifraud_down_with_reject_policy_is_503(settings, game, user, redeem_body, km_app, random_ip):
    app = create_app(
        settings.model_copy(update={"antifraud_url": DEAD, "antifraud_unavailable_policy": "reject"})
    )
    gw = app.extensions["activation_gateway"]
    try:
        _, auth = user()
        key = game.key()
        headers = {**auth, "X-Forwarded-For": random_ip()}
        response = app.test_client().post(f"{API}/redeem", json=redeem_body(key["key"]), headers=headers)
        assert response.status_code == 503 and response.get_json()["error"]["code"] == "SERVICE_UNAVAILABLE"
        info = km_app.test_client().get(f"/api/v1/keys/{key['id']}", headers=game.developer_auth).get_json()
        assert info["status"] == "generated"  # neither held nor activated
    finally:
        gw.db.dispose()


def test_worker_builds_its_loops_without_a_broker(settings, gw):
    from activation_gateway.worker import build_loops

    loops = build_loops(settings.model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:1"}), gw)
    assert [type(loop).__name__ for loop in loops] == [
        "Deferred",
        "Deferred",
        "Deferred",
        "Deferred",
        "PeriodicTask",
        "PeriodicTask",
        "PeriodicTask",
    ]
