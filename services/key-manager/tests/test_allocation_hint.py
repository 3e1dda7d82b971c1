"""Allocation resumes each batch where the previous allocation stopped (batches.free_from), so
allocated keys and exhausted batches are not scanned again; keys freed below the hint are
still found."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update

from key_manager.db.tables import batches, keys
from key_manager.domain.batches import key_id_range

INTERNAL = "/internal/v1/keys"


def hint(km, batch_id: str):
    with km.db.transaction() as session:
        return session.execute(
            select(batches.c.free_from).where(batches.c.id == uuid.UUID(batch_id))
        ).scalar_one()


def allocation_key_ids(km, allocation_id: str) -> list[uuid.UUID]:
    with km.db.transaction() as session:
        return sorted(
            session.execute(
                select(keys.c.id).where(keys.c.allocation_id == uuid.UUID(allocation_id))
            ).scalars()
        )


def test_the_hint_moves_past_allocated_keys_and_is_reset_by_a_release(client, gen, studio, service_auth, km):
    auth = service_auth("keys:allocate")
    older = gen(studio, 30).get_json()["batchId"]
    newer = gen(studio, 20).get_json()["batchId"]
    older_ids = sorted(uuid.UUID(item["id"]) for item in client_keys(client, studio, older))
    retailer = str(uuid.uuid4())

    def allocate(quantity: int):
        allocation_id = str(uuid.uuid4())
        body = {"allocationId": allocation_id, "retailerId": retailer, "gameId": str(studio.game_id),
                "keyType": "retail", "quantity": quantity}  # fmt: skip
        return allocation_id, client.post(f"{INTERNAL}/allocations", json=body, headers=auth)

    first, response = allocate(10)
    assert response.status_code == 201
    assert allocation_key_ids(km, first) == older_ids[:10]  # oldest batch, lowest ids first
    assert hint(km, older) == older_ids[9] and hint(km, newer) is None

    second, response = allocate(25)  # the rest of the older batch, then 5 of the newer
    assert response.status_code == 201
    assert hint(km, older) == key_id_range(uuid.UUID(older))[1]  # ran dry: nothing to scan there now
    assert len(allocation_key_ids(km, second)) == 25 and hint(km, newer) is not None

    released = client.post(f"{INTERNAL}/allocations/{first}/release", json={"reason": "unused"}, headers=auth)
    assert released.status_code == 200 and released.get_json()["released"] == 10
    assert hint(km, older) is None  # freed keys below the hint: scan from the start again
    third, response = allocate(10)
    assert response.status_code == 201 and allocation_key_ids(km, third) == older_ids[:10]


def test_free_keys_below_a_hint_are_still_allocated_before_answering_short(
    client, gen, studio, service_auth, km
):
    auth = service_auth("keys:allocate")
    batch_id = gen(studio, 10).get_json()["batchId"]
    # As if an allocation had moved past keys another transaction held and then let go.
    with km.db.transaction() as session:
        session.execute(
            update(batches)
            .where(batches.c.id == uuid.UUID(batch_id))
            .values(free_from=key_id_range(uuid.UUID(batch_id))[1])
        )
    body = {"retailerId": str(uuid.uuid4()), "gameId": str(studio.game_id), "keyType": "retail"}
    done = client.post(
        f"{INTERNAL}/allocations",
        json={**body, "allocationId": str(uuid.uuid4()), "quantity": 10},
        headers=auth,
    )
    assert done.status_code == 201
    short = client.post(
        f"{INTERNAL}/allocations",
        json={**body, "allocationId": str(uuid.uuid4()), "quantity": 1},
        headers=auth,
    )
    assert short.status_code == 409 and short.get_json()["error"]["details"] == {
        "requested": 1,
        "available": 0,
    }


def client_keys(client, studio, batch_id: str) -> list[dict]:
    page = client.get(f"/api/v1/keys/batches/{batch_id}/keys?limit=100", headers=studio.auth())
    assert page.status_code == 200
    return page.get_json()["items"]
