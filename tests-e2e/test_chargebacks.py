"""Leaks and chargebacks through the gateway: a retailer charges back an order after one of its
keys was redeemed (the unredeemed key revoked at once, the redeemed one's activation disputed),
the studio reads that key's provenance, support looks a key up by its plaintext, and a platform
admin revokes the retailer's unsold stock in one call; each step's events read back from their
topics."""

from __future__ import annotations

import random
import time
import uuid

import platform_client as pc


def random_ip() -> str:
    """An address of 10.0.0.0/8: no country, not a VPN, not shared with another test's lockouts."""
    return "10." + ".".join(str(random.randint(1, 254)) for _ in range(3))


def test_chargeback_after_a_redemption_then_provenance_and_leak_response(caller, events, seen_keys):
    studio, game = pc.create_verified_game(f"E2E Chargebacks {uuid.uuid4().hex[:6]}")
    game_id = game["gameId"]
    batch = pc.order_batch(studio, game_id, 10)
    batch = pc.wait_for(
        lambda: studio.call("GET", f"/api/v1/keys/batches/{batch['batchId']}", 200),
        lambda b: b["status"] in ("completed", "failed"),
        "the batch",
    )
    assert batch["status"] == "completed", batch

    admin = caller(roles=["admin"])
    retailer, allocation = pc.retailer_with_keys(admin, f"E2E Leaky Shop {uuid.uuid4().hex[:6]}", game_id, 6)
    shop = pc.retailer_session(retailer)
    fetched = shop.call("GET", "/api/v1/distribution/retailer/keys", 200, params={"limit": 100})["items"]
    assert len(fetched) == 6
    seen_keys.add(*(item["key"] for item in fetched))
    sold, unsold = fetched[:3], fetched[3:]
    order_id = f"e2e-cb-{uuid.uuid4().hex[:8]}"
    shop.call(
        "POST",
        "/api/v1/distribution/retailer/sales",
        201,
        json={
            "orderId": order_id,
            "keyIds": [item["keyId"] for item in sold],
            "price": {"amount": "19.99", "currency": "EUR"},
            "soldAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    )
    events.wait("keys.events", "key.sold", subject=order_id, quantity=3)

    # A player redeems the first key of the order.
    redeemed, other = sold[0], sold[1]
    outcome, body = pc.redeem(redeemed["key"], random_ip(), "DE")
    assert outcome == "activated", body
    transaction_id = body["transactionId"]

    # The card was stolen: the retailer charges back two keys of the order.
    chargeback = shop.call(
        "POST",
        "/api/v1/distribution/retailer/chargebacks",
        201,
        json={"orderId": order_id, "keyIds": [redeemed["keyId"], other["keyId"]], "reason": "fraud"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert chargeback["disputedKeyIds"] == [redeemed["keyId"]]
    assert chargeback["revokedKeyIds"] == [other["keyId"]]
    assert chargeback["amount"] == {"amount": "39.98", "currency": "EUR"}
    events.wait("distribution.events", "sale.charged_back", orderId=order_id, quantity=2)
    events.wait("keys.events", "key.charged_back", subject=order_id, chargebackId=chargeback["chargebackId"])
    # (``source`` names the producer in the envelope: the dispute's own source is in its data)
    key_disputed = events.wait("keys.events", "key.disputed", subject=redeemed["keyId"])[0]["data"]
    assert key_disputed["source"] == "chargeback"
    disputed = events.wait("activations.events", "activation.disputed", subject=transaction_id)[0]["data"]
    assert disputed["status"] == "disputed" and disputed["disputeReference"] == chargeback["chargebackId"]
    # The revoked key can no longer be redeemed; charging it back again is refused.
    outcome, _ = pc.redeem(other["key"], random_ip(), "DE")
    assert outcome == "KEY_REVOKED"
    again = shop.session.post(
        pc.GATEWAY + "/api/v1/distribution/retailer/chargebacks",
        json={"orderId": order_id, "keyIds": [other["keyId"]], "reason": "fraud"},
        timeout=30,
    )
    assert (
        again.status_code == 409 and again.json()["error"]["details"]["reason"] == "KEY_ALREADY_CHARGED_BACK"
    )
    # Keys of another order, or no order at all: refused.
    refused = shop.session.post(
        pc.GATEWAY + "/api/v1/distribution/retailer/chargebacks",
        json={"orderId": f"no-such-{uuid.uuid4().hex[:6]}", "keyIds": [sold[2]["keyId"]], "reason": "fraud"},
        timeout=30,
    )
    assert refused.status_code == 404

    # The studio traces the redeemed key: channel, order, price, chargeback, activation, dispute.
    trace = pc.wait_for(
        lambda: studio.call("GET", f"/api/v1/keys/{redeemed['keyId']}/provenance", 200),
        lambda t: t["activation"] is not None and t["activation"]["status"] == "disputed",
        "the activation to be disputed in the provenance",
    )
    assert trace["incomplete"] == []
    assert trace["batch"]["batchId"] == batch["batchId"]
    assert trace["allocation"]["retailerId"] == retailer["id"]
    assert trace["allocation"]["retailerName"] == retailer["name"]
    assert trace["sale"]["orderId"] == order_id and trace["sale"]["price"] == {
        "amount": "19.99",
        "currency": "EUR",
    }
    assert trace["chargeback"]["outcome"] == "disputed"
    assert trace["activation"]["activationId"] == transaction_id and trace["activation"]["fraud"]["outcome"]
    assert trace["dispute"]["source"] == "chargeback"
    steps = [step["step"] for step in trace["steps"]]
    assert steps[0] == "generated" and "activated" in steps and "disputed" in steps
    assert redeemed["key"] not in str(trace)
    # Another studio's developer does not see it; support finds it by the pasted key.
    caller(roles=["developer"]).call("GET", f"/api/v1/keys/{redeemed['keyId']}/provenance", 404)
    found = caller(roles=["support"]).call(
        "POST", "/api/v1/keys/provenance/lookup", 200, json={"key": redeemed["key"], "reason": "e2e ticket"}
    )
    assert found["keyId"] == redeemed["keyId"] and redeemed["key"] not in str(found)

    # The sales report shows the chargeback beside returns.
    now = time.time()
    report = admin.call(
        "GET",
        f"/api/v1/distribution/retailers/{retailer['id']}/sales-report",
        200,
        params={
            "from": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3600)),
            "to": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
        },
    )
    [eur] = report["totals"]
    assert (eur["unitsSold"], eur["unitsChargedBack"], eur["units"], eur["chargedBack"]) == (3, 2, 1, "39.98")

    # The retailer leaks: an admin revokes its unsold stock in one call.
    request_id = f"e2e-leak-{uuid.uuid4().hex[:8]}"
    revocation = admin.call(
        "POST",
        f"/api/v1/distribution/retailers/{retailer['id']}/revoke-unsold",
        201,
        json={"requestId": request_id, "reason": "keys found on a grey market"},
    )
    assert (revocation["revokedKeys"], revocation["leftSold"], revocation["leftActivated"]) == (3, 1, 1)
    [line] = revocation["allocations"]
    assert line["allocationId"] == allocation["allocationId"] and line["revoked"] == 3
    events.wait(
        "distribution.events", "stock.revoked", subject=allocation["allocationId"], requestId=request_id
    )
    events.wait("keys.events", "allocation.released", subject=allocation["allocationId"], status="revoked")
    overview = admin.call("GET", f"/api/v1/distribution/retailers/{retailer['id']}/keys", 200)["items"]
    assert overview[0]["keyCounts"]["allocated"] == 0
    # Asking again answers the same report; the revoked keys neither sell nor redeem.
    again = admin.session.post(
        pc.GATEWAY + f"/api/v1/distribution/retailers/{retailer['id']}/revoke-unsold",
        json={"requestId": request_id, "reason": "keys found on a grey market"},
        timeout=30,
    )
    assert again.status_code == 200 and again.json() == revocation
    outcome, _ = pc.redeem(unsold[0]["key"], random_ip(), "DE")
    assert outcome == "KEY_REVOKED"
