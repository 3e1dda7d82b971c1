"""The internal API: look-up, hold/release, activation, allocation, sale, return, expiry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from km_testkit import outbox_events
from sqlalchemy import select, update

from key_manager.db.tables import batches, key_transitions, keys
from key_manager.domain import codec
from key_manager.generator import expire_due_batches

INTERNAL = "/internal/v1/keys"


@pytest.fixture()
def issued(gen, studio):
    """20 fresh retail keys: allowed in DE, FR and US, denied in US (deny wins): DE and FR."""
    response = gen(
        studio,
        20,
        regionalRestrictions=[
            {"type": "allow", "countries": ["DE", "FR", "US"]},
            {"type": "deny", "countries": ["US"]},
        ],
    )
    assert response.status_code == 201
    return response.get_json()


def activate(client, auth, key, *, region="DE", activation_id=None, **extra):
    body = {
        "key": key,
        "userId": "player-1",
        "activationId": activation_id or str(uuid.uuid4()),
        "userRegion": region,
    }
    return client.post(f"{INTERNAL}/activate", json={**body, **extra}, headers=auth)


def test_lookup_by_typed_key_and_by_id(client, issued, service_auth):
    auth = service_auth("keys:read")
    key = issued["keys"][0]
    typed = key["key"].lower().replace("-", " ")
    found = client.post(f"{INTERNAL}/lookup", json={"key": typed}, headers=auth)
    assert found.status_code == 200
    body = found.get_json()
    assert body["keyId"] == key["id"] and body["status"] == "generated" and body["expired"] is False
    assert body["gameId"] == issued["gameId"] and body["batchId"] == issued["batchId"]
    assert client.post(f"{INTERNAL}/lookup", json={"keyId": key["id"]}, headers=auth).get_json() == body
    assert client.post(f"{INTERNAL}/lookup", json={"key": "ABCD"}, headers=auth).get_json()["error"][
        "code"
    ] == ("INVALID_KEY_FORMAT")
    never_issued = codec.format_key(codec.generate_keys(1)[0])
    unknown = client.post(f"{INTERNAL}/lookup", json={"key": never_issued}, headers=auth)
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "KEY_NOT_FOUND"
    assert (
        client.post(
            f"{INTERNAL}/lookup", json={"key": key["key"], "keyId": key["id"]}, headers=auth
        ).status_code
        == 422
    )
    # Scopes: another service's scope or a user token is not enough.
    assert (
        client.post(
            f"{INTERNAL}/lookup", json={"key": key["key"]}, headers=service_auth("keys:hold")
        ).status_code
        == 403
    )


def test_activation_exactly_once_with_replay_and_refusals(client, issued, service_auth, km):
    auth = service_auth("keys:activate")
    key = issued["keys"][0]["key"]
    activation_id = str(uuid.uuid4())
    first = activate(client, auth, key, activation_id=activation_id)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["gameId"] == issued["gameId"] and first.get_json()["status"] == "activated"
    # The same activation again (a retry) answers the same; another one is refused.
    assert activate(client, auth, key, activation_id=activation_id).get_json() == first.get_json()
    again = activate(client, auth, key)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "KEY_ALREADY_ACTIVATED"
    # Regions: US is allowed then denied (deny wins), JP is not in the allow list.
    for region in ("US", "JP"):
        refused = activate(client, auth, issued["keys"][1]["key"], region=region)
        assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "REGION_RESTRICTED"
    assert activate(client, auth, issued["keys"][1]["key"], region="fr").status_code == 200
    # Not found, malformed.
    assert activate(client, auth, "ABCD-EFGH").get_json()["error"]["code"] == "INVALID_KEY_FORMAT"
    with km.db.transaction() as session:
        history = session.execute(
            select(key_transitions.c.from_status, key_transitions.c.to_status).where(
                key_transitions.c.key_id == uuid.UUID(issued["keys"][0]["id"])
            )
        ).all()
        events = (
            session.execute(
                select(km.db.tables.outbox.c.payload).where(
                    km.db.tables.outbox.c.event_type == "key.activated",
                    km.db.tables.outbox.c.message_key == issued["keys"][0]["id"],
                )
            )
            .scalars()
            .all()
        )
    assert [tuple(h) for h in history] == [("generated", "activated")]
    assert len(events) == 1 and events[0]["data"]["activationId"] == activation_id


def test_revoked_and_expired_keys_are_refused_even_before_the_expiry_job(
    client, gen, studio, service_auth, km
):
    auth = service_auth("keys:activate")
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    batch = gen(studio, 3, expirationDate=soon).get_json()
    revoked_id = batch["keys"][0]["id"]
    assert (
        client.post(
            f"/api/v1/keys/{revoked_id}/revoke", json={"reason": "leak"}, headers=studio.auth()
        ).status_code
        == 200
    )
    assert activate(client, auth, batch["keys"][0]["key"]).get_json()["error"]["code"] == "KEY_REVOKED"
    # Time passes: the expiration date is now in the past, the job has not run.
    with km.db.transaction() as session:
        past = datetime.now(UTC) - timedelta(seconds=1)
        session.execute(
            update(keys).where(keys.c.batch_id == uuid.UUID(batch["batchId"])).values(expires_at=past)
        )
        session.execute(
            update(batches).where(batches.c.id == uuid.UUID(batch["batchId"])).values(expires_at=past)
        )
    refused = activate(client, auth, batch["keys"][1]["key"])
    assert refused.status_code == 410 and refused.get_json()["error"]["code"] == "KEY_EXPIRED"
    result = expire_due_batches(km)
    assert result["batches"] >= 1 and result["keys"] >= 2
    with km.db.transaction() as session:
        statuses = dict(
            session.execute(
                select(keys.c.id, keys.c.status).where(keys.c.batch_id == uuid.UUID(batch["batchId"]))
            ).all()
        )
    assert sorted(statuses.values()) == ["expired", "expired", "revoked"]
    assert expire_due_batches(km)["batches"] == 0  # done once


def test_activation_needs_an_iso_country(client, issued, service_auth):
    refused = activate(client, service_auth("keys:activate"), issued["keys"][0]["key"], region="XX")
    assert refused.status_code == 422
    assert refused.get_json()["error"]["details"]["fields"]["json"]["userRegion"]


def test_hold_and_release(client, issued, service_auth):
    hold_auth, activate_auth = service_auth("keys:hold"), service_auth("keys:activate")
    key = issued["keys"][2]
    body = {"keyId": key["id"], "holdId": "case-1", "reason": "velocity"}
    held = client.post(f"{INTERNAL}/hold", json=body, headers=hold_auth)
    assert held.status_code == 200 and held.get_json()["status"] == "pending_review"
    assert (
        client.post(f"{INTERNAL}/hold", json=body, headers=hold_auth).status_code == 200
    )  # same hold: no-op
    other = client.post(f"{INTERNAL}/hold", json={**body, "holdId": "case-2"}, headers=hold_auth)
    assert other.status_code == 409
    # Nobody activates a held key, except the holder's own decision.
    assert activate(client, activate_auth, key["key"]).status_code == 409
    released = client.post(f"{INTERNAL}/release", json=body, headers=hold_auth)
    assert released.status_code == 200 and released.get_json()["status"] == "generated"
    assert client.post(f"{INTERNAL}/release", json=body, headers=hold_auth).status_code == 409
    # Held again, then approved: activated through the hold.
    assert (
        client.post(f"{INTERNAL}/hold", json={**body, "holdId": "case-3"}, headers=hold_auth).status_code
        == 200
    )
    approved = activate(client, activate_auth, key["key"], holdId="case-3")
    assert approved.status_code == 200


def test_allocation_is_all_or_nothing_idempotent_and_exclusive(client, gen, studio, service_auth, km):
    auth = service_auth("keys:allocate")
    gen(studio, 30)
    retailer = str(uuid.uuid4())
    request = {"allocationId": str(uuid.uuid4()), "retailerId": retailer, "gameId": str(studio.game_id),
               "keyType": "retail", "quantity": 25}  # fmt: skip
    created = client.post(f"{INTERNAL}/allocations", json=request, headers=auth)
    assert created.status_code == 201, created.get_json()
    replay = client.post(f"{INTERNAL}/allocations", json=request, headers=auth)
    assert replay.status_code == 200 and replay.get_json() == created.get_json()
    changed = client.post(f"{INTERNAL}/allocations", json={**request, "quantity": 3}, headers=auth)
    assert changed.status_code == 422 and changed.get_json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    short = client.post(
        f"{INTERNAL}/allocations",
        json={**request, "allocationId": str(uuid.uuid4()), "quantity": 6},
        headers=auth,
    )
    assert short.status_code == 409 and short.get_json()["error"]["code"] == "INSUFFICIENT_KEY_ALLOCATION"
    assert short.get_json()["error"]["details"] == {"requested": 6, "available": 5}
    with km.db.transaction() as session:
        statuses = (
            session.execute(select(keys.c.status).where(keys.c.game_id == studio.game_id)).scalars().all()
        )
    assert sorted(statuses).count("allocated") == 25 and statuses.count("generated") == 5  # nothing half-done

    listed = client.get(
        f"{INTERNAL}/allocations/{request['allocationId']}/keys?limit=10", headers=auth
    ).get_json()
    page2 = client.get(
        f"{INTERNAL}/allocations/{request['allocationId']}/keys",
        query_string={"limit": 100, "cursor": listed["nextCursor"]},
        headers=auth,
    ).get_json()
    items = listed["items"] + page2["items"]
    assert len(items) == 25 and all(i["retailerId"] == retailer for i in items)

    # Sale and return by the retailer the keys belong to.
    sell_auth = service_auth("keys:sell")
    sold_ids = [i["id"] for i in items[:3]]
    sale = {"retailerId": retailer, "orderId": "order-1", "keyIds": sold_ids}
    future = {**sale, "soldAt": (datetime.now(UTC) + timedelta(days=3 * 365)).isoformat()}
    assert client.post(f"{INTERNAL}/sales", json=future, headers=sell_auth).status_code == 422
    assert client.post(f"{INTERNAL}/sales", json=sale, headers=sell_auth).status_code == 200
    assert client.post(f"{INTERNAL}/sales", json=sale, headers=sell_auth).status_code == 200  # retry: same
    looked_up = client.post(
        f"{INTERNAL}/lookup", json={"keyId": sold_ids[0]}, headers=service_auth("keys:read")
    ).get_json()
    assert (
        looked_up["status"] == "sold" and looked_up["soldAt"] is not None
    )  # for antifraud's time since sale
    intruder = client.post(
        f"{INTERNAL}/sales", json={**sale, "retailerId": str(uuid.uuid4())}, headers=sell_auth
    )
    assert intruder.status_code == 403 and intruder.get_json()["error"]["code"] == "RETAILER_NOT_AUTHORIZED"
    activate(client, service_auth("keys:activate"), items[0]["key"])
    returned = client.post(
        f"{INTERNAL}/returns", json={**sale, "orderId": "order-1", "reason": "refund"}, headers=sell_auth
    )
    assert returned.status_code == 409 and returned.get_json()["error"]["code"] == "KEY_ALREADY_ACTIVATED"
    ok = client.post(
        f"{INTERNAL}/returns", json={**sale, "keyIds": sold_ids[1:], "reason": "refund"}, headers=sell_auth
    )
    assert ok.status_code == 200 and ok.get_json()["status"] == "revoked"
    with km.db.transaction() as session:
        events = (
            session.execute(
                select(km.db.tables.outbox.c.event_type).where(
                    km.db.tables.outbox.c.message_key.in_([request["allocationId"], "order-1"])
                )
            )
            .scalars()
            .all()
        )
    assert sorted(events) == ["key.allocated", "key.returned", "key.sold"]


def test_allocation_sale_and_return_events_name_each_keys_batch(client, gen, studio, service_auth, km):
    """So that a batch's figures can count keys no later event names (sold, never redeemed)."""
    older = gen(studio, 3).get_json()["batchId"]
    newer = gen(studio, 4).get_json()["batchId"]
    retailer, allocation_id = str(uuid.uuid4()), str(uuid.uuid4())
    request = {"allocationId": allocation_id, "retailerId": retailer, "gameId": str(studio.game_id),
               "keyType": "retail", "quantity": 5}  # fmt: skip
    assert (
        client.post(
            f"{INTERNAL}/allocations", json=request, headers=service_auth("keys:allocate")
        ).status_code
        == 201
    )
    [allocated] = outbox_events(km, "key.allocated", allocation_id)
    assert allocated["batches"] == [{"batchId": older, "quantity": 3}, {"batchId": newer, "quantity": 2}]

    with km.db.transaction() as session:
        batch_of = dict(
            session.execute(
                select(keys.c.id, keys.c.batch_id).where(keys.c.allocation_id == allocation_id)
            ).all()
        )
    sold = sorted(batch_of)[:4]
    sale = {"retailerId": retailer, "orderId": "order-batches", "keyIds": [str(k) for k in sold]}
    assert client.post(f"{INTERNAL}/sales", json=sale, headers=service_auth("keys:sell")).status_code == 200
    returned = {**sale, "keyIds": sale["keyIds"][1:], "reason": "refund"}
    assert (
        client.post(f"{INTERNAL}/returns", json=returned, headers=service_auth("keys:sell")).status_code
        == 200
    )
    for event_type, key_ids in (("key.sold", sold), ("key.returned", sold[1:])):
        [event] = outbox_events(km, event_type, "order-batches")
        assert event["keyIds"] == [str(k) for k in key_ids]
        assert event["batchIds"] == [str(batch_of[k]) for k in key_ids]


def test_released_allocation_gives_unsold_keys_back_or_revokes_them(client, gen, studio, service_auth, km):
    auth, sell_auth = service_auth("keys:allocate"), service_auth("keys:sell")
    gen(studio, 10)
    retailer = str(uuid.uuid4())

    def allocate(quantity: int) -> str:
        allocation_id = str(uuid.uuid4())
        request = {"allocationId": allocation_id, "retailerId": retailer, "gameId": str(studio.game_id),
                   "keyType": "retail", "quantity": quantity}  # fmt: skip
        assert client.post(f"{INTERNAL}/allocations", json=request, headers=auth).status_code == 201
        return allocation_id

    first = allocate(6)
    items = client.get(f"{INTERNAL}/allocations/{first}/keys?limit=100", headers=auth).get_json()["items"]
    sold = [i["id"] for i in items[:2]]
    sale = {"retailerId": retailer, "orderId": "order-r", "keyIds": sold}
    assert client.post(f"{INTERNAL}/sales", json=sale, headers=sell_auth).status_code == 200
    # Which keys are the retailer's: its own (sold or not), not another's, not unknown ones.
    mine = client.post(
        f"{INTERNAL}/retailer-keys",
        json={"retailerId": retailer, "keyIds": [items[0]["id"], items[5]["id"], str(uuid.uuid4())]},
        headers=sell_auth,
    )
    assert mine.status_code == 200 and sorted(mine.get_json()["keyIds"]) == sorted(
        [items[0]["id"], items[5]["id"]]
    )
    other = client.post(
        f"{INTERNAL}/retailer-keys", json={"retailerId": str(uuid.uuid4()), "keyIds": sold}, headers=sell_auth
    )
    assert other.get_json()["keyIds"] == []

    released = client.post(f"{INTERNAL}/allocations/{first}/release", json={"reason": "orphan"}, headers=auth)
    assert released.status_code == 200, released.get_json()
    assert released.get_json() == {
        "allocationId": first,
        "retailerId": retailer,
        "released": 4,
        "status": "generated",
    }
    again = client.post(f"{INTERNAL}/allocations/{first}/release", json={"reason": "orphan"}, headers=auth)
    assert again.status_code == 200 and again.get_json()["released"] == 0
    with km.db.transaction() as session:
        rows = session.execute(select(keys.c.id, keys.c.status, keys.c.retailer_id).where(
            keys.c.game_id == studio.game_id)).all()  # fmt: skip
        history = session.execute(
            select(key_transitions.c.to_status).where(key_transitions.c.operation == "release_allocation",
                                                      key_transitions.c.key_id.in_([r.id for r in rows]))
        ).scalars().all()  # fmt: skip
        outbox = km.db.tables.outbox
        events = session.execute(
            select(outbox.c.payload).where(outbox.c.event_type == "allocation.released",
                                           outbox.c.message_key == first)
        ).scalars().all()  # fmt: skip
    statuses = sorted(r.status for r in rows)
    assert statuses == ["generated"] * 8 + ["sold"] * 2 and history == ["generated"] * 4
    assert all(r.retailer_id is None for r in rows if r.status == "generated")
    [event] = events
    assert event["data"]["released"] == 4 and event["data"]["status"] == "generated"

    # The free keys can be allocated again; revoking leaves them with the retailer, revoked.
    second = allocate(8)
    revoked = client.post(
        f"{INTERNAL}/allocations/{second}/release", json={"reason": "seen", "revoke": True}, headers=auth
    )
    assert revoked.get_json()["released"] == 8 and revoked.get_json()["status"] == "revoked"
    listed = client.get(f"{INTERNAL}/allocations/{second}/keys?limit=100", headers=auth).get_json()["items"]
    assert len(listed) == 8 and {i["status"] for i in listed} == {"revoked"}

    unknown = client.post(
        f"{INTERNAL}/allocations/{uuid.uuid4()}/release", json={"reason": "x"}, headers=auth
    )
    assert unknown.status_code == 404
    bad = client.post(f"{INTERNAL}/allocations/{first}/release", json={"reason": ""}, headers=auth)
    assert bad.status_code == 422
    assert (
        client.post(
            f"{INTERNAL}/allocations/{first}/release", json={"reason": "x"}, headers=sell_auth
        ).status_code
        == 403
    )
