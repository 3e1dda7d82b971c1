"""A retailer's chargebacks against a real key-manager: unredeemed keys of the order revoked at
once, activated ones disputed, the sales report showing chargebacks beside returns; bad input
changes nothing; a chargeback racing a redemption of the same key has exactly one outcome."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import requests
from sqlalchemy import func, select

from distribution.db.tables import chargebacks, sale_keys
from gamekeys_platform.testing import race
from key_manager.db.tables import keys as km_keys

API = "/api/v1/distribution"
KEYS, SALES = f"{API}/retailer/keys", f"{API}/retailer/sales"
RETURNS, CHARGEBACKS = f"{API}/retailer/returns", f"{API}/retailer/chargebacks"


def sold(client, game, make_retailer, allocate, retailer_token, *, orders: list[int]):
    """A retailer, its token, and orders of that many keys each (their sale bodies, keys with plaintext)."""
    retailer = make_retailer([game.game_id])
    allocation = allocate(retailer, game, sum(orders))
    assert allocation.status_code == 201, allocation.get_json()
    token = retailer_token(retailer)
    keys = client.get(f"{KEYS}?limit=1000", headers=token).get_json()["items"]
    bodies, start = [], 0
    for size in orders:
        body = {
            "orderId": f"order-{uuid.uuid4()}",
            "keyIds": [k["keyId"] for k in keys[start : start + size]],
            "price": {"amount": "10.00", "currency": "USD"},
            "soldAt": datetime.now(UTC).isoformat(),
        }
        assert client.post(SALES, json=body, headers=token).status_code == 201
        bodies.append((body, keys[start : start + size]))
        start += size
    return retailer, token, bodies


def km_activate(km_client, make_token, key_id, user="player-1"):
    auth = {"Authorization": f"Bearer {make_token(sub='gateway', roles=(), scopes=('keys:activate',))}"}
    return km_client.post(
        "/internal/v1/keys/activate",
        json={"keyId": key_id, "userId": user, "activationId": str(uuid.uuid4()), "userRegion": "DE"},
        headers=auth,
    )


def km_statuses(km_app, key_ids) -> dict[str, str]:
    with km_app.extensions["key_manager"].db.transaction() as session:
        rows = session.execute(
            select(km_keys.c.id, km_keys.c.status).where(km_keys.c.id.in_([uuid.UUID(k) for k in key_ids]))
        ).all()
    return {str(k): s for k, s in rows}


def test_chargeback_after_a_redemption(
    client, game, make_retailer, allocate, retailer_token, km_app, make_token, events_of, admin_auth
):
    retailer, token, [(order, keys)] = sold(client, game, make_retailer, allocate, retailer_token, orders=[3])
    ids = sorted(order["keyIds"])
    assert km_activate(km_app.test_client(), make_token, ids[0]).status_code == 200
    body = {"orderId": order["orderId"], "keyIds": ids, "reason": "fraud"}
    response = client.post(CHARGEBACKS, json=body, headers={**token, "Idempotency-Key": "cb-1"})
    assert response.status_code == 201, response.get_json()
    result = response.get_json()
    assert result["revokedKeyIds"] == ids[1:] and result["disputedKeyIds"] == [ids[0]]
    assert result["amount"] == {"amount": "30.00", "currency": "USD"} and result["reason"] == "fraud"
    assert km_statuses(km_app, ids) == {ids[0]: "activated", ids[1]: "revoked", ids[2]: "revoked"}
    [event] = events_of("sale.charged_back")[-1:]
    assert event["data"]["chargebackId"] == result["chargebackId"]
    assert event["data"]["disputedKeyIds"] == [ids[0]] and event["data"]["amount"]["amount"] == "30.00"
    assert not any(k["key"] in str(event) for k in keys)
    # The Idempotency-Key replays the answer.
    replay = client.post(CHARGEBACKS, json=body, headers={**token, "Idempotency-Key": "cb-1"})
    assert replay.status_code == 201 and replay.get_json() == result
    # The sales report shows the chargeback beside returns.
    now = datetime.now(UTC)
    report = client.get(
        f"{API}/retailers/{retailer['id']}/sales-report",
        query_string={
            "from": (now - timedelta(hours=1)).isoformat(),
            "to": (now + timedelta(hours=1)).isoformat(),
        },
        headers=admin_auth,
    ).get_json()
    [totals] = report["totals"]
    assert totals["unitsSold"] == 3 and totals["unitsChargedBack"] == 3 and totals["units"] == 0
    assert totals["chargedBack"] == "30.00" and totals["gross"] == "0.00" and totals["unitsReturned"] == 0
    # Counted against the retailer in the analytics.
    cursor = client.get(f"{API}/analytics", query_string={"limit": 100}, headers=admin_auth).get_json()
    mine = next((item for item in cursor["items"] if item["retailerId"] == retailer["id"]), None)
    while mine is None and cursor["nextCursor"]:
        cursor = client.get(
            f"{API}/analytics",
            query_string={"limit": 100, "cursor": cursor["nextCursor"]},
            headers=admin_auth,
        ).get_json()
        mine = next((item for item in cursor["items"] if item["retailerId"] == retailer["id"]), None)
    assert mine["chargedBack"] == 3 and mine["chargebackRate"] == "1.0000"


def test_bad_chargebacks_change_nothing(
    client, dist, make_game, make_retailer, allocate, retailer_token, km_app, make_token
):
    game = make_game(10)
    _, token, [(first, _), (second, _), (third, _)] = sold(
        client, game, make_retailer, allocate, retailer_token, orders=[2, 2, 2]
    )
    _, other_token, [(foreign, _)] = sold(client, game, make_retailer, allocate, retailer_token, orders=[1])
    returned = client.post(
        RETURNS, json={"orderId": third["orderId"], "keyIds": third["keyIds"][:1], "reason": "changed mind"},
        headers=token,
    )  # fmt: skip
    assert returned.status_code == 200, returned.get_json()
    every = first["keyIds"] + second["keyIds"] + third["keyIds"] + foreign["keyIds"]
    before = km_statuses(km_app, every)

    def chargebacks_count() -> int:
        with dist.db.transaction() as session:
            return session.execute(select(func.count()).select_from(chargebacks)).scalar_one()

    count = chargebacks_count()
    cases = [
        ({"orderId": "no-such-order", "keyIds": first["keyIds"]}, token, 404, "NOT_FOUND"),
        (
            {"orderId": foreign["orderId"], "keyIds": foreign["keyIds"]},
            token,
            404,
            "NOT_FOUND",
        ),  # another retailer's
        (
            {"orderId": first["orderId"], "keyIds": second["keyIds"]},
            token,
            404,
            "KEY_NOT_FOUND",
        ),  # not in the order
        (
            {"orderId": first["orderId"], "keyIds": [*first["keyIds"], *foreign["keyIds"]]},
            token,
            404,
            "KEY_NOT_FOUND",
        ),
        (
            {"orderId": third["orderId"], "keyIds": third["keyIds"]},
            token,
            409,
            "CONFLICT",
        ),  # one returned already
        ({"orderId": first["orderId"], "keyIds": first["keyIds"] * 2}, token, 422, "VALIDATION_ERROR"),
        ({"orderId": first["orderId"], "keyIds": [str(uuid.uuid4())] * 1001}, token, 422, "VALIDATION_ERROR"),
        ({"orderId": first["orderId"], "keyIds": []}, token, 422, "VALIDATION_ERROR"),
        (
            {"orderId": first["orderId"], "keyIds": first["keyIds"], "extra": 1},
            token,
            422,
            "VALIDATION_ERROR",
        ),
    ]
    for body, auth, status, code in cases:
        response = client.post(CHARGEBACKS, json={"reason": "fraud", **body}, headers=auth)
        assert response.status_code == status, (body, response.get_json())
        assert response.get_json()["error"]["code"] == code
    assert client.post(CHARGEBACKS, json={"orderId": "x", "keyIds": [], "reason": "x"}).status_code == 401
    assert km_statuses(km_app, every) == before and chargebacks_count() == count
    # A chargeback after it went through: the keys are charged back already.
    assert (
        client.post(
            CHARGEBACKS,
            json={"reason": "fraud", **{k: first[k] for k in ("orderId", "keyIds")}},
            headers=token,
        ).status_code
        == 201
    )
    again = client.post(
        CHARGEBACKS, json={"reason": "dispute", **{k: first[k] for k in ("orderId", "keyIds")}}, headers=token
    )
    assert (
        again.status_code == 409
        and again.get_json()["error"]["details"]["reason"] == "KEY_ALREADY_CHARGED_BACK"
    )
    returned_after = client.post(
        RETURNS,
        json={"orderId": first["orderId"], "keyIds": first["keyIds"], "reason": "late"},
        headers=token,
    )
    assert returned_after.status_code == 409
    assert returned_after.get_json()["error"]["details"]["reason"] == "KEY_ALREADY_CHARGED_BACK"
    assert other_token  # the other retailer is untouched
    with dist.db.transaction() as session:
        assert (
            session.execute(
                select(func.count()).where(
                    sale_keys.c.key_id.in_([uuid.UUID(k) for k in foreign["keyIds"]]),
                    sale_keys.c.status == "sold",
                )
            ).scalar_one()
            == 1
        )


def test_a_chargeback_racing_a_redemption_has_exactly_one_outcome(
    app, make_game, make_retailer, allocate, retailer_token, km_url, make_token, km_app, client
):
    from gamekeys_platform.testing import serving

    rounds = 10
    game = make_game(rounds)
    activate_auth = {
        "Authorization": f"Bearer {make_token(sub='gateway', roles=(), scopes=('keys:activate',))}"
    }
    outcomes = []
    with serving(app) as url:
        for _ in range(rounds):
            _, token, [(order, [key])] = sold(
                client, game, make_retailer, allocate, retailer_token, orders=[1]
            )

            def act(session: requests.Session, n: int, order=order, key=key, token=token):
                if n == 0:
                    return session.post(
                        f"{url}{CHARGEBACKS}",
                        json={"orderId": order["orderId"], "keyIds": order["keyIds"], "reason": "fraud"},
                        headers=token,
                        timeout=60,
                    )
                return session.post(
                    f"{km_url}/internal/v1/keys/activate",
                    json={
                        "key": key["key"],
                        "userId": "racer",
                        "activationId": str(uuid.uuid4()),
                        "userRegion": "DE",
                    },
                    headers=activate_auth,
                    timeout=60,
                )

            charged, activation = race(2, act)
            assert charged.status_code == 201, charged.json()
            status = km_statuses(km_app, [key["keyId"]])[key["keyId"]]
            if activation.status_code == 200:
                assert (
                    charged.json()["disputedKeyIds"] == [key["keyId"]]
                    and charged.json()["revokedKeyIds"] == []
                )
                assert status == "activated"
                outcomes.append("activated then disputed")
            else:
                assert activation.json()["error"]["code"] == "KEY_REVOKED", activation.json()
                assert (
                    charged.json()["revokedKeyIds"] == [key["keyId"]]
                    and charged.json()["disputedKeyIds"] == []
                )
                assert status == "revoked"
                outcomes.append("revoked before activation")
    assert len(outcomes) == rounds
