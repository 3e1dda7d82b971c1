"""Studios' store quotas over a real HTTP server: set, read and removed by the studio (roles,
bad input), counted by the Payment Service's issue call (keys sold before the quota count,
refunds give keys back), shown in the Catalog's stock, and the last keys of a quota under
concurrent orders: one order gets them, the other INSUFFICIENT_KEY_ALLOCATION."""

from __future__ import annotations

import requests
from test_store import INTERNAL, gift_keys, order_body, outbox_events, race

QUOTAS = "/api/v1/keys/store-quotas"


def put_quota(url, studio, quota, key_type="gift", role="admin"):
    return requests.put(
        f"{url}{QUOTAS}/{studio.game_id}/{key_type}",
        json={"quota": quota},
        headers=studio.auth(role),
        timeout=30,
    )


def issue(url, auth, body):
    return requests.post(f"{url}{INTERNAL}/issue", json=body, headers=auth, timeout=30)


def stock(url, auth, studio) -> dict[str, dict]:
    response = requests.get(
        f"{url}{INTERNAL}/stock", params={"gameId": str(studio.game_id)}, headers=auth, timeout=30
    )
    assert response.status_code == 200, response.text
    return {item["keyType"]: item for item in response.json()["items"]}


def test_a_quota_caps_store_sales_counting_earlier_ones_and_refunds(
    live_server, gen, studio, service_auth, km
):
    gift_keys(gen, studio, 10)
    pay, catalog = service_auth("keys:issue"), service_auth("catalog:read")
    first = order_body(studio, 2)
    assert issue(live_server, pay, first).status_code == 201

    response = put_quota(live_server, studio, 5)
    assert response.status_code == 200, response.text
    quota = response.json()
    assert (quota["quota"], quota["sold"], quota["remaining"], quota["keyType"]) == (5, 2, 3, "gift")
    assert quota["updatedBy"] == studio.users["admin"]
    gift = stock(live_server, catalog, studio)["gift"]
    assert gift == {
        "keyType": "gift",
        "available": 3,
        "free": 8,
        "quota": {"quota": 5, "sold": 2, "remaining": 3},
    }
    [event] = outbox_events(km, "store.quota_updated", str(studio.game_id))
    assert event["quota"] == 5 and event["sold"] == 2 and event["keyType"] == "gift"
    # the answer was lost and the studio's client asks again: the same quota, no second event
    again = put_quota(live_server, studio, 5)
    assert again.status_code == 200 and again.json() == quota
    assert len(outbox_events(km, "store.quota_updated", str(studio.game_id))) == 1

    assert issue(live_server, pay, order_body(studio, 3)).status_code == 201
    refused = issue(live_server, pay, order_body(studio, 1))
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "INSUFFICIENT_KEY_ALLOCATION"
    assert error["details"]["reason"] == "STORE_QUOTA" and error["details"]["available"] == 0
    assert stock(live_server, catalog, studio)["gift"]["available"] == 0

    # A refund of the first order gives its two keys back to the quota.
    refund = requests.post(
        f"{live_server}{INTERNAL}/orders/{first['orderId']}/refund", json={}, headers=pay, timeout=30
    )
    assert refund.status_code == 200
    assert stock(live_server, catalog, studio)["gift"]["quota"] == {"quota": 5, "sold": 3, "remaining": 2}
    assert issue(live_server, pay, order_body(studio, 2)).status_code == 201

    # Removing the quota: the store sells every free key again; removing it twice is 204 too.
    for _ in range(2):
        removed = requests.delete(
            f"{live_server}{QUOTAS}/{studio.game_id}/gift", headers=studio.auth(), timeout=30
        )
        assert removed.status_code == 204
    gift = stock(live_server, catalog, studio)["gift"]
    assert gift["quota"] is None and gift["available"] == gift["free"] == 3
    assert issue(live_server, pay, order_body(studio, 3)).status_code == 201
    assert outbox_events(km, "store.quota_updated", str(studio.game_id))[-1]["quota"] is None


def test_concurrent_orders_for_the_last_keys_of_a_quota(live_server, gen, studio, service_auth, km):
    gift_keys(gen, studio, 10)  # plenty of free keys: only the quota limits
    assert put_quota(live_server, studio, 3).status_code == 200
    auth = service_auth("keys:issue")
    bodies = [order_body(studio, 2) for _ in range(2)]

    def order(session, n):
        response = session.post(f"{live_server}{INTERNAL}/issue", json=bodies[n], headers=auth, timeout=60)
        return response.status_code, response.json()

    for _round in range(3):
        results = race(2, order)
        assert sorted(status for status, _ in results) == [201, 409]
        refused = next(body for status, body in results if status == 409)["error"]
        assert (
            refused["code"] == "INSUFFICIENT_KEY_ALLOCATION" and refused["details"]["reason"] == "STORE_QUOTA"
        )
        assert refused["details"]["available"] == 1
        # give the winner's keys back for the next round
        winner = next(bodies[n] for n, (status, _) in enumerate(results) if status == 201)
        refund = requests.post(
            f"{live_server}{INTERNAL}/orders/{winner['orderId']}/refund", json={}, headers=auth, timeout=30
        )
        assert refund.status_code == 200
        bodies = [order_body(studio, 2) for _ in range(2)]
    quotas = requests.get(
        f"{live_server}{QUOTAS}", params={"gameId": str(studio.game_id)}, headers=studio.auth(), timeout=30
    )
    assert [(q["keyType"], q["sold"]) for q in quotas.json()["items"]] == [("gift", 0)]


def test_quota_roles_and_bad_input(live_server, studio, make_studio, make_token, admin_auth):
    assert put_quota(live_server, studio, 5, role="developer").status_code == 200
    assert put_quota(live_server, studio, 5, role="finance").status_code == 403
    assert put_quota(live_server, studio, 5, role="marketing").status_code == 403  # gift keys
    assert put_quota(live_server, studio, 5, key_type="promotional", role="marketing").status_code == 200
    other = make_studio()
    stranger = requests.put(
        f"{live_server}{QUOTAS}/{studio.game_id}/gift", json={"quota": 1}, headers=other.auth(), timeout=30
    )
    assert stranger.status_code == 404
    listed = requests.get(
        f"{live_server}{QUOTAS}",
        params={"gameId": str(studio.game_id)},
        headers=studio.auth("finance"),
        timeout=30,
    )
    assert [(q["keyType"], q["quota"]) for q in listed.json()["items"]] == [("gift", 5), ("promotional", 5)]
    assert (
        requests.get(
            f"{live_server}{QUOTAS}", params={"gameId": str(studio.game_id)}, headers=admin_auth, timeout=30
        ).status_code
        == 200
    )
    assert (
        requests.put(
            f"{live_server}{QUOTAS}/{studio.game_id}/gift", json={"quota": 1}, timeout=30
        ).status_code
        == 401
    )
    service = {"Authorization": f"Bearer {make_token(sub='svc', roles=(), scopes=('keys:issue',))}"}
    assert (
        requests.put(
            f"{live_server}{QUOTAS}/{studio.game_id}/gift", json={"quota": 1}, headers=service, timeout=30
        ).status_code
        == 403
    )
    for body in (
        {"quota": -1},
        {"quota": "5"},
        {"quota": 1.5},
        {},
        {"quota": 5, "extra": 1},
        {"quota": 10_000_001},
    ):
        response = requests.put(
            f"{live_server}{QUOTAS}/{studio.game_id}/gift", json=body, headers=studio.auth(), timeout=30
        )
        assert response.status_code == 422, (body, response.text)
    assert put_quota(live_server, studio, 5, key_type="golden").status_code == 404
    unchanged = requests.get(
        f"{live_server}{QUOTAS}", params={"gameId": str(studio.game_id)}, headers=studio.auth(), timeout=30
    )
    assert [(q["keyType"], q["quota"]) for q in unchanged.json()["items"]] == [
        ("gift", 5),
        ("promotional", 5),
    ]
