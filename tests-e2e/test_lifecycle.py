"""A key's whole life through the gateway, each step's events read back from its topic."""

from __future__ import annotations

import random
import time
import uuid

import platform_client as pc

from key_manager.domain import codec


def random_ip() -> str:
    """An address of 10.0.0.0/8: no country, not a VPN, and not shared with another test's lockouts."""
    return "10." + ".".join(str(random.randint(1, 254)) for _ in range(3))


def test_key_lifecycle(caller, events, seen_keys):
    company = f"E2E Studio {uuid.uuid4().hex[:6]}"
    studio, game = pc.create_verified_game(company)
    game_id = game["gameId"]
    developer_id = events.wait("developer.events", "developer.registered", companyName=company)[0]["subject"]
    events.wait("developer.events", "developer.verified", subject=developer_id, verificationStatus="verified")
    events.wait("developer.events", "game.created", subject=game_id, developerId=developer_id)

    # A small batch, generated asynchronously.
    batch = pc.order_batch(studio, game_id, 40)
    deadline = time.monotonic() + 60
    while batch["status"] not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.3)
        batch = studio.call("GET", f"/api/v1/keys/batches/{batch['batchId']}", 200)
    assert batch["status"] == "completed", batch
    generated = events.wait("keys.events", "batch.generated", subject=batch["batchId"])[0]["data"]
    assert (generated["gameId"], generated["quantity"], generated["synchronous"]) == (game_id, 40, False)

    # A retailer is added and given 20 keys.
    admin = caller(roles=["admin"])
    retailer, allocation = pc.retailer_with_keys(admin, f"E2E Shop {uuid.uuid4().hex[:6]}", game_id, 20)
    allocation_id = allocation["allocationId"]
    events.wait("distribution.events", "retailer.added", subject=retailer["id"])
    events.wait("distribution.events", "allocation.created", subject=allocation_id, quantity=20)
    events.wait("keys.events", "key.allocated", subject=allocation_id, retailerId=retailer["id"], quantity=20)

    # It signs in, fetches its keys and sells 10.
    shop = pc.retailer_session(retailer)
    fetched = shop.call("GET", "/api/v1/distribution/retailer/keys", 200, params={"limit": 100})["items"]
    assert len(fetched) == 20
    seen_keys.add(*(item["key"] for item in fetched))
    sold = fetched[:10]
    order_id = f"e2e-order-{uuid.uuid4().hex[:8]}"
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
    events.wait("distribution.events", "sale.recorded", orderId=order_id, quantity=10)
    events.wait("keys.events", "key.sold", subject=order_id, quantity=10)

    # Players redeem 5 of the keys sold.
    for item in sold[:5]:
        outcome, body = pc.redeem(item["key"], random_ip(), "DE")
        assert outcome == "activated", body
        events.wait("activations.events", "activation.succeeded", subject=body["transactionId"])
        activated = events.wait("keys.events", "key.activated", subject=item["keyId"])[0]["data"]
        assert activated["retailerId"] == retailer["id"]
        events.wait("antifraud.events", "fraud.assessed", activationId=body["transactionId"])

    # An attacker guessing keys is locked out; its misses are recorded as failed activations.
    attacker_id = str(uuid.uuid4())
    attacker = caller(roles=["user"], sub=attacker_id)
    ip, device = random_ip(), f"rig-{uuid.uuid4().hex[:8]}"
    outcomes = [
        pc.redeem(codec.format_key(codec.generate_keys(1)[0]), ip, "DE", caller=attacker, device=device)[0]
        for _ in range(15)
    ]
    assert "RATE_LIMITED" in outcomes, outcomes
    assert set(outcomes) <= {"KEY_NOT_FOUND", "RATE_LIMITED", "ACCOUNT_BLOCKED", "FRAUD_DETECTED"}, outcomes
    misses = events.wait(
        "activations.events", "activation.failed", userId=attacker_id, reason="KEY_NOT_FOUND"
    )
    assert all(event["data"]["keyId"] is None for event in misses)

    # A key locked to Germany is refused from the United States.
    locked = pc.generate_keys(
        studio, game_id, 1, regionalRestrictions=[{"type": "allow", "countries": ["DE"]}]
    )["keys"][0]
    seen_keys.add(locked["key"])
    outcome, body = pc.redeem(locked["key"], random_ip(), "US")
    assert outcome == "REGION_RESTRICTED", body
    events.wait("activations.events", "activation.failed", keyId=locked["id"], reason="REGION_RESTRICTED")

    # One device, several accounts: antifraud sends a redemption to review, support approves it.
    promotional = pc.generate_keys(studio, game_id, 5)["keys"]
    seen_keys.add(*(key["key"] for key in promotional))
    shared_device = f"shared-device-{uuid.uuid4().hex[:8]}"
    activated_before_review = 0
    for key in promotional:
        player_id = str(uuid.uuid4())
        player = caller(roles=["user"], sub=player_id)
        outcome, body = pc.redeem(key["key"], random_ip(), "DE", caller=player, device=shared_device)
        if outcome == "pending_review":
            break
        assert outcome == "activated", body
        activated_before_review += 1
    else:
        raise AssertionError("the shared device was never sent to review")
    transaction_id = body["transactionId"]
    events.wait("activations.events", "activation.pending_review", subject=transaction_id)
    events.wait("keys.events", "key.held", subject=key["id"], holdId=transaction_id)
    case_id = events.wait("antifraud.events", "fraud.case_opened", activationId=transaction_id)[0]["subject"]

    support = caller(roles=["support"])
    support.call(
        "POST",
        f"/api/v1/antifraud/cases/{case_id}/decision",
        200,
        json={"decision": "approve", "note": "known household"},
    )
    events.wait("antifraud.events", "fraud.case_decided", subject=case_id, decision="approve")
    completed = events.wait("activations.events", "activation.succeeded", subject=transaction_id)[0]["data"]
    assert completed["caseId"] == case_id
    assert events.wait("keys.events", "key.activated", subject=key["id"])[0]["data"]["userId"] == player_id
    history = player.call("GET", f"/api/v1/activations/users/{player_id}/history", 200)["items"]
    assert [record["status"] for record in history] == ["activated"]

    # The studio's activation report: every attempt above counted once, by outcome and country
    # (analytics reads every topic into ClickHouse; a review that ends approved is one activation,
    # counted once its approval arrives, so wait for that rather than for any six activations).
    activations = len(sold[:5]) + activated_before_review + 1
    report = pc.wait_for(
        lambda: studio.call("GET", f"/api/v1/analytics/games/{game_id}", 200),
        lambda body: body["totals"]["activations"] == activations and body["totals"]["failed"] >= 1,
        "the redemptions to reach analytics",
    )
    assert report["totals"]["pendingReview"] == 0
    assert {row["country"] for row in report["countries"]} >= {"DE"}
    stranger = caller(roles=["developer"])
    stranger.call("GET", f"/api/v1/analytics/games/{game_id}", 404)

    # A sold and redeemed key's timeline (its batch, allocation, sale, activation, oldest first),
    # the regions, and the batch's and the retailer's funnels.
    key_id = sold[0]["keyId"]
    timeline = pc.wait_for(
        lambda: support.call("GET", f"/api/v1/analytics/keys/{key_id}/timeline", 200),
        lambda body: (
            {"batch.generated", "key.allocated", "key.sold", "fraud.assessed", "key.activated"}
            <= {item["type"] for item in body["items"]}
        ),
        "the key's events to reach analytics",
    )
    types = [item["type"] for item in timeline["items"]]
    assert types.index("key.sold") < types.index("key.activated"), types
    studio.call("GET", f"/api/v1/analytics/keys/{key_id}/timeline", 200)
    stranger.call("GET", f"/api/v1/analytics/keys/{key_id}/timeline", 404)
    regions = studio.call("GET", f"/api/v1/analytics/games/{game_id}/regions", 200)
    assert regions["items"][0]["country"] == "DE"
    assert (
        studio.call("GET", f"/api/v1/analytics/batches/{batch['batchId']}/performance", 200)["counts"][
            "generated"
        ]
        == 40
    )
    # The funnels' key counts are as fresh as the aggregator's last key pass.
    funnel = pc.wait_for(
        lambda: admin.call("GET", f"/api/v1/analytics/retailers/{retailer['id']}/performance", 200),
        lambda body: (body["counts"]["sold"], body["counts"]["activated"]) == (10, 5),
        "the retailer's keys to reach the funnel",
    )
    assert funnel["medianHoursFromSaleToActivation"] is not None
