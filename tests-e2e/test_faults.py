"""Faults while players redeem: the broker paused, a service restarted, PostgreSQL restarted."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter

import platform_client as pc
import pytest
import requests


def redemption(key: str, bearer: str, ip: str, idempotency_key: str) -> requests.Response:
    return requests.post(
        f"{pc.GATEWAY}/api/v1/activations/redeem",
        json={"key": key, "userRegion": "DE", "deviceInfo": {"fingerprint": uuid.uuid4().hex}},
        headers={
            "Authorization": f"Bearer {bearer}",
            "X-Forwarded-For": ip,
            "Idempotency-Key": idempotency_key,
        },
        timeout=60,
    )


def fresh_keys(seen_keys, quantity: int) -> list[dict]:
    studio, game = pc.create_verified_game(f"E2E Faults {uuid.uuid4().hex[:6]}")
    keys = pc.generate_keys(studio, game["gameId"], quantity)["keys"]
    seen_keys.add(*(key["key"] for key in keys))
    return keys


def player() -> tuple[str, str, str]:
    """(bearer, address, idempotency key) of a new player."""
    ip = f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    return pc.token(str(uuid.uuid4()), roles=["user"]), ip, str(uuid.uuid4())


def redeem_until_answered(key: str, deadline: float) -> tuple[list[int], dict]:
    """Redeem as one player, retrying the same request (same Idempotency-Key) while the platform
    answers 503; returns every status seen and the final body."""
    bearer, ip, idempotency_key = player()
    statuses = []
    while True:
        try:
            response = redemption(key, bearer, ip, idempotency_key)
        except requests.ConnectionError:
            statuses.append(0)
        else:
            statuses.append(response.status_code)
            if response.status_code != 503:
                return statuses, response.json()
            assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
        assert time.monotonic() < deadline, f"still unavailable: {statuses}"
        time.sleep(0.5)


def assert_each_event_once(events, activation_ids: list[str], key_ids: list[str]) -> None:
    for activation_id in activation_ids:
        events.wait("activations.events", "activation.succeeded", subject=activation_id, timeout=120)
    for key_id in key_ids:
        events.wait("keys.events", "key.activated", subject=key_id, timeout=120)
    succeeded = [
        e
        for e in events.matching("activations.events", "activation.succeeded")
        if e["subject"] in activation_ids
    ]
    activated = [e for e in events.matching("keys.events", "key.activated") if e["subject"] in key_ids]
    for found, expected in ((succeeded, activation_ids), (activated, key_ids)):
        assert Counter(event["id"] for event in found).most_common(1)[0][1] == 1, "an event arrived twice"
        assert Counter(event["subject"] for event in found) == dict.fromkeys(expected, 1)


def test_broker_paused_activations_succeed_and_events_arrive_once_after(control, events, seen_keys):
    keys = fresh_keys(seen_keys, 10)
    control.infra("pause", "kafka")
    try:
        answers = [redemption(key["key"], *player()) for key in keys]
        time.sleep(3)  # the relays try and fail meanwhile
    finally:
        control.infra("resume", "kafka")
    assert [answer.status_code for answer in answers] == [200] * len(keys), [a.text for a in answers]
    assert_each_event_once(
        events, [answer.json()["transactionId"] for answer in answers], [key["id"] for key in keys]
    )


@pytest.mark.parametrize("service", ["activation-gateway", "key-manager"])
def test_service_restarted_mid_run_loses_nothing(service, control, events, seen_keys):
    keys = fresh_keys(seen_keys, 24)
    deadline = time.monotonic() + 180
    outcomes: dict[str, tuple[list[int], dict]] = {}

    def players(share: list[dict]) -> None:
        for key in share:
            outcomes[key["id"]] = redeem_until_answered(key["key"], deadline)
            time.sleep(0.1)

    threads = [threading.Thread(target=players, args=(keys[n::4],)) for n in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1)  # requests in flight
    control.run_py("stop", service)
    time.sleep(2)
    control.run_py("start", service)
    for thread in threads:
        thread.join()

    every_status = Counter(status for statuses, _ in outcomes.values() for status in statuses)
    assert set(every_status) <= {0, 200, 202, 503}, every_status
    assert {body["status"] for _, body in outcomes.values()} <= {"activated", "pending_review"}
    activation_ids = [body["transactionId"] for _, body in outcomes.values()]
    assert_each_event_once(events, activation_ids, [key["id"] for key in keys])


def test_postgres_restarted_requests_fail_cleanly_and_the_platform_recovers(control, seen_keys):
    keys = fresh_keys(seen_keys, 60)
    statuses: list[int] = []
    errors: list[dict] = []

    def players(share: list[dict]) -> None:
        for key in share:
            try:
                response = redemption(key["key"], *player())
            except requests.ConnectionError:
                statuses.append(0)
                continue
            statuses.append(response.status_code)
            if response.status_code >= 500:
                errors.append(response.json())
            time.sleep(0.05)

    threads = [threading.Thread(target=players, args=(keys[n::3],)) for n in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    control.infra("restart", "postgres")
    for thread in threads:
        thread.join()

    assert {status for status in statuses if status >= 500} <= {503}, Counter(statuses)
    assert all(error["error"]["code"] in ("SERVICE_UNAVAILABLE", "DATABASE_ERROR") for error in errors)
    control.wait_until_ready(timeout=90)
    # Recovered means redeeming again, without anyone stepping in. Meanwhile the services'
    # circuit breakers, opened by the outage, wait to try again: callers get 503, or a 202 hold
    # while antifraud's breaker is the open one.
    recovery_keys = iter(fresh_keys(seen_keys, 64))
    deadline, in_a_row = time.monotonic() + 120, 0
    while in_a_row < 4:  # several in a row: each API process has a breaker of its own
        assert time.monotonic() < deadline, "redemptions still refused 120 s after the restart"
        answer = redemption(next(recovery_keys)["key"], *player())
        assert answer.status_code in (200, 202, 503), answer.text
        in_a_row = in_a_row + 1 if answer.status_code == 200 else 0
        if answer.status_code != 200:
            time.sleep(2)
