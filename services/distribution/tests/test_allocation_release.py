"""Taking keys back: a platform admin releases an allocation's unsold keys (to the free pool, or
revoked once the retailer has seen them), and the worker releases allocations key-manager
reserved but distribution never recorded (a crash between the two), against a real key-manager."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from distribution.db import repository as repo
from distribution.db.tables import allocation_attempts, allocations
from distribution.reconcile import release_orphaned_allocations
from key_manager.db.tables import keys

API = "/api/v1/distribution"


def release(client, auth, allocation_id, **body):
    return client.post(
        f"{API}/allocations/{allocation_id}/release", json={"reason": "stock back", **body}, headers=auth
    )


@pytest.fixture(scope="module")
def km_statuses(km_app):
    def statuses(game) -> dict[str, int]:
        with km_app.extensions["key_manager"].db.transaction() as session:
            rows = session.execute(
                select(keys.c.status, func.count())
                .where(keys.c.game_id == game.game_id)
                .group_by(keys.c.status)
            ).all()
        return dict(rows)

    return statuses


def test_unsold_keys_go_back_to_the_free_pool(
    client, game, make_retailer, allocate, admin_auth, km_statuses, events_of, make_token
):
    retailer = make_retailer([game.game_id])
    allocation = allocate(retailer, game, 6).get_json()
    released = release(client, admin_auth, allocation["allocationId"])
    assert released.status_code == 200, released.get_json()
    body = released.get_json()
    assert (body["released"], body["releasedTotal"], body["status"]) == (6, 6, "generated")
    assert km_statuses(game) == {"generated": 10}
    [event] = events_of("allocation.released", allocation["allocationId"])
    assert event["data"]["released"] == 6 and event["data"]["reason"] == "stock back"
    again = release(client, admin_auth, allocation["allocationId"])
    assert again.status_code == 200 and again.get_json()["released"] == 0
    assert len(events_of("allocation.released", allocation["allocationId"])) == 1
    [entry] = client.get(f"{API}/retailers/{retailer['id']}/keys", headers=admin_auth).get_json()["items"]
    assert entry["keyCounts"]["allocated"] == 0 and entry["keyCounts"]["released"] == 6
    # The keys are free again: another retailer gets all ten.
    other = make_retailer([game.game_id])
    assert allocate(other, game, 10).status_code == 201
    # Bad input and the wrong people.
    assert release(client, admin_auth, uuid.uuid4()).status_code == 404
    assert release(client, admin_auth, allocation["allocationId"], reason="").status_code == 422
    assert release(client, admin_auth, allocation["allocationId"], extra=1).status_code == 422
    support = {"Authorization": f"Bearer {make_token(roles=('support',))}"}
    assert release(client, support, allocation["allocationId"]).status_code == 403


def test_keys_the_retailer_has_seen_can_only_be_revoked(
    client, game, make_retailer, allocate, admin_auth, retailer_token, km_statuses, counts
):
    retailer = make_retailer([game.game_id])
    allocation = allocate(retailer, game, 6).get_json()
    token = retailer_token(retailer)
    seen = client.get(f"{API}/retailer/keys?limit=4", headers=token).get_json()["items"]
    order = {
        "orderId": f"o-{uuid.uuid4()}",
        "keyIds": [seen[0]["keyId"]],
        "price": {"amount": "9.99", "currency": "EUR"},
        "soldAt": datetime.now(UTC).isoformat(),
    }
    assert client.post(f"{API}/retailer/sales", json=order, headers=token).status_code == 201
    before, statuses = counts(), km_statuses(game)
    refused = release(client, admin_auth, allocation["allocationId"])
    assert refused.status_code == 409, refused.get_json()
    error = refused.get_json()["error"]
    assert error["code"] == "CONFLICT" and error["details"] == {
        "reason": "KEYS_DELIVERED",
        "deliveredUnsold": 3,
    }
    assert counts() == before and km_statuses(game) == statuses
    revoked = release(client, admin_auth, allocation["allocationId"], revoke=True)
    assert revoked.status_code == 200 and revoked.get_json()["released"] == 5
    assert km_statuses(game) == {"generated": 4, "sold": 1, "revoked": 5}
    # A key the retailer still holds in clear is dead now.
    late = client.post(
        f"{API}/retailer/sales",
        json={**order, "orderId": "late", "keyIds": [seen[1]["keyId"]]},
        headers=token,
    )
    assert late.status_code == 409


def test_an_allocation_never_recorded_is_released_by_the_worker(
    client, game, make_retailer, allocate, dist, km_statuses, monkeypatch
):
    retailer = make_retailer([game.game_id])

    def crash(*_args, **_kwargs):
        raise RuntimeError("the process died after key-manager answered")

    # A crash between key-manager's reservation and our commit, then a retry in time: recorded.
    monkeypatch.setattr(repo, "insert_allocation", crash)
    retried = {"Idempotency-Key": str(uuid.uuid4())}
    assert allocate(retailer, game, 3, headers=retried).status_code == 500
    assert km_statuses(game) == {"allocated": 3, "generated": 7}
    monkeypatch.undo()
    recorded = allocate(retailer, game, 3, headers=retried)
    assert recorded.status_code == 201, recorded.get_json()
    recorded_id = recorded.get_json()["allocationId"]

    # The same crash and nobody retries: an orphan.
    monkeypatch.setattr(repo, "insert_allocation", crash)
    abandoned = {"Idempotency-Key": str(uuid.uuid4())}
    assert allocate(retailer, game, 5, headers=abandoned).status_code == 500
    monkeypatch.undo()
    assert km_statuses(game) == {"allocated": 8, "generated": 2}
    # Too recent: a retry may still be on its way.
    release_orphaned_allocations(dist.db, dist.key_manager, older_than_seconds=3600)
    assert km_statuses(game) == {"allocated": 8, "generated": 2}
    result = release_orphaned_allocations(dist.db, dist.key_manager, older_than_seconds=0)
    assert result["released"] >= 1 and result["keys"] >= 5
    assert km_statuses(game) == {"allocated": 3, "generated": 7}  # the recorded allocation kept its keys
    with dist.db.transaction() as session:
        attempts = session.execute(
            select(allocation_attempts).where(allocation_attempts.c.released_at.is_not(None))
        ).all()
        orphan = next(a for a in attempts if a.retailer_id == uuid.UUID(retailer["id"]))
        assert orphan.released_keys == 5 and orphan.id != uuid.UUID(recorded_id)
    # Idempotent: nothing more to release; a late retry is refused and records nothing.
    again = release_orphaned_allocations(dist.db, dist.key_manager, older_than_seconds=0)
    assert km_statuses(game) == {"allocated": 3, "generated": 7} and again["keys"] == 0
    late = allocate(retailer, game, 5, headers=abandoned)
    assert late.status_code == 409, late.get_json()
    assert late.get_json()["error"]["details"]["reason"] == "ALLOCATION_RELEASED"
    with dist.db.transaction() as session:
        mine = session.execute(
            select(allocations.c.id).where(allocations.c.retailer_id == uuid.UUID(retailer["id"]))
        ).scalars().all()  # fmt: skip
    assert [str(a) for a in mine] == [recorded_id]


def test_a_refused_allocation_leaves_no_attempt(client, game, make_retailer, allocate, dist):
    retailer = make_retailer([game.game_id])
    short = allocate(retailer, game, 11, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert short.status_code == 409 and short.get_json()["error"]["code"] == "INSUFFICIENT_KEY_ALLOCATION"
    with dist.db.transaction() as session:
        left = session.execute(
            select(func.count())
            .select_from(allocation_attempts)
            .where(allocation_attempts.c.retailer_id == uuid.UUID(retailer["id"]))
        ).scalar_one()
    assert left == 0
