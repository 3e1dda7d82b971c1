"""POST /allocations against a real key-manager: all or nothing, authorization, the last keys
under concurrency, key-manager down, idempotency, bad input."""

from __future__ import annotations

import threading
import uuid

import pytest

API = "/api/v1/distribution"


def test_allocation_is_idempotent_and_visible(game, make_retailer, allocate, client, admin_auth, events_of):
    retailer = make_retailer([game.game_id])
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    first = allocate(retailer, game, 4, headers=headers)
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["quantity"] == 4 and body["pricing"] == {"amount": "19.99", "currency": "USD"}
    replay = allocate(retailer, game, 4, headers=headers)
    assert replay.status_code == 201 and replay.get_json() == body
    conflict = allocate(retailer, game, 5, headers=headers)
    assert conflict.status_code == 422 and conflict.get_json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert len(events_of("allocation.created", body["allocationId"])) == 1
    # 6 of the 10 keys are left.
    short = allocate(retailer, game, 7)
    assert short.status_code == 409
    error = short.get_json()["error"]
    assert error["code"] == "INSUFFICIENT_KEY_ALLOCATION" and error["details"]["available"] == 6
    listed = client.get(f"{API}/retailers/{retailer['id']}/keys", headers=admin_auth).get_json()
    assert [a["allocationId"] for a in listed["items"]] == [body["allocationId"]]


def test_not_authorized(game, make_game, make_retailer, allocate, client, admin_auth, counts):
    retailer = make_retailer([game.game_id], allowedRegions=["DE"])
    other_game = make_game(2)
    before = counts()
    cases = [
        (dict(game=other_game), "GAME_NOT_ALLOWED"),
        (dict(restrictions=[{"type": "allow", "countries": ["US"]}]), "REGION_NOT_ALLOWED"),
        (dict(), "REGION_NOT_ALLOWED"),
    ]
    for overrides, reason in cases:
        target = overrides.pop("game", game)
        response = allocate(retailer, target, 1, **overrides)
        assert response.status_code == 403, response.get_json()
        error = response.get_json()["error"]
        assert error["code"] == "RETAILER_NOT_AUTHORIZED" and error["details"]["reason"] == reason
    assert counts() == before
    ok = allocate(retailer, game, 1, restrictions=[{"type": "allow", "countries": ["de"]}])
    assert ok.status_code == 201
    client.patch(f"{API}/retailers/{retailer['id']}", json={"status": "suspended"}, headers=admin_auth)
    before = counts()
    inactive = allocate(retailer, game, 1, restrictions=[{"type": "allow", "countries": ["DE"]}])
    assert (
        inactive.status_code == 403
        and inactive.get_json()["error"]["details"]["reason"] == "RETAILER_INACTIVE"
    )
    assert counts() == before


@pytest.mark.parametrize("round_", range(5))  # a race: several rounds give it several chances
def test_concurrent_allocations_for_the_last_keys(
    round_, make_game, make_retailer, allocate, retailer_token, client
):
    game = make_game(6)
    first, second = make_retailer([game.game_id]), make_retailer([game.game_id])
    results: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def run(name, retailer):
        barrier.wait()
        results[name] = allocate(retailer, game, 6)

    threads = [threading.Thread(target=run, args=(n, r)) for n, r in (("a", first), ("b", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(r.status_code for r in results.values())
    assert statuses == [201, 409], [r.get_json() for r in results.values()]
    loser = next(r for r in results.values() if r.status_code == 409)
    assert loser.get_json()["error"]["code"] == "INSUFFICIENT_KEY_ALLOCATION"
    keys_a = client.get(f"{API}/retailer/keys?limit=100", headers=retailer_token(first)).get_json()["items"]
    keys_b = client.get(f"{API}/retailer/keys?limit=100", headers=retailer_token(second)).get_json()["items"]
    assert sorted([len(keys_a), len(keys_b)]) == [0, 6]


def test_key_manager_down_is_503_and_writes_nothing(game, make_retailer, allocate, dist, counts):
    retailer = make_retailer([game.game_id])
    client = dist.key_manager.client
    original = client.base_url
    client.base_url = "http://127.0.0.1:9"  # nothing listens on the discard port
    before = counts()
    try:
        response = allocate(retailer, game, 2, headers={"Idempotency-Key": "down-1"})
    finally:
        client.base_url = original
        client.breaker.record_success()
    assert response.status_code == 503, response.get_json()
    assert response.get_json()["error"]["code"] == "SERVICE_UNAVAILABLE" and "Retry-After" in response.headers
    assert counts() == before
    retried = allocate(retailer, game, 2, headers={"Idempotency-Key": "down-1"})
    assert retried.status_code == 201  # the 503 was not stored: the retry runs


@pytest.mark.parametrize(
    "overrides",
    [
        {"quantity": 0},
        {"quantity": 100_001},
        {"quantity": "5"},
        {"keyType": "stolen"},
        {"pricing": {"amount": "19.99"}},
        {"pricing": {"amount": "-1", "currency": "USD"}},
        {"pricing": {"amount": 19.99, "currency": "USD"}},
        {"restrictions": [{"type": "maybe", "countries": ["DE"]}]},
        {"restrictions": [{"type": "allow", "countries": ["XX"]}]},
        {"unknown": True},
        {"gameId": "not-a-uuid"},
    ],
)
def test_bad_allocations_write_nothing(overrides, game, make_retailer, allocate, counts):
    retailer = make_retailer([game.game_id])
    before = counts()
    fields = dict(overrides)
    response = allocate(retailer, game, fields.pop("quantity", 1), **fields)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["code"] == "VALIDATION_ERROR"
    assert counts() == before


def test_unknown_retailer_is_404(game, allocate, counts):
    before = counts()
    response = allocate({"id": str(uuid.uuid4())}, game, 1)
    assert response.status_code == 404
    assert counts() == before
