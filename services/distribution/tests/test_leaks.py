"""Leak response through distribution against a real key-manager: a retailer's unsold stock
revoked in one operation by a platform admin or by a studio for its own games, idempotent by
request id, with its report; bad input changes nothing; revoke-unsold racing the retailer's
sales and a new allocation never leaves a key both sold and revoked."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import requests
from sqlalchemy import select

from distribution.db.tables import sale_keys, stock_revocations, studio_projection
from gamekeys_platform.contracts import developer
from gamekeys_platform.testing import race, serving
from key_manager.db.tables import keys as km_keys

API = "/api/v1/distribution"
KEYS, SALES = f"{API}/retailer/keys", f"{API}/retailer/sales"


def known_to_distribution(dist, game, *, members: dict[str, str] | None = None) -> None:
    """Feed distribution's studio projection what developer.events said of the game's studio."""
    events = [
        developer.DeveloperRegistered(
            developer_id=game.developer_id,
            company_name="Studio",
            admin_user_id=game.admin,
            verification_status="pending",
        ),
        *(
            developer.TeamMemberAdded(developer_id=game.developer_id, user_id=user, role=role)
            for role, user in (members or {}).items()
        ),
        developer.GameCreated(
            game_id=game.game_id, developer_id=game.developer_id, title="Game", status="draft"
        ),
    ]
    handlers = studio_projection.handlers()
    with dist.db.transaction() as session:
        for data in events:
            handlers(session, data.to_event())


def fetch_all(client, token) -> list[dict]:
    response = client.get(f"{KEYS}?limit=1000", headers=token)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def sale(keys, order_id=None) -> dict:
    return {
        "orderId": order_id or f"order-{uuid.uuid4()}",
        "keyIds": [k["keyId"] for k in keys],
        "price": {"amount": "19.99", "currency": "USD"},
        "soldAt": datetime.now(UTC).isoformat(),
    }


def km_statuses(km_app, key_ids) -> dict[str, str]:
    km = km_app.extensions["key_manager"]
    with km.db.transaction() as session:
        rows = session.execute(
            select(km_keys.c.id, km_keys.c.status).where(km_keys.c.id.in_([uuid.UUID(k) for k in key_ids]))
        ).all()
    return {str(key_id): status for key_id, status in rows}


def key_counts(client, admin_auth, retailer) -> dict[str, dict]:
    response = client.get(f"{API}/retailers/{retailer['id']}/keys", headers=admin_auth)
    assert response.status_code == 200, response.get_json()
    return {item["allocationId"]: item["keyCounts"] for item in response.get_json()["items"]}


def revoke(client, auth, retailer_id, **body):
    body = {"requestId": f"leak-{uuid.uuid4()}", "reason": "keys found on a grey-market site", **body}
    return client.post(f"{API}/retailers/{retailer_id}/revoke-unsold", json=body, headers=auth), body


def test_admin_revokes_a_retailers_unsold_stock_in_one_call(
    client, make_game, make_retailer, allocate, retailer_token, admin_auth, events_of, km_app
):
    g1, g2 = make_game(10), make_game(10)
    retailer = make_retailer([g1.game_id, g2.game_id])
    a1 = allocate(retailer, g1, 6).get_json()["allocationId"]
    a2 = allocate(retailer, g2, 4).get_json()["allocationId"]
    token = retailer_token(retailer)
    keys = fetch_all(client, token)
    of_a1 = [k for k in keys if k["allocationId"] == a1]
    assert client.post(SALES, json=sale(of_a1[:2]), headers=token).status_code == 201

    response, body = revoke(client, admin_auth, retailer["id"])
    assert response.status_code == 201, response.get_json()
    report = response.get_json()
    assert report["requestId"] == body["requestId"] and report["retailerId"] == retailer["id"]
    assert report["revokedKeys"] == 4 + 4 and report["leftSold"] == 2 and report["leftActivated"] == 0
    assert {(a["allocationId"], a["revoked"], a["leftSold"]) for a in report["allocations"]} == {
        (a1, 4, 2),
        (a2, 4, 0),
    }
    assert {g["gameId"]: g["revoked"] for g in report["games"]} == {str(g1.game_id): 4, str(g2.game_id): 4}
    # The retailer's stock is zero; sold keys stay sold.
    counts = key_counts(client, admin_auth, retailer)
    assert counts[a1]["allocated"] == 0 and counts[a1]["sold"] == 2 and counts[a2]["allocated"] == 0
    statuses = km_statuses(km_app, [k["keyId"] for k in keys])
    assert sorted(statuses.values()) == ["revoked"] * 8 + ["sold"] * 2
    # One stock.revoked per allocation, no key in them.
    revoked_events = [e for e in events_of("stock.revoked") if e["data"]["requestId"] == body["requestId"]]
    assert sorted((e["data"]["allocationId"], e["data"]["revokedKeys"]) for e in revoked_events) == sorted(
        [(a1, 4), (a2, 4)]
    )
    assert not any(k["key"] in str(revoked_events) for k in keys)
    # The retailer cannot sell a revoked key.
    unsold = [k for k in of_a1[2:]]
    refused = client.post(SALES, json=sale(unsold[:1]), headers=token)
    assert refused.status_code in (409, 410), refused.get_json()

    # A retry answers the first report and changes nothing; another scope is refused.
    retry = client.post(f"{API}/retailers/{retailer['id']}/revoke-unsold", json=body, headers=admin_auth)
    assert retry.status_code == 200 and retry.get_json() == report
    assert len([e for e in events_of("stock.revoked") if e["data"]["requestId"] == body["requestId"]]) == 2
    conflict = client.post(
        f"{API}/retailers/{retailer['id']}/revoke-unsold",
        json={**body, "gameId": str(g1.game_id)},
        headers=admin_auth,
    )
    assert conflict.status_code == 422 and conflict.get_json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"


def test_a_studio_revokes_only_its_own_games_stock(
    client, dist, make_game, make_retailer, allocate, admin_auth, make_token, km_app
):
    mine, theirs = make_game(10), make_game(10)
    developer_user = str(uuid.uuid4())
    known_to_distribution(dist, mine, members={"developer": developer_user, "finance": str(uuid.uuid4())})
    known_to_distribution(dist, theirs)
    retailer = make_retailer([mine.game_id, theirs.game_id])
    a_mine = allocate(retailer, mine, 3).get_json()["allocationId"]
    a_mine2 = allocate(retailer, mine, 2).get_json()["allocationId"]
    a_theirs = allocate(retailer, theirs, 3).get_json()["allocationId"]
    studio = {"Authorization": f"Bearer {make_token(sub=developer_user, roles=('developer',))}"}

    # What the studio may not touch looks unknown, and changes nothing.
    for scope in ({"gameId": str(theirs.game_id)}, {"allocationId": a_theirs}, {"gameId": str(uuid.uuid4())}):
        response, _ = revoke(client, studio, retailer["id"], **scope)
        assert response.status_code == 404, response.get_json()
    outsider = {"Authorization": f"Bearer {make_token(sub=str(uuid.uuid4()), roles=('developer',))}"}
    assert revoke(client, outsider, retailer["id"])[0].status_code == 403
    support = {"Authorization": f"Bearer {make_token(roles=('support',))}"}
    assert revoke(client, support, retailer["id"])[0].status_code == 403
    assert revoke(client, studio, uuid.uuid4())[0].status_code == 404
    assert {a: c["allocated"] for a, c in key_counts(client, admin_auth, retailer).items()} == {
        a_mine: 3,
        a_mine2: 2,
        a_theirs: 3,
    }

    one, _ = revoke(client, studio, retailer["id"], allocationId=a_mine2)
    assert one.status_code == 201 and one.get_json()["revokedKeys"] == 2
    every, _ = revoke(client, studio, retailer["id"])
    assert every.status_code == 201, every.get_json()
    assert [(a["allocationId"], a["revoked"]) for a in every.get_json()["allocations"]] == sorted(
        [(a_mine, 3), (a_mine2, 0)]
    )
    assert {a: c["allocated"] for a, c in key_counts(client, admin_auth, retailer).items()} == {
        a_mine: 0,
        a_mine2: 0,
        a_theirs: 3,
    }


def test_bad_revocations_change_nothing(client, dist, game, make_retailer, allocate, admin_auth):
    retailer = make_retailer([game.game_id])
    allocation = allocate(retailer, game, 3).get_json()["allocationId"]
    other = make_retailer([game.game_id])

    def revocations() -> int:
        with dist.db.transaction() as session:
            return len(session.execute(select(stock_revocations.c.id)).all())

    before = revocations()
    for bad in ({"requestId": ""}, {"requestId": "a b"}, {"reason": ""}, {"gameId": "x"}, {"keys": []}):
        response, _ = revoke(client, admin_auth, retailer["id"], **bad)
        assert response.status_code == 422, bad
        assert response.get_json()["error"]["code"] == "VALIDATION_ERROR"
    wrong_retailer, _ = revoke(client, admin_auth, other["id"], allocationId=allocation)
    assert wrong_retailer.status_code == 404
    assert revoke(client, admin_auth, uuid.uuid4())[0].status_code == 404
    assert client.post(f"{API}/retailers/{retailer['id']}/revoke-unsold", json={}).status_code == 401
    assert revocations() == before
    assert key_counts(client, admin_auth, retailer)[allocation]["allocated"] == 3


def test_revoke_unsold_racing_sales_and_an_allocation_never_sells_a_revoked_key(
    app, client, make_game, make_retailer, allocate, retailer_token, admin_auth, km_app, dist
):
    rounds = 10
    game = make_game(rounds * 6)
    outcomes = set()
    with serving(app) as url:
        for _ in range(rounds):
            retailer = make_retailer([game.game_id])
            first = allocate(retailer, game, 4).get_json()["allocationId"]
            token = retailer_token(retailer)
            keys = fetch_all(client, token)
            orders = [sale(keys[0:2]), sale(keys[2:4])]

            def act(session: requests.Session, n: int, retailer=retailer, token=token, orders=orders):
                if n == 0:
                    return session.post(
                        f"{url}{API}/retailers/{retailer['id']}/revoke-unsold",
                        json={"requestId": f"race-{uuid.uuid4()}", "reason": "leak"},
                        headers=admin_auth,
                        timeout=60,
                    )
                if n == 3:
                    return session.post(
                        f"{url}{API}/allocations",
                        json={
                            "retailerId": retailer["id"],
                            "gameId": str(game.game_id),
                            "quantity": 2,
                            "keyType": "retail",
                            "pricing": {"amount": "19.99", "currency": "USD"},
                        },
                        headers=admin_auth,
                        timeout=60,
                    )
                return session.post(f"{url}{SALES}", json=orders[n - 1], headers=token, timeout=60)

            revocation, *sales, allocation = race(4, act)
            assert revocation.status_code == 201, revocation.json()
            assert allocation.status_code == 201, allocation.json()
            statuses = km_statuses(km_app, [k["keyId"] for k in keys])
            with dist.db.transaction() as session:
                recorded = {
                    str(k)
                    for k in session.execute(
                        select(sale_keys.c.key_id).where(
                            sale_keys.c.key_id.in_([uuid.UUID(k["keyId"]) for k in keys])
                        )
                    ).scalars()
                }
            for order, response in zip(orders, sales, strict=True):
                if response.status_code == 201:
                    assert {statuses[k] for k in order["keyIds"]} == {"sold"}
                    assert set(order["keyIds"]) <= recorded
                    outcomes.add("sold first")
                else:
                    assert response.status_code in (409, 410), response.json()
                    assert {statuses[k] for k in order["keyIds"]} == {"revoked"}
                    assert not set(order["keyIds"]) & recorded
                    outcomes.add("revoked first")
            report = revocation.json()
            assert report["revokedKeys"] >= sum(s == "revoked" for s in statuses.values())
            first_line = next(a for a in report["allocations"] if a["allocationId"] == first)
            assert first_line["revoked"] + first_line["leftSold"] == 4
            # The new allocation's keys were all revoked (it came first) or are all still there.
            new = allocation.json()["allocationId"]
            with km_app.extensions["key_manager"].db.transaction() as session:
                new_states = set(
                    session.execute(
                        select(km_keys.c.status).where(km_keys.c.allocation_id == uuid.UUID(new))
                    ).scalars()
                )
            assert new_states in ({"allocated"}, {"revoked"})
    assert outcomes  # at least one ordering observed; both usually are


def test_concurrent_sales_from_one_allocation_do_not_deadlock(
    app, client, make_game, make_retailer, allocate, retailer_token
):
    """Each sale's sale_keys rows hold a KEY SHARE lock on their allocation; the low-stock check
    then locks the allocation for its counters. With FOR UPDATE two sales from one allocation
    waited for each other's KEY SHARE (a deadlock, answered 503); FOR NO KEY UPDATE does not."""
    rounds = 8
    game = make_game(rounds * 2)
    with serving(app) as url:
        for _ in range(rounds):
            retailer = make_retailer([game.game_id])
            assert allocate(retailer, game, 2).status_code == 201
            token = retailer_token(retailer)
            keys = fetch_all(client, token)
            orders = [sale(keys[0:1]), sale(keys[1:2])]

            def act(session: requests.Session, n: int, token=token, orders=orders):
                return session.post(f"{url}{SALES}", json=orders[n], headers=token, timeout=60)

            answers = race(2, act)
            assert [a.status_code for a in answers] == [201, 201], [a.json() for a in answers]
