"""Disputed activations: key-manager's key.disputed (here after a refunded store order whose key
the buyer had redeemed through the gateway) marks the activation disputed and emits
activation.disputed, once however often it is delivered; a dispute of a key the gateway never
activated changes nothing."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from activation_gateway.consumers import dispute_handler
from gamekeys_platform.events import Event


def km_events(km_app, event_type: str) -> list[dict]:
    km = km_app.extensions["key_manager"]
    outbox = km.db.tables.outbox
    with km.db.transaction() as session:
        return list(
            session.execute(select(outbox.c.payload).where(outbox.c.event_type == event_type)).scalars()
        )


def apply(gw, payload: dict) -> None:
    with gw.db.transaction() as session:
        dispute_handler(gw)(session, Event.from_dict(payload))


def test_a_refund_after_redemption_disputes_the_activation(
    km_app, make_game, make_token, user, redeem, rows, events_of, gw
):
    game = make_game(1, keyType="gift")
    game.keys.clear()
    km_client = km_app.test_client()
    issue_auth = {"Authorization": f"Bearer {make_token(sub='payment', roles=(), scopes=('keys:issue',))}"}
    order = km_client.post(
        "/internal/v1/keys/issue",
        json={
            "orderId": f"store-{uuid.uuid4()}",
            "gameId": str(game.game_id),
            "keyType": "gift",
            "quantity": 1,
            "buyerId": str(uuid.uuid4()),
            "region": "DE",
        },
        headers=issue_auth,
    ).get_json()
    [key] = order["keys"]
    user_id, auth = user()
    redeemed = redeem(key["key"], auth)
    assert redeemed.status_code == 200, redeemed.get_json()
    activation_id = uuid.UUID(redeemed.get_json()["transactionId"])
    refund = km_client.post(
        f"/internal/v1/keys/orders/{order['orderId']}/refund", json={}, headers=issue_auth
    )
    assert refund.get_json()["redeemedKeyIds"] == [key["keyId"]]

    [payload] = [p for p in km_events(km_app, "key.disputed") if p["data"]["keyId"] == key["keyId"]]
    apply(gw, payload)
    apply(gw, payload)  # delivered again: nothing more
    [row] = rows(id=activation_id)
    assert row["status"] == "disputed" and row["dispute_source"] == "store_refund"
    assert row["dispute_reference"] == order["orderId"] and row["disputed_at"] is not None
    assert row["completed_at"] is not None  # when it was activated stays
    [event] = events_of("activation.disputed", activation_id)
    assert event["data"]["status"] == "disputed" and event["data"]["userId"] == user_id
    assert event["data"]["disputeSource"] == "store_refund" and event["data"]["activatedAt"]
    assert key["key"] not in str(event)


def test_a_dispute_of_an_activation_not_made_here_changes_nothing(gw, rows, events_of):
    payload = {
        "id": str(uuid.uuid4()),
        "type": "key.disputed",
        "source": "key-manager",
        "time": "2026-01-01T00:00:00Z",
        "subject": str(uuid.uuid4()),
        "schemaVersion": 1,
        "data": {
            "keyId": str(uuid.uuid4()),
            "batchId": str(uuid.uuid4()),
            "gameId": str(uuid.uuid4()),
            "developerId": str(uuid.uuid4()),
            "activationId": "studio-own-activation",
            "userId": "someone",
            "source": "chargeback",
            "reference": str(uuid.uuid4()),
            "retailerId": str(uuid.uuid4()),
            "orderId": "o-1",
            "reason": "fraud",
            "activatedAt": None,
            "disputedAt": "2026-01-01T00:00:00Z",
        },
    }
    apply(gw, payload)
    payload["data"]["activationId"] = str(uuid.uuid4())
    apply(gw, payload)
    assert events_of("activation.disputed", payload["data"]["activationId"]) == []
