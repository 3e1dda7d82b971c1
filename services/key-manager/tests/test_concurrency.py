"""Races over a real threaded HTTP server: one key activated by 200 callers at once, and
allocations competing for the same free keys."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import func, select

from key_manager.db.tables import key_transitions, keys


def race(count: int, call):
    barrier = threading.Barrier(count)

    def run(n):
        with requests.Session() as session:
            barrier.wait()
            return call(session, n)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_200_concurrent_activations_of_one_key_give_exactly_one_success(
    live_server, gen, studio, service_auth, km
):
    key = gen(studio, 1).get_json()["keys"][0]
    auth = service_auth("keys:activate")

    def activate(session, n):
        response = session.post(
            f"{live_server}/internal/v1/keys/activate",
            json={"key": key["key"], "userId": f"player-{n}", "activationId": f"act-{n}", "userRegion": "DE"},
            headers=auth,
            timeout=60,
        )
        return response.status_code, response.json().get("error", {}).get("code")

    outcomes = Counter(race(200, activate))
    assert outcomes == {(200, None): 1, (409, "KEY_ALREADY_ACTIVATED"): 199}, outcomes
    with km.db.transaction() as session:
        transitions = session.execute(
            select(func.count()).where(key_transitions.c.key_id == uuid.UUID(key["id"]))
        ).scalar_one()
        events = session.execute(
            select(func.count()).where(
                km.db.tables.outbox.c.message_key == key["id"],
                km.db.tables.outbox.c.event_type == "key.activated",
            )
        ).scalar_one()
    assert transitions == events == 1


def test_concurrent_allocations_never_share_a_key(live_server, gen, studio, service_auth, km):
    gen(studio, 60)
    auth = service_auth("keys:allocate")
    allocation_ids = [str(uuid.uuid4()) for _ in range(10)]

    def allocate(session, n):
        response = session.post(
            f"{live_server}/internal/v1/keys/allocations",
            json={
                "allocationId": allocation_ids[n],
                "retailerId": str(uuid.uuid4()),
                "gameId": str(studio.game_id),
                "keyType": "retail",
                "quantity": 10,
            },
            headers=auth,
            timeout=60,
        )
        return response.status_code

    statuses = race(10, allocate)
    assert set(statuses) <= {201, 409} and statuses.count(201) >= 1
    with km.db.transaction() as session:
        per_allocation = dict(
            session.execute(
                select(keys.c.allocation_id, func.count())
                .where(keys.c.game_id == studio.game_id, keys.c.allocation_id.is_not(None))
                .group_by(keys.c.allocation_id)
            ).all()
        )
    succeeded = {uuid.UUID(a) for a, status in zip(allocation_ids, statuses, strict=True) if status == 201}
    # Every successful allocation holds exactly its 10 keys; failed ones hold none.
    assert per_allocation == dict.fromkeys(succeeded, 10)
