"""The platform's store through the Payment and Catalog services' internal calls: a studio
generates gift keys for the store and caps what it may sell; the Catalog reads the store stock
and the game's listing; the Payment Service issues a paid order's key (a retry after a lost
answer gives the same key), the buyer redeems it through the gateway; a second order is refunded
before its buyer redeems, and that key is refused. Each step's events on keys.events."""

from __future__ import annotations

import random
import uuid

import platform_client as pc


def random_ip() -> str:
    """An address of 10.0.0.0/8: no country, not a VPN, and not shared with another test's lockouts."""
    return "10." + ".".join(str(random.randint(1, 254)) for _ in range(3))


def test_a_store_order_redeemed_and_another_refunded_before_redemption(events, seen_keys):
    studio, game = pc.create_verified_game(f"E2E Store {uuid.uuid4().hex[:6]}")
    game_id = game["gameId"]
    generated = pc.generate_keys(studio, game_id, 3, keyType="gift")
    seen_keys.add(*(key["key"] for key in generated["keys"]))
    quota = studio.call("PUT", f"/api/v1/keys/store-quotas/{game_id}/gift", 200, json={"quota": 2})
    assert (quota["quota"], quota["sold"], quota["remaining"]) == (2, 0, 2)
    events.wait("keys.events", "store.quota_updated", gameId=game_id)

    catalog_keys = pc.Caller(pc.token("catalog-service", scopes=["catalog:read"]), base=pc.KEY_MANAGER)
    stock = catalog_keys.call("GET", "/internal/v1/keys/stock", 200, params={"gameId": game_id})
    gift = next(item for item in stock["items"] if item["keyType"] == "gift")
    assert (gift["available"], gift["free"]) == (2, 3)  # the quota caps the three free keys

    payment = pc.payment_service_caller()
    buyer = str(uuid.uuid4())
    order = pc.store_order(game_id, buyer)
    issued = payment.call("POST", "/internal/v1/keys/issue", 201, json=order)
    [key] = issued["keys"]
    seen_keys.add(key["key"])
    # the Payment Service lost the answer and asks again: the same key, nothing more sold
    assert payment.call("POST", "/internal/v1/keys/issue", 200, json=order)["keys"] == [key]
    [sold] = events.wait("keys.events", "key.sold", orderId=order["orderId"])
    assert sold["data"]["buyerId"] == buyer and sold["data"]["retailerId"] is None

    player = pc.Caller(pc.token(buyer, roles=["user"]))
    outcome, body = pc.redeem(key["key"], random_ip(), "DE", caller=player)
    assert outcome == "activated", body
    events.wait("keys.events", "key.activated", keyId=key["keyId"])

    second_buyer = str(uuid.uuid4())
    second = pc.store_order(game_id, second_buyer)
    [refunded_key] = payment.call("POST", "/internal/v1/keys/issue", 201, json=second)["keys"]
    seen_keys.add(refunded_key["key"])
    # the quota of 2 is used up: a third order is refused, nothing sold
    third = payment.session.post(
        f"{pc.KEY_MANAGER}/internal/v1/keys/issue",
        json=pc.store_order(game_id, str(uuid.uuid4())),
        timeout=30,
    )
    assert third.status_code == 409
    assert third.json()["error"]["details"]["reason"] == "STORE_QUOTA"

    refund = payment.call(
        "POST", f"/internal/v1/keys/orders/{second['orderId']}/refund", 200, json={"reason": "changed mind"}
    )
    assert refund["revokedKeyIds"] == [refunded_key["keyId"]] and refund["redeemedKeyIds"] == []
    again = payment.call("POST", f"/internal/v1/keys/orders/{second['orderId']}/refund", 200, json={})
    assert again["refundedAt"] == refund["refundedAt"]  # a retried refund changes nothing
    [refunded] = events.wait("keys.events", "store.order_refunded", orderId=second["orderId"])
    assert refunded["data"]["keyIds"] == [refunded_key["keyId"]]
    outcome, _body = pc.redeem(
        refunded_key["key"], random_ip(), "DE", caller=pc.Caller(pc.token(second_buyer, roles=["user"]))
    )
    assert outcome == "KEY_REVOKED"

    # the refund gave its key back to the quota: the store can sell one more
    stock = catalog_keys.call("GET", "/internal/v1/keys/stock", 200, params={"gameId": game_id})
    gift = next(item for item in stock["items"] if item["keyType"] == "gift")
    assert gift["quota"] == {"quota": 2, "sold": 1, "remaining": 1} and gift["available"] == 1
