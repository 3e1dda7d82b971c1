"""Chargebacks on the internal API: unredeemed keys of the order revoked at once, activated ones
disputed (key.disputed), all or nothing; bad input changes nothing; a chargeback racing a
redemption of the same key has exactly one outcome; a refunded store order's redeemed keys are
disputed the same way."""

from __future__ import annotations

import uuid

import requests
from km_testkit import outbox_events
from sqlalchemy import func, select

from gamekeys_platform.testing import race
from key_manager.db.tables import key_disputes, keys

INTERNAL = "/internal/v1/keys"


def statuses(km, key_ids) -> dict[str, str]:
    with km.db.transaction() as session:
        rows = session.execute(
            select(keys.c.id, keys.c.status).where(keys.c.id.in_([uuid.UUID(str(k)) for k in key_ids]))
        ).all()
    return {str(k): s for k, s in rows}


def sold_order(client, gen, studio, service_auth, quantity: int):
    """Keys allocated to a new retailer and sold in one order: (retailer id, order id, key ids)."""
    generated = gen(studio, quantity).get_json()["keys"]
    retailer, order_id = uuid.uuid4(), f"order-{uuid.uuid4()}"
    allocation = client.post(
        f"{INTERNAL}/allocations",
        json={
            "allocationId": str(uuid.uuid4()),
            "retailerId": str(retailer),
            "gameId": str(studio.game_id),
            "keyType": "retail",
            "quantity": quantity,
        },
        headers=service_auth("keys:allocate"),
    )
    assert allocation.status_code == 201, allocation.get_json()
    with_ids = {k["id"]: k["key"] for k in generated}
    sale = client.post(
        f"{INTERNAL}/sales",
        json={"retailerId": str(retailer), "orderId": order_id, "keyIds": list(with_ids)},
        headers=service_auth("keys:sell"),
    )
    assert sale.status_code == 200, sale.get_json()
    return retailer, order_id, with_ids


def chargeback(client, auth, retailer, order_id, key_ids, **fields):
    body = {
        "chargebackId": str(uuid.uuid4()),
        "retailerId": str(retailer),
        "orderId": order_id,
        "keyIds": [str(k) for k in key_ids],
        "reason": "fraud",
        **fields,
    }
    return client.post(
        f"{INTERNAL}/chargebacks", json=body, headers={**auth, "Idempotency-Key": body["chargebackId"]}
    ), body


def activate(client, auth, key_id, user="player-1", activation_id=None):
    return client.post(
        f"{INTERNAL}/activate",
        json={
            "keyId": str(key_id),
            "userId": user,
            "activationId": activation_id or str(uuid.uuid4()),
            "userRegion": "DE",
        },
        headers=auth,
    )


def test_chargeback_revokes_unredeemed_keys_and_disputes_activated_ones(
    client, gen, studio, service_auth, km
):
    retailer, order_id, generated = sold_order(client, gen, studio, service_auth, 3)
    ids = sorted(generated)
    activation_id = str(uuid.uuid4())
    assert (
        activate(client, service_auth("keys:activate"), ids[0], activation_id=activation_id).status_code
        == 200
    )
    auth = service_auth("keys:sell")
    response, body = chargeback(client, auth, retailer, order_id, ids)
    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert result["revokedKeyIds"] == ids[1:] and result["disputedKeyIds"] == [ids[0]]
    assert statuses(km, ids) == {ids[0]: "activated", ids[1]: "revoked", ids[2]: "revoked"}
    [disputed] = [e for e in outbox_events(km, "key.disputed") if e["keyId"] == ids[0]]
    assert disputed["activationId"] == activation_id and disputed["userId"] == "player-1"
    assert disputed["source"] == "chargeback" and disputed["reference"] == body["chargebackId"]
    assert disputed["retailerId"] == str(retailer) and disputed["orderId"] == order_id
    [charged] = [
        e for e in outbox_events(km, "key.charged_back") if e["chargebackId"] == body["chargebackId"]
    ]
    assert charged["revokedKeyIds"] == ids[1:] and charged["disputedKeyIds"] == [ids[0]]
    assert not any(key in str(charged) + str(disputed) for key in generated.values())
    # A retry replays; a second chargeback of the same keys is refused and changes nothing.
    retry = client.post(
        f"{INTERNAL}/chargebacks", json=body, headers={**auth, "Idempotency-Key": body["chargebackId"]}
    )
    assert retry.status_code == 200 and retry.get_json() == result
    again, _ = chargeback(client, auth, retailer, order_id, ids[1:])
    assert again.status_code == 410 and again.get_json()["error"]["code"] == "KEY_REVOKED"
    disputed_again, _ = chargeback(client, auth, retailer, order_id, ids[:1])
    assert disputed_again.status_code == 409
    assert disputed_again.get_json()["error"]["details"]["reason"] == "KEY_ALREADY_DISPUTED"
    assert len([e for e in outbox_events(km, "key.disputed") if e["keyId"] == ids[0]]) == 1


def test_bad_chargebacks_change_nothing(client, gen, studio, service_auth, km):
    retailer, order_id, generated = sold_order(client, gen, studio, service_auth, 2)
    _, _, other_keys = sold_order(client, gen, studio, service_auth, 1)
    ids = sorted(generated)
    auth = service_auth("keys:sell")
    cases = [
        (chargeback(client, auth, retailer, order_id, [*ids, *other_keys])[0], 403),  # another retailer's key
        (chargeback(client, auth, retailer, "not-this-order", ids)[0], 404),
        (chargeback(client, auth, retailer, order_id, [uuid.uuid4()])[0], 404),
        (chargeback(client, auth, retailer, order_id, ids, keyIds=[str(uuid.uuid4())] * 1001)[0], 422),
        (chargeback(client, auth, retailer, order_id, ids, reason="")[0], 422),
        (chargeback(client, service_auth("keys:allocate"), retailer, order_id, ids)[0], 403),
    ]
    for response, status in cases:
        assert response.status_code == status, response.get_json()
    assert set(statuses(km, [*ids, *other_keys]).values()) == {"sold"}
    with km.db.transaction() as session:
        assert session.execute(select(func.count()).where(key_disputes.c.key_id.in_(ids))).scalar_one() == 0


def test_a_chargeback_racing_a_redemption_has_exactly_one_outcome(
    live_server, client, gen, studio, service_auth, km
):
    rounds = 12
    sell_auth, activate_auth = service_auth("keys:sell"), service_auth("keys:activate")
    outcomes = []
    for _ in range(rounds):
        retailer, order_id, generated = sold_order(client, gen, studio, service_auth, 1)
        [(key_id, key)] = generated.items()

        def act(
            session: requests.Session, n: int, retailer=retailer, order_id=order_id, key=key, key_id=key_id
        ):
            if n == 0:
                chargeback_id = str(uuid.uuid4())
                return session.post(
                    f"{live_server}{INTERNAL}/chargebacks",
                    json={
                        "chargebackId": chargeback_id,
                        "retailerId": str(retailer),
                        "orderId": order_id,
                        "keyIds": [key_id],
                        "reason": "fraud",
                    },
                    headers={**sell_auth, "Idempotency-Key": chargeback_id},
                    timeout=60,
                )
            return session.post(
                f"{live_server}{INTERNAL}/activate",
                json={"key": key, "userId": "racer", "activationId": str(uuid.uuid4()), "userRegion": "DE"},
                headers=activate_auth,
                timeout=60,
            )

        charged, activation = race(2, act)
        assert charged.status_code == 200, charged.json()
        status = statuses(km, [key_id])[key_id]
        with km.db.transaction() as session:
            disputes = session.execute(
                select(func.count()).where(key_disputes.c.key_id == uuid.UUID(key_id))
            ).scalar_one()
        if activation.status_code == 200:
            assert charged.json() == {**charged.json(), "revokedKeyIds": [], "disputedKeyIds": [key_id]}
            assert status == "activated" and disputes == 1
            outcomes.append("activated then disputed")
        else:
            assert activation.json()["error"]["code"] == "KEY_REVOKED", activation.json()
            assert charged.json()["revokedKeyIds"] == [key_id] and charged.json()["disputedKeyIds"] == []
            assert status == "revoked" and disputes == 0
            outcomes.append("revoked before activation")
    assert len(outcomes) == rounds


def test_a_refunded_store_orders_redeemed_keys_are_disputed(client, gen, studio, service_auth, km):
    gen(studio, 2, keyType="gift")
    issue_auth = service_auth("keys:issue")
    order = client.post(
        f"{INTERNAL}/issue",
        json={
            "orderId": f"store-{uuid.uuid4()}",
            "gameId": str(studio.game_id),
            "keyType": "gift",
            "quantity": 2,
            "buyerId": str(uuid.uuid4()),
            "region": "DE",
        },
        headers=issue_auth,
    ).get_json()
    redeemed, unredeemed = (item["keyId"] for item in order["keys"])
    assert activate(client, service_auth("keys:activate"), redeemed, user="buyer").status_code == 200
    refund = client.post(f"{INTERNAL}/orders/{order['orderId']}/refund", json={}, headers=issue_auth)
    assert refund.status_code == 200, refund.get_json()
    assert refund.get_json()["redeemedKeyIds"] == [redeemed]
    [disputed] = [e for e in outbox_events(km, "key.disputed") if e["keyId"] == redeemed]
    assert disputed["source"] == "store_refund" and disputed["reference"] == order["orderId"]
    assert disputed["userId"] == "buyer" and disputed["retailerId"] is None
    assert not [e for e in outbox_events(km, "key.disputed") if e["keyId"] == unredeemed]
    # A repeated refund disputes nothing more.
    client.post(f"{INTERNAL}/orders/{order['orderId']}/refund", json={}, headers=issue_auth)
    assert len([e for e in outbox_events(km, "key.disputed") if e["keyId"] == redeemed]) == 1
