"""Many players at once on the same keys: each key is activated exactly once."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from threading import Event

import platform_client as pc
import requests

KEYS = 50
ATTEMPTS = 500
CLIENTS = 100  # threads sending at once; the rest queue behind them


def test_500_concurrent_redemptions_over_50_keys_activate_each_key_once(events, seen_keys):
    studio, game = pc.create_verified_game(f"E2E Rush {uuid.uuid4().hex[:6]}")
    keys = pc.generate_keys(studio, game["gameId"], KEYS)["keys"]
    seen_keys.add(*(key["key"] for key in keys))
    # Every attempt is its own player, device and address, so lockouts and fraud rules stay out
    # of it and only the race on each key decides.
    network = random.randint(0, 250)  # another /16 each run: lockout counters live for an hour
    attempts = [
        (
            keys[n % KEYS],
            pc.token(str(uuid.uuid4()), roles=["user"]),
            f"10.{network + n // 250}.{n % 250 + 1}.9",
        )
        for n in range(ATTEMPTS)
    ]
    random.shuffle(attempts)
    go = Event()

    def redeem(attempt) -> tuple[int, str, str]:
        key, bearer, ip = attempt
        go.wait(timeout=30)
        response = requests.post(
            f"{pc.GATEWAY}/api/v1/activations/redeem",
            json={"key": key["key"], "userRegion": "DE", "deviceInfo": {"fingerprint": uuid.uuid4().hex}},
            headers={"Authorization": f"Bearer {bearer}", "X-Forwarded-For": ip},
            timeout=120,
        )
        body = response.json()
        outcome = body.get("status") if response.status_code < 300 else body["error"]["code"]
        return response.status_code, outcome, key["id"]

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        pending = [pool.submit(redeem, attempt) for attempt in attempts]
        go.set()  # the first CLIENTS attempts leave together
        results = [future.result() for future in pending]

    statuses = Counter(status for status, _, _ in results)
    assert not [status for status in statuses if status >= 500], statuses
    # One winner a key. Under this load antifraud may not answer within the gateway's short
    # timeout: the winner's key is then held (202 pending_review) and the gateway's worker
    # completes the activation once antifraud answers again.
    winners = Counter(key_id for _, outcome, key_id in results if outcome in ("activated", "pending_review"))
    assert set(winners) == {key["id"] for key in keys}, Counter(outcome for _, outcome, _ in results)
    assert set(winners.values()) == {1}, winners
    losers = {outcome for _, outcome, _ in results if outcome not in ("activated", "pending_review")}
    assert losers <= {"KEY_ALREADY_ACTIVATED", "CONFLICT"}, losers

    for key in keys:
        events.wait("keys.events", "key.activated", subject=key["id"], timeout=120)
    activations = Counter(
        event["subject"] for event in events.matching("keys.events", "key.activated", gameId=game["gameId"])
    )
    assert activations == dict.fromkeys(winners, 1)
