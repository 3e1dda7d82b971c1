"""Leak response on the internal API: a retailer's unsold keys revoked in one operation (all its
stock, one game's, one allocation's), idempotent by request id, with its report; bad input
changes nothing; racing sales of the same retailer never leave a key both sold and revoked."""

from __future__ import annotations

import uuid

import requests
from km_testkit import outbox_events
from sqlalchemy import func, select

from gamekeys_platform.testing import race
from key_manager.db.tables import key_transitions, keys, stock_revocations

INTERNAL = "/internal/v1/keys"


def allocate(client, auth, studio, retailer_id, quantity) -> str:
    allocation_id = str(uuid.uuid4())
    response = client.post(
        f"{INTERNAL}/allocations",
        json={
            "allocationId": allocation_id,
            "retailerId": str(retailer_id),
            "gameId": str(studio.game_id),
            "keyType": "retail",
            "quantity": quantity,
        },
        headers=auth,
    )
    assert response.status_code == 201, response.get_json()
    return allocation_id


def allocation_key_ids(km, allocation_id) -> list[uuid.UUID]:
    with km.db.transaction() as session:
        return list(
            session.execute(
                select(keys.c.id).where(keys.c.allocation_id == uuid.UUID(allocation_id)).order_by(keys.c.id)
            ).scalars()
        )


def statuses(km, key_ids) -> dict[uuid.UUID, str]:
    with km.db.transaction() as session:
        return dict(session.execute(select(keys.c.id, keys.c.status).where(keys.c.id.in_(key_ids))).all())


def revoke(client, auth, retailer_id, **body):
    body = {"requestId": f"leak-{uuid.uuid4()}", "reason": "keys seen on a grey market", **body}
    return client.post(f"{INTERNAL}/retailers/{retailer_id}/revoke-unsold", json=body, headers=auth), body


def test_revoke_unsold_takes_every_unsold_key_of_the_retailer_and_reports_what_was_left(
    client, gen, make_studio, service_auth, km
):
    first, second = make_studio(), make_studio()
    gen(first, 20)
    gen(second, 10)
    auth, sell_auth = service_auth("keys:allocate"), service_auth("keys:sell")
    retailer, other_retailer = uuid.uuid4(), uuid.uuid4()
    a1 = allocate(client, auth, first, retailer, 8)
    a2 = allocate(client, auth, second, retailer, 5)
    a_other = allocate(client, auth, first, other_retailer, 4)
    keys1 = allocation_key_ids(km, a1)
    sold = client.post(
        f"{INTERNAL}/sales",
        json={"retailerId": str(retailer), "orderId": "o-1", "keyIds": [str(k) for k in keys1[:3]]},
        headers=sell_auth,
    )
    assert sold.status_code == 200, sold.get_json()
    activated = client.post(
        f"{INTERNAL}/activate",
        json={"keyId": str(keys1[0]), "userId": "player-1", "activationId": "act-1", "userRegion": "DE"},
        headers=service_auth("keys:activate"),
    )
    assert activated.status_code == 200, activated.get_json()

    response, body = revoke(client, auth, retailer)
    assert response.status_code == 201, response.get_json()
    report = response.get_json()
    assert report["requestId"] == body["requestId"] and report["retailerId"] == str(retailer)
    assert report["revokedKeys"] == 5 + 5 and report["leftSold"] == 2 and report["leftActivated"] == 1
    by_allocation = {item["allocationId"]: item for item in report["allocations"]}
    assert set(by_allocation) == {a1, a2}
    assert by_allocation[a1] | {"allocationId": None} == {
        "allocationId": None,
        "gameId": str(first.game_id),
        "keyType": "retail",
        "revoked": 5,
        "leftSold": 2,
        "leftActivated": 1,
    }
    assert by_allocation[a2]["revoked"] == 5 and by_allocation[a2]["leftSold"] == 0
    assert {g["gameId"]: g["revoked"] for g in report["games"]} == {
        str(first.game_id): 5,
        str(second.game_id): 5,
    }
    now = statuses(km, keys1)
    assert [now[k] for k in keys1] == ["activated", "sold", "sold"] + ["revoked"] * 5
    assert set(statuses(km, allocation_key_ids(km, a2)).values()) == {"revoked"}
    assert set(statuses(km, allocation_key_ids(km, a_other)).values()) == {"allocated"}
    with km.db.transaction() as session:
        history = session.execute(
            select(key_transitions.c.from_status, key_transitions.c.operation, key_transitions.c.request_id)
            .where(key_transitions.c.key_id == keys1[-1])
            .order_by(key_transitions.c.id.desc())
        ).first()
    assert tuple(history) == ("allocated", "revoke_unsold", body["requestId"])
    released = [
        e for e in outbox_events(km, "allocation.released") if e.get("requestId") == body["requestId"]
    ]
    assert sorted((e["allocationId"], e["released"], e["status"]) for e in released) == sorted(
        [(a1, 5, "revoked"), (a2, 5, "revoked")]
    )

    # A retry answers the first report and changes nothing; other parameters are refused.
    retry = client.post(f"{INTERNAL}/retailers/{retailer}/revoke-unsold", json=body, headers=auth)
    assert retry.status_code == 200 and retry.get_json() == report
    assert (
        len([e for e in outbox_events(km, "allocation.released") if e.get("requestId") == body["requestId"]])
        == 2
    )
    conflict = client.post(
        f"{INTERNAL}/retailers/{retailer}/revoke-unsold",
        json={**body, "gameIds": [str(first.game_id)]},
        headers=auth,
    )
    assert conflict.status_code == 422 and conflict.get_json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"

    # Nothing unsold is left: a second revocation revokes nothing.
    again, _ = revoke(client, auth, retailer)
    assert again.status_code == 201 and again.get_json()["revokedKeys"] == 0


def test_revoke_unsold_narrowed_to_one_game_or_one_allocation(client, gen, make_studio, service_auth, km):
    first, second = make_studio(), make_studio()
    gen(first, 10)
    gen(second, 10)
    auth, retailer = service_auth("keys:allocate"), uuid.uuid4()
    a1 = allocate(client, auth, first, retailer, 3)
    a1b = allocate(client, auth, first, retailer, 3)
    a2 = allocate(client, auth, second, retailer, 3)

    by_game, _ = revoke(client, auth, retailer, gameIds=[str(second.game_id)])
    assert by_game.status_code == 201
    assert [item["allocationId"] for item in by_game.get_json()["allocations"]] == [a2]
    one, _ = revoke(client, auth, retailer, allocationId=a1)
    assert one.status_code == 201 and one.get_json()["revokedKeys"] == 3
    assert set(statuses(km, allocation_key_ids(km, a1b)).values()) == {"allocated"}
    assert set(statuses(km, allocation_key_ids(km, a2)).values()) == {"revoked"}
    assert set(statuses(km, allocation_key_ids(km, a1)).values()) == {"revoked"}


def test_bad_revocations_change_nothing(client, gen, studio, service_auth, km):
    gen(studio, 5)
    auth, retailer = service_auth("keys:allocate"), uuid.uuid4()
    allocation = allocate(client, auth, studio, retailer, 3)
    before = statuses(km, allocation_key_ids(km, allocation))

    def revocations() -> int:
        with km.db.transaction() as session:
            return session.execute(select(func.count()).select_from(stock_revocations)).scalar_one()

    count = revocations()
    foreign, _ = revoke(client, auth, uuid.uuid4(), allocationId=allocation)  # another retailer's
    assert foreign.status_code == 404 and foreign.get_json()["error"]["code"] == "NOT_FOUND"
    for bad in (
        {"requestId": ""},
        {"requestId": "x" * 129},
        {"reason": ""},
        {"gameIds": []},
        {"gameIds": [str(uuid.uuid4())] * 1001},
        {"allocationId": "nope"},
        {"extra": 1},
    ):
        response, _ = revoke(client, auth, retailer, **bad)
        assert response.status_code == 422, bad
        assert response.get_json()["error"]["code"] == "VALIDATION_ERROR"
    wrong_scope, _ = revoke(client, service_auth("keys:sell"), retailer)
    assert wrong_scope.status_code == 403
    no_token = client.post(f"{INTERNAL}/retailers/{retailer}/revoke-unsold", json={})
    assert no_token.status_code == 401
    assert statuses(km, allocation_key_ids(km, allocation)) == before
    assert revocations() == count


def test_revoke_unsold_racing_sales_never_leaves_a_key_sold_and_revoked(
    live_server, gen, studio, service_auth, km, client
):
    rounds = 12
    gen(studio, rounds * 4)
    auth, sell_auth = service_auth("keys:allocate"), service_auth("keys:sell")
    outcomes = set()
    for n in range(rounds):
        retailer = uuid.uuid4()
        allocation = allocate(client, auth, studio, retailer, 4)
        key_ids = [str(k) for k in allocation_key_ids(km, allocation)]

        def act(session: requests.Session, i: int, retailer=retailer, key_ids=key_ids, n=n):
            if i == 0:
                return session.post(
                    f"{live_server}{INTERNAL}/retailers/{retailer}/revoke-unsold",
                    json={"requestId": f"race-{uuid.uuid4()}", "reason": "leak"},
                    headers=auth,
                    timeout=60,
                )
            return session.post(
                f"{live_server}{INTERNAL}/sales",
                json={"retailerId": str(retailer), "orderId": f"race-{n}-{i}", "keyIds": key_ids[i - 1 :: 2]},
                headers=sell_auth,
                timeout=60,
            )

        revocation, *sales = race(3, act)
        assert revocation.status_code == 201, revocation.json()
        report = revocation.json()
        now = statuses(km, [uuid.UUID(k) for k in key_ids])
        sold = {k for k, s in now.items() if s == "sold"}
        revoked = {k for k, s in now.items() if s == "revoked"}
        assert sold | revoked == set(now)  # every key one or the other, never both
        for i, sale in enumerate(sales, start=1):
            mine = {uuid.UUID(k) for k in key_ids[i - 1 :: 2]}
            if sale.status_code == 200:
                assert mine <= sold
                outcomes.add("sold first")
            else:
                error = sale.json()["error"]
                assert error["code"] == "CONFLICT" and error["details"]["currentStatus"] == "revoked", error
                assert mine <= revoked
                outcomes.add("revoked first")
        assert report["revokedKeys"] == len(revoked) and report["leftSold"] == len(sold)
        with km.db.transaction() as session:
            both = session.execute(
                select(func.count(func.distinct(key_transitions.c.key_id))).where(
                    key_transitions.c.key_id.in_(list(now)), key_transitions.c.to_status == "sold"
                )
            ).scalar_one()
        assert both == len(sold)  # no revoked key was ever sold
