"""The store's internal API (the Payment and Catalog services): issuing a paid order's keys,
idempotent by order id, refunds, stock; service tokens and scopes; races over a real threaded
HTTP server (the last keys, a refund against a redemption of the same key)."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
from km_testkit import outbox_events
from sqlalchemy import func, select

from key_manager.db.tables import key_exports, key_transitions, keys, store_orders

INTERNAL = "/internal/v1/keys"


def order_body(studio, quantity=2, **fields) -> dict:
    return {
        "orderId": f"ord-{uuid.uuid4()}",
        "gameId": str(studio.game_id),
        "keyType": "gift",
        "quantity": quantity,
        "buyerId": str(uuid.uuid4()),
        "region": "DE",
        **fields,
    }


def gift_keys(gen, studio, quantity, **fields) -> dict[str, str]:
    """Generate gift keys for the store: {key id: plaintext}."""
    response = gen(studio, quantity, keyType="gift", **fields)
    assert response.status_code == 201, response.get_json()
    return {k["id"]: k["key"] for k in response.get_json()["keys"]}


def count(km, query) -> int:
    with km.db.transaction() as session:
        return session.execute(query).scalar_one()


def stock(client, auth, studio) -> dict[str, int]:
    response = client.get(f"{INTERNAL}/stock", query_string={"gameId": str(studio.game_id)}, headers=auth)
    assert response.status_code == 200, response.get_json()
    return {item["keyType"]: item["available"] for item in response.get_json()["items"]}


def test_issue_sells_free_gift_keys_to_the_buyer_once(client, gen, studio, service_auth, km):
    generated = gift_keys(gen, studio, 5)
    gen(studio, 3)  # retail keys are another pool
    auth = service_auth("keys:issue")
    body = order_body(studio, 2)
    first = client.post(f"{INTERNAL}/issue", json=body, headers=auth)
    assert first.status_code == 201, first.get_json()
    assert first.headers["Cache-Control"] == "no-store"
    order = first.get_json()
    assert order["orderId"] == body["orderId"] and order["buyerId"] == body["buyerId"]
    assert order["region"] == "DE" and order["quantity"] == 2 and order["refundedAt"] is None
    assert len(order["keys"]) == 2
    for item in order["keys"]:
        assert item["status"] == "sold" and item["error"] is None
        assert generated[item["keyId"]] == item["key"]  # decrypted for the buyer

    # A retry (the answer was lost) answers the same keys and sells nothing more.
    retry = client.post(f"{INTERNAL}/issue", json=body, headers=auth)
    assert retry.status_code == 200 and retry.get_json() == order
    key_ids = [uuid.UUID(item["keyId"]) for item in order["keys"]]
    assert count(km, select(func.count()).where(keys.c.order_id == body["orderId"])) == 2
    with km.db.transaction() as session:
        rows = session.execute(select(keys).where(keys.c.id.in_(key_ids))).all()
        history = session.execute(
            select(key_transitions.c.from_status, key_transitions.c.to_status, key_transitions.c.operation)
            .where(key_transitions.c.key_id == key_ids[0])
            .order_by(key_transitions.c.id)
        ).all()
        audits = session.execute(
            select(key_exports.c.key_count).where(key_exports.c.order_id == body["orderId"])
        ).scalars()
        assert list(audits) == [2, 2]  # both disclosures audited
    assert all(r.status == "sold" and r.retailer_id is None and r.sold_at is not None for r in rows)
    assert [tuple(h) for h in history] == [
        ("generated", "allocated", "store_issue"),
        ("allocated", "sold", "store_issue"),
    ]
    sold = outbox_events(km, "key.sold", body["orderId"])
    assert len(sold) == 1
    assert sold[0]["buyerId"] == body["buyerId"] and sold[0]["retailerId"] is None
    assert sorted(sold[0]["keyIds"]) == sorted(item["keyId"] for item in order["keys"])
    assert not any(key in str(sold) for key in generated.values())

    # The same order id with another body: 422, nothing sold.
    for change in ({"quantity": 3}, {"buyerId": str(uuid.uuid4())}, {"region": "FR"}):
        conflict = client.post(f"{INTERNAL}/issue", json={**body, **change}, headers=auth)
        assert conflict.status_code == 422
        assert conflict.get_json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert stock(client, service_auth("catalog:read"), studio) == {
        "retail": 3,
        "promotional": 0,
        "developer": 0,
        "gift": 3,
        "subscription": 0,
    }


def test_insufficient_keys_and_region_sell_nothing(client, gen, studio, service_auth, km):
    gift_keys(gen, studio, 3, regionalRestrictions=[{"type": "deny", "countries": ["FR"]}])
    auth = service_auth("keys:issue")
    too_many = order_body(studio, 4)
    refused = client.post(f"{INTERNAL}/issue", json=too_many, headers=auth)
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "INSUFFICIENT_KEY_ALLOCATION" and error["details"]["available"] == 3
    # Keys that cannot be activated where the buyer is are not in that buyer's pool.
    in_fr = client.post(f"{INTERNAL}/issue", json=order_body(studio, 1, region="FR"), headers=auth)
    assert in_fr.status_code == 409 and in_fr.get_json()["error"]["details"]["available"] == 0
    assert (
        count(
            km, select(func.count()).select_from(store_orders).where(store_orders.c.game_id == studio.game_id)
        )
        == 0
    )
    assert stock(client, service_auth("catalog:read"), studio)["gift"] == 3
    # The same order id once keys exist: the refusal was not remembered.
    assert client.post(f"{INTERNAL}/issue", json={**too_many, "quantity": 3}, headers=auth).status_code == 201
    assert stock(client, service_auth("catalog:read"), studio)["gift"] == 0


def test_low_stock_event_when_an_order_crosses_the_threshold(client, gen, studio, service_auth, km):
    threshold = km.settings.key_store_low_stock_threshold
    gift_keys(gen, studio, threshold + 2)
    auth = service_auth("keys:issue")
    assert client.post(f"{INTERNAL}/issue", json=order_body(studio, 2), headers=auth).status_code == 201
    assert outbox_events(km, "store.stock_low", str(studio.game_id)) == []
    assert client.post(f"{INTERNAL}/issue", json=order_body(studio, 1), headers=auth).status_code == 201
    low = outbox_events(km, "store.stock_low", str(studio.game_id))
    assert low == [
        {"gameId": str(studio.game_id), "keyType": "gift", "available": threshold - 1, "threshold": threshold}
    ]
    assert client.post(f"{INTERNAL}/issue", json=order_body(studio, 1), headers=auth).status_code == 201
    assert len(outbox_events(km, "store.stock_low", str(studio.game_id))) == 1  # once per crossing


def test_refund_revokes_unredeemed_keys_and_reports_redeemed_ones(client, gen, studio, service_auth, km):
    gift_keys(gen, studio, 3)
    auth = service_auth("keys:issue")
    body = order_body(studio, 3)
    order = client.post(f"{INTERNAL}/issue", json=body, headers=auth).get_json()
    redeemed = order["keys"][0]
    activation = client.post(
        f"{INTERNAL}/activate",
        json={
            "key": redeemed["key"],
            "userId": body["buyerId"],
            "activationId": str(uuid.uuid4()),
            "userRegion": "DE",
        },
        headers=service_auth("keys:activate"),
    )
    assert activation.status_code == 200, activation.get_json()
    url = f"{INTERNAL}/orders/{body['orderId']}/refund"
    first = client.post(url, json={"reason": "customer request"}, headers=auth)
    assert first.status_code == 200, first.get_json()
    result = first.get_json()
    assert result["redeemedKeyIds"] == [redeemed["keyId"]]
    assert sorted(result["revokedKeyIds"]) == sorted(k["keyId"] for k in order["keys"][1:])
    assert result["refundedAt"].endswith("Z")
    again = client.post(url, json={}, headers=auth)
    assert again.status_code == 200 and again.get_json() == result
    events = outbox_events(km, "store.order_refunded", body["orderId"])
    assert len(events) == 1 and events[0]["redeemedKeyIds"] == [redeemed["keyId"]]
    assert sorted(events[0]["keyIds"]) == sorted(result["revokedKeyIds"])
    assert events[0]["reason"] == "customer request"
    # A refunded key cannot be redeemed any more; the issue retry shows the keys' states.
    late = client.post(
        f"{INTERNAL}/activate",
        json={
            "key": order["keys"][1]["key"],
            "userId": body["buyerId"],
            "activationId": str(uuid.uuid4()),
            "userRegion": "DE",
        },
        headers=service_auth("keys:activate"),
    )
    assert late.status_code == 410 and late.get_json()["error"]["code"] == "KEY_REVOKED"
    replay = client.post(f"{INTERNAL}/issue", json=body, headers=auth).get_json()
    assert [k["status"] for k in replay["keys"]] == [k["status"] for k in result["keys"]]
    assert replay["refundedAt"] == result["refundedAt"]
    unknown = client.post(f"{INTERNAL}/orders/ord-unknown/refund", json={}, headers=auth)
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "NOT_FOUND"
    assert client.post(f"{INTERNAL}/orders/bad%20id/refund", json={}, headers=auth).status_code == 404


def test_tokens_scopes_and_bad_input_write_nothing(client, gen, studio, service_auth, km, make_token):
    gift_keys(gen, studio, 2)
    body = order_body(studio, 1)
    wrong = service_auth("keys:allocate", "catalog:read")
    user = {"Authorization": f"Bearer {make_token(roles=('admin',))}"}
    for headers, status in (({}, 401), ({"Authorization": "Bearer nope"}, 401), (wrong, 403), (user, 403)):
        assert client.post(f"{INTERNAL}/issue", json=body, headers=headers).status_code == status
        assert (
            client.post(f"{INTERNAL}/orders/{body['orderId']}/refund", json={}, headers=headers).status_code
            == status
        )
    for headers, status in (({}, 401), (service_auth("keys:issue"), 403), (user, 403)):
        response = client.get(
            f"{INTERNAL}/stock", query_string={"gameId": str(studio.game_id)}, headers=headers
        )
        assert response.status_code == status
    auth = service_auth("keys:issue")
    bad_bodies = [
        {k: v for k, v in body.items() if k != "buyerId"},
        {**body, "quantity": 0},
        {**body, "quantity": 101},
        {**body, "quantity": "1"},
        {**body, "keyType": "platinum"},
        {**body, "region": "Germany"},
        {**body, "orderId": ""},
        {**body, "orderId": "x" * 129},
        {**body, "orderId": "a b"},
        {**body, "gameId": "not-a-uuid"},
        {**body, "price": "9.99"},
    ]
    for bad in bad_bodies:
        response = client.post(f"{INTERNAL}/issue", json=bad, headers=auth)
        assert response.status_code == 422, bad
        assert response.get_json()["error"]["code"] == "VALIDATION_ERROR"
    malformed = client.post(
        f"{INTERNAL}/issue", data="{not json", headers={**auth, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400 and malformed.get_json()["error"]["code"] == "VALIDATION_ERROR"
    refund_bad = client.post(f"{INTERNAL}/orders/{body['orderId']}/refund", json={"reason": ""}, headers=auth)
    assert refund_bad.status_code == 422
    stock_bad = client.get(
        f"{INTERNAL}/stock", query_string={"gameId": "x"}, headers=service_auth("catalog:read")
    )
    assert stock_bad.status_code == 422
    assert (
        count(
            km, select(func.count()).select_from(store_orders).where(store_orders.c.game_id == studio.game_id)
        )
        == 0
    )
    assert stock(client, service_auth("catalog:read"), studio)["gift"] == 2


def race(count: int, call):
    barrier = threading.Barrier(count)

    def run(n):
        with requests.Session() as session:
            barrier.wait()
            return call(session, n)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_concurrent_orders_for_the_last_keys(live_server, gen, studio, service_auth, km):
    gift_keys(gen, studio, 3)
    auth = service_auth("keys:issue")
    bodies = [order_body(studio, 2) for _ in range(2)] + [order_body(studio, 1) for _ in range(6)]

    def order(session, n):
        response = session.post(f"{live_server}{INTERNAL}/issue", json=bodies[n], headers=auth, timeout=60)
        return response.status_code, response.json()

    results = race(len(bodies), order)
    statuses = [status for status, _ in results]
    assert set(statuses) <= {201, 409}
    refused = [body for status, body in results if status == 409]
    assert all(body["error"]["code"] == "INSUFFICIENT_KEY_ALLOCATION" for body in refused)
    sold = [key["keyId"] for status, body in results if status == 201 for key in body["keys"]]
    assert len(sold) == len(set(sold)) <= 3  # no key sold twice
    # Every key went to some order unless a 2-key order came last with one key left.
    assert len(sold) >= 2
    with km.db.transaction() as session:
        orders = session.execute(
            select(store_orders.c.order_id, func.cardinality(store_orders.c.key_ids)).where(
                store_orders.c.game_id == studio.game_id
            )
        ).all()
    succeeded = {bodies[n]["orderId"]: bodies[n]["quantity"] for n, s in enumerate(statuses) if s == 201}
    assert dict(orders) == succeeded  # refused orders left no row


def test_one_order_retried_at_once_sells_once(live_server, gen, studio, service_auth, km):
    gift_keys(gen, studio, 5)
    auth = service_auth("keys:issue")
    body = order_body(studio, 2)

    def order(session, _n):
        response = session.post(f"{live_server}{INTERNAL}/issue", json=body, headers=auth, timeout=60)
        return response.status_code, response.json()

    results = race(6, order)
    assert sorted(status for status, _ in results) == [200] * 5 + [201]
    assert len({str(sorted(k["keyId"] for k in body["keys"])) for _, body in results}) == 1
    assert count(km, select(func.count()).where(keys.c.order_id == body["orderId"])) == 2
    assert len(outbox_events(km, "key.sold", body["orderId"])) == 1


def test_refund_racing_a_redemption_has_one_outcome(live_server, gen, studio, service_auth, km):
    rounds = 8
    gift_keys(gen, studio, rounds)
    issue_auth, activate_auth = service_auth("keys:issue"), service_auth("keys:activate")
    outcomes = []
    for _ in range(rounds):
        body = order_body(studio, 1)
        order = requests.post(f"{live_server}{INTERNAL}/issue", json=body, headers=issue_auth, timeout=60)
        key = order.json()["keys"][0]

        def act(session, n, body=body, key=key):
            if n == 0:
                return session.post(
                    f"{live_server}{INTERNAL}/orders/{body['orderId']}/refund",
                    json={},
                    headers=issue_auth,
                    timeout=60,
                )
            return session.post(
                f"{live_server}{INTERNAL}/activate",
                json={
                    "key": key["key"],
                    "userId": body["buyerId"],
                    "activationId": str(uuid.uuid4()),
                    "userRegion": "DE",
                },
                headers=activate_auth,
                timeout=60,
            )

        refund, activation = race(2, act)
        assert refund.status_code == 200, refund.json()
        refunded = refund.json()
        with km.db.transaction() as session:
            status = session.execute(
                select(keys.c.status).where(keys.c.id == uuid.UUID(key["keyId"]))
            ).scalar_one()
        if activation.status_code == 200:
            assert refunded["redeemedKeyIds"] == [key["keyId"]] and refunded["revokedKeyIds"] == []
            assert status == "activated"
            outcomes.append("redeemed")
        else:
            assert activation.status_code == 410 and activation.json()["error"]["code"] == "KEY_REVOKED"
            assert refunded["revokedKeyIds"] == [key["keyId"]] and refunded["redeemedKeyIds"] == []
            assert status == "revoked"
            outcomes.append("revoked")
    assert len(outcomes) == rounds
