"""The retailer's path against a real key-manager: create → allocate → token → fetch → sell →
return; duplicate orders, returns after activation, isolation, low stock, reports."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from distribution.db.tables import key_fetches
from key_manager.db.tables import keys as km_keys

API = "/api/v1/distribution"
KEYS, SALES, RETURNS = f"{API}/retailer/keys", f"{API}/retailer/sales", f"{API}/retailer/returns"


def sale(keys, order_id=None, amount="19.99", currency="USD", sold_at=None):
    return {
        "orderId": order_id or f"order-{uuid.uuid4()}",
        "keyIds": [k["keyId"] for k in keys],
        "price": {"amount": amount, "currency": currency},
        "soldAt": sold_at or datetime.now(UTC).isoformat(),
    }


@pytest.fixture()
def stocked(game, make_retailer, allocate, retailer_token):
    """A retailer with an allocation of 8 of the game's 10 keys, and its token."""
    retailer = make_retailer([game.game_id], commissionRate="0.15")
    allocation = allocate(retailer, game, 8)
    assert allocation.status_code == 201, allocation.get_json()
    return retailer, allocation.get_json(), retailer_token(retailer)


def fetch_all(client, token, limit=3):
    items, cursor = [], None
    while True:
        url = f"{KEYS}?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url, headers=token)
        assert response.status_code == 200, response.get_json()
        items += response.get_json()["items"]
        cursor = response.get_json()["nextCursor"]
        if not cursor:
            return items


def test_a_key_key_manager_cannot_decrypt_is_marked_and_the_rest_served(client, stocked, km_app):
    """One broken key (encryption key id gone after a bad rotation) in the retailer's stock: the
    page is served, that key carries an error instead of a key and is not delivered, so it
    cannot be sold; the others sell as usual."""
    _, allocation, token = stocked
    km = km_app.extensions["key_manager"]
    with km.db.transaction() as session:
        broken = session.execute(
            select(km_keys.c.id)
            .where(km_keys.c.allocation_id == uuid.UUID(allocation["allocationId"]))
            .order_by(km_keys.c.id)
            .limit(1)
        ).scalar_one()
        session.execute(update(km_keys).where(km_keys.c.id == broken).values(encryption_key_id="gone"))
    keys = fetch_all(client, token)
    assert len(keys) == 8
    [bad] = [k for k in keys if k["keyId"] == str(broken)]
    assert bad["key"] is None and bad["error"]["code"] == "DATABASE_ERROR"
    assert bad["error"]["details"] == {"reason": "encryption_key_not_configured"}
    good = [k for k in keys if k["keyId"] != str(broken)]
    assert all(k["error"] is None and len(k["key"]) == 19 for k in good)
    refused = client.post(SALES, json=sale([bad]), headers=token)
    assert (
        refused.status_code == 409 and refused.get_json()["error"]["details"]["reason"] == "KEY_NOT_DELIVERED"
    )
    assert client.post(SALES, json=sale(good[:2]), headers=token).status_code == 201


def test_full_retailer_path(client, stocked, dist, admin_auth, events_of, km_app):
    retailer, allocation, token = stocked
    keys = fetch_all(client, token)
    assert len(keys) == 8 and len({k["keyId"] for k in keys}) == 8
    assert all(k["allocationId"] == allocation["allocationId"] and k["status"] == "allocated" for k in keys)
    assert all(len(k["key"]) == 19 and k["key"][4] == "-" for k in keys)
    with dist.db.transaction() as session:
        fetches = session.execute(
            select(key_fetches).where(key_fetches.c.retailer_id == retailer["id"])
        ).all()
    assert len(fetches) == 3 and sum(f.key_count for f in fetches) == 8

    order = sale(keys[:3], amount="10.00")
    sold = client.post(SALES, json=order, headers=token)
    assert sold.status_code == 201, sold.get_json()
    body = sold.get_json()
    assert body["quantity"] == 3 and body["gross"] == {"amount": "30.00", "currency": "USD"}
    assert body["commission"]["amount"] == "4.50" and body["net"]["amount"] == "25.50"
    statuses = {k["keyId"]: k["status"] for k in fetch_all(client, token, limit=100)}
    assert [statuses[k["keyId"]] for k in keys[:3]] == ["sold"] * 3

    returned = client.post(
        RETURNS,
        json={"orderId": order["orderId"], "keyIds": [keys[0]["keyId"]], "reason": "customer refund"},
        headers=token,
    )
    assert returned.status_code == 200, returned.get_json()
    assert returned.get_json()["status"] == "revoked"
    statuses = {k["keyId"]: k["status"] for k in fetch_all(client, token, limit=100)}
    assert statuses[keys[0]["keyId"]] == "revoked"
    again = client.post(
        RETURNS,
        json={"orderId": order["orderId"], "keyIds": [keys[0]["keyId"]], "reason": "customer refund"},
        headers=token,
    )
    assert again.status_code == 200 and again.get_json()["returnId"] == returned.get_json()["returnId"]

    now = datetime.now(UTC)
    report = client.get(
        f"{API}/retailers/{retailer['id']}/sales-report",
        query_string={
            "from": (now - timedelta(hours=1)).isoformat(),
            "to": (now + timedelta(hours=1)).isoformat(),
        },
        headers=admin_auth,
    )
    assert report.status_code == 200, report.get_json()
    assert report.get_json()["totals"] == [
        {
            "currency": "USD",
            "unitsSold": 3,
            "unitsReturned": 1,
            "unitsChargedBack": 0,
            "units": 2,
            "chargedBack": "0.00",
            "gross": "20.00",
            "commission": "3.00",
            "net": "17.00",
        }
    ]
    overview = client.get(f"{API}/retailers/{retailer['id']}/keys", headers=admin_auth).get_json()
    [entry] = overview["items"]
    assert entry["keyCounts"] == {
        "allocated": 5,
        "sold": 2,
        "returned": 1,
        "activated": 0,
        "delivered": 8,
        "released": 0,
    }
    assert "key" not in str(entry.get("keys", ""))
    [recorded] = events_of("sale.recorded")[-1:]
    assert recorded["data"]["orderId"] == order["orderId"]
    assert all(k["key"] not in str(recorded) for k in keys)
    # finance credits each game's studio from these counts
    assert recorded["data"]["games"] == [{"gameId": allocation["gameId"], "quantity": 3}]
    [returned] = events_of("sale.returned", body["saleId"])
    assert returned["data"]["quantity"] == 1
    assert returned["data"]["games"] == [{"gameId": allocation["gameId"], "quantity": 1}]
    assert events_of("allocation.created", allocation["allocationId"])[0]["data"]["quantity"] == 8


def test_duplicate_order_is_recorded_once(client, stocked, counts):
    _retailer, _allocation, token = stocked
    keys = fetch_all(client, token, limit=100)
    order = sale(keys[:2])
    first = client.post(SALES, json=order, headers=token)
    assert first.status_code == 201
    before = counts()
    second = client.post(SALES, json=order, headers=token)
    assert second.status_code == 200 and second.get_json()["saleId"] == first.get_json()["saleId"]
    other_keys = client.post(SALES, json={**order, "keyIds": [keys[3]["keyId"]]}, headers=token)
    assert other_keys.status_code == 422 and other_keys.get_json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    resold = client.post(SALES, json=sale(keys[1:3]), headers=token)
    assert resold.status_code == 409 and resold.get_json()["error"]["details"]["reason"] == "KEY_ALREADY_SOLD"
    # With an Idempotency-Key, a replay is the first answer byte for byte.
    keyed = sale(keys[4:5])
    headers = {**token, "Idempotency-Key": str(uuid.uuid4())}
    one = client.post(SALES, json=keyed, headers=headers)
    two = client.post(SALES, json=keyed, headers=headers)
    assert one.status_code == two.status_code == 201 and one.get_json() == two.get_json()
    assert two.headers.get("Idempotent-Replayed") == "true"
    after = counts()
    assert after["sales"] == before["sales"] + 1 and after["sale_keys"] == before["sale_keys"] + 1


def test_return_after_activation_is_refused(client, stocked, km_app, make_token, counts):
    _retailer, _allocation, token = stocked
    keys = fetch_all(client, token, limit=100)
    order = sale(keys[:2])
    assert client.post(SALES, json=order, headers=token).status_code == 201
    service = {
        "Authorization": f"Bearer {make_token(sub='activation-gateway', roles=(), scopes=('keys:activate',))}"
    }
    activated = km_app.test_client().post(
        "/internal/v1/keys/activate",
        json={
            "key": keys[0]["key"],
            "userId": "player",
            "activationId": str(uuid.uuid4()),
            "userRegion": "DE",
        },
        headers=service,
    )
    assert activated.status_code == 200, activated.get_json()
    before = counts()
    refused = client.post(
        RETURNS,
        json={"orderId": order["orderId"], "keyIds": [k["keyId"] for k in keys[:2]], "reason": "r"},
        headers=token,
    )
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "KEY_ALREADY_ACTIVATED"
    assert counts() == before
    statuses = {k["keyId"]: k["status"] for k in fetch_all(client, token, limit=100)}
    assert statuses[keys[1]["keyId"]] == "sold"  # all or nothing: the unactivated key was not revoked
    # Keys outside the order, or an order that does not exist.
    outside = client.post(
        RETURNS,
        json={"orderId": order["orderId"], "keyIds": [keys[5]["keyId"]], "reason": "r"},
        headers=token,
    )
    assert outside.status_code == 404 and outside.get_json()["error"]["code"] == "KEY_NOT_FOUND"
    missing = client.post(
        RETURNS, json={"orderId": "nope", "keyIds": [keys[5]["keyId"]], "reason": "r"}, headers=token
    )
    assert missing.status_code == 404


def test_retailers_never_see_each_others_keys_or_sales(
    client, game, stocked, make_retailer, allocate, retailer_token, counts
):
    _retailer, allocation, token = stocked
    other = make_retailer([game.game_id])
    assert allocate(other, game, 2).status_code == 201
    other_token = retailer_token(other)
    mine = fetch_all(client, token, limit=100)
    theirs = fetch_all(client, other_token, limit=100)
    assert {k["keyId"] for k in mine}.isdisjoint({k["keyId"] for k in theirs}) and len(theirs) == 2
    hidden = client.get(f"{KEYS}?allocationId={allocation['allocationId']}", headers=other_token)
    assert hidden.status_code == 404
    order = sale(mine[:1])
    assert client.post(SALES, json=order, headers=token).status_code == 201
    before = counts()
    steal = client.post(SALES, json=sale(mine[1:2]), headers=other_token)
    assert steal.status_code == 404 and steal.get_json()["error"]["code"] == "KEY_NOT_FOUND"
    foreign_return = client.post(
        RETURNS,
        json={"orderId": order["orderId"], "keyIds": [mine[0]["keyId"]], "reason": "r"},
        headers=other_token,
    )
    assert foreign_return.status_code == 404
    assert counts() == before


def test_bad_sales_write_nothing(client, stocked, counts):
    _retailer, _allocation, token = stocked
    keys = fetch_all(client, token, limit=100)
    before = counts()
    good = sale(keys[:1])
    for body in (
        {**good, "keyIds": []},
        {**good, "keyIds": ["not-a-uuid"]},
        {**good, "keyIds": [keys[0]["keyId"], keys[0]["keyId"]]},
        {**good, "price": {"amount": "-1", "currency": "USD"}},
        {**good, "price": {"amount": "1.001", "currency": "USD"}},
        {**good, "price": {"amount": "1", "currency": "usd"}},
        {**good, "price": {"amount": 1.5, "currency": "USD"}},
        {**good, "price": {"amount": "19.99", "currency": "JPY"}},  # no cents in yen
        {**good, "price": {"amount": "19.99", "currency": "ZZZ"}},
        {**good, "soldAt": "2026-01-01T00:00:00"},
        {**good, "soldAt": (datetime.now(UTC) + timedelta(days=3 * 365)).isoformat()},
        {**good, "soldAt": (datetime.now(UTC) - timedelta(days=91)).isoformat()},
        {**good, "soldAt": "0001-01-01T00:00:00Z"},
        {**good, "extra": True},
        {k: v for k, v in good.items() if k != "orderId"},
    ):
        response = client.post(SALES, json=body, headers=token)
        assert response.status_code == 422, (body, response.get_json())
    too_fine = client.post(
        SALES, json={**good, "price": {"amount": "1.001", "currency": "USD"}}, headers=token
    )
    assert too_fine.get_json()["error"]["details"]["fields"]["json"] == {
        "price": {"amount": ["has more decimal places than USD has (0.01)"]}
    }
    in_a_year = {**good, "soldAt": (datetime.now(UTC) + timedelta(days=365)).isoformat()}
    assert client.post(SALES, json=in_a_year, headers=token).get_json()["error"]["details"]["fields"][
        "json"
    ] == {"soldAt": ["must not be in the future (at most 5 minutes ahead of the server's clock)"]}
    unknown = client.post(SALES, json=sale([{"keyId": str(uuid.uuid4())}]), headers=token)
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "KEY_NOT_FOUND"
    assert counts() == before


def test_a_yen_sale_is_in_whole_yen(client, make_game, make_retailer, allocate, retailer_token, events_of):
    game = make_game(3)
    retailer = make_retailer([game.game_id], commissionRate="0.15")
    allocate(retailer, game, 3)
    token = retailer_token(retailer)
    keys = fetch_all(client, token, limit=10)
    body = client.post(SALES, json=sale(keys, amount="1999", currency="JPY"), headers=token).get_json()
    # 5,997 yen, 15 % is 899.55: the commission is rounded to the yen, as finance posts it
    assert (body["gross"], body["commission"], body["net"]) == (
        {"amount": "5997", "currency": "JPY"},
        {"amount": "900", "currency": "JPY"},
        {"amount": "5097", "currency": "JPY"},
    )
    [recorded] = events_of("sale.recorded", body["saleId"])
    assert recorded["data"]["commission"] == {"amount": "900", "currency": "JPY"}


def test_low_stock_events_at_25_10_0_percent(
    client, make_game, make_retailer, allocate, retailer_token, events_of
):
    game = make_game(20)
    retailer = make_retailer([game.game_id])
    allocation = allocate(retailer, game, 20).get_json()
    token = retailer_token(retailer)
    keys = fetch_all(client, token, limit=100)
    for chunk in (keys[:14], keys[14:15], keys[15:18], keys[18:20]):
        assert client.post(SALES, json=sale(chunk), headers=token).status_code == 201
    signals = events_of("allocation.low_stock", allocation["allocationId"])
    assert [(e["data"]["thresholdPercent"], e["data"]["unsold"]) for e in signals] == [
        (25, 5),
        (10, 2),
        (0, 0),
    ]


def test_a_key_is_sold_only_after_the_retailer_fetched_it(
    client, game, make_retailer, allocate, retailer_token, km_app, make_token, counts
):
    retailer = make_retailer([game.game_id])
    allocation = allocate(retailer, game, 4).get_json()
    token = retailer_token(retailer)
    # The allocation's key ids as key-manager knows them, none fetched by the retailer yet.
    service = {
        "Authorization": f"Bearer {make_token(sub='distribution', roles=(), scopes=('keys:allocate',))}"
    }
    listed = km_app.test_client().get(
        f"/internal/v1/keys/allocations/{allocation['allocationId']}/keys?limit=10", headers=service
    )
    unfetched = [{"keyId": k["id"]} for k in listed.get_json()["items"]]
    before = counts()
    early = client.post(SALES, json=sale(unfetched[:2]), headers=token)
    assert early.status_code == 409, early.get_json()
    error = early.get_json()["error"]
    assert error["code"] == "CONFLICT" and error["details"]["reason"] == "KEY_NOT_DELIVERED"
    assert sorted(error["details"]["keyIds"]) == sorted(k["keyId"] for k in unfetched[:2])
    # Not its own at all beats not fetched yet: 404, as for anything of another retailer.
    mixed = client.post(SALES, json=sale([*unfetched[:1], {"keyId": str(uuid.uuid4())}]), headers=token)
    assert mixed.status_code == 404 and mixed.get_json()["error"]["code"] == "KEY_NOT_FOUND"
    assert counts() == before
    # One page fetched: those keys sell, the others still wait for their fetch.
    page = client.get(f"{KEYS}?limit=2", headers=token).get_json()["items"]
    assert client.post(SALES, json=sale(page), headers=token).status_code == 201
    rest = [k for k in unfetched if k["keyId"] not in {p["keyId"] for p in page}]
    late = client.post(SALES, json=sale(rest), headers=token)
    assert late.status_code == 409 and late.get_json()["error"]["details"]["reason"] == "KEY_NOT_DELIVERED"
