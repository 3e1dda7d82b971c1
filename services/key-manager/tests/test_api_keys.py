"""Single keys: KeyInfo (masked), status changes through the state machine, revocation,
validation, duplicate checks, and reading keys written under an older encryption key."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from sqlalchemy import select, update

from key_manager.db.tables import keys
from key_manager.domain import codec


@pytest.fixture()
def three(gen, studio):
    return gen(studio, 3).get_json()["keys"]


def patch(client, studio, key_id, status, role="admin", **extra):
    return client.patch(
        f"/api/v1/keys/{key_id}/status", json={"status": status, **extra}, headers=studio.auth(role)
    )


def test_key_info_is_masked_and_shows_history(client, studio, three):
    key = three[0]
    info = client.get(f"/api/v1/keys/{key['id']}", headers=studio.auth("finance")).get_json()
    assert info["key"] == "****-****-****-" + key["key"][-4:]
    assert key["key"] not in str(info) and key["key"].replace("-", "") not in str(info)
    assert info["status"] == "generated" and info["history"] == []
    assert client.get(f"/api/v1/keys/{uuid.uuid4()}", headers=studio.auth()).get_json()["error"]["code"] == (
        "KEY_NOT_FOUND"
    )


def test_status_changes_follow_the_state_machine(client, studio, three):
    key_id = three[0]["id"]
    # generated -> sold is not a step of the machine.
    refused = patch(client, studio, key_id, "sold")
    assert refused.status_code == 409
    assert refused.get_json()["error"]["details"] == {"currentStatus": "generated", "requestedStatus": "sold"}
    # Operations with their own endpoints are not settable here.
    for status in ("activated", "allocated", "pending_review", "generated", "bogus"):
        assert patch(client, studio, key_id, status).status_code == 422
    changed = patch(client, studio, key_id, "expired", reason="campaign over", role="developer")
    assert changed.status_code == 200 and changed.get_json()["status"] == "expired"
    assert changed.get_json()["history"][0] == {
        "from": "generated", "to": "expired", "by": studio.users["developer"],
        "at": changed.get_json()["history"][0]["at"], "reason": "campaign over", "operation": "status_change",
    }  # fmt: skip
    final = patch(client, studio, key_id, "revoked")
    assert final.status_code == 409 and final.get_json()["error"]["details"]["currentStatus"] == "expired"
    # Finance reads only; marketing changes promotional keys only.
    assert patch(client, studio, three[1]["id"], "revoked", role="finance").status_code == 403
    assert patch(client, studio, three[1]["id"], "revoked", role="marketing").status_code == 403


def test_revoke_one_key(client, studio, make_studio, three, km):
    key_id = three[1]["id"]
    assert client.post(f"/api/v1/keys/{key_id}/revoke", json={}, headers=studio.auth()).status_code == 422
    other = make_studio()
    assert (
        client.post(f"/api/v1/keys/{key_id}/revoke", json={"reason": "x"}, headers=other.auth()).status_code
        == 404
    )
    assert client.get(f"/api/v1/keys/{key_id}", headers=other.auth()).status_code == 404
    revoked = client.post(
        f"/api/v1/keys/{key_id}/revoke", json={"reason": "leaked on a forum"}, headers=studio.auth()
    )
    assert revoked.status_code == 200 and revoked.get_json()["status"] == "revoked"
    with km.db.transaction() as session:
        event = session.execute(
            select(km.db.tables.outbox.c.payload).where(
                km.db.tables.outbox.c.message_key == key_id, km.db.tables.outbox.c.event_type == "key.revoked"
            )
        ).scalar_one()
    assert event["data"]["reason"] == "leaked on a forum" and event["data"]["previousStatus"] == "generated"


def test_the_longest_reason_the_api_takes_reaches_the_event(client, studio, three, km):
    """Every text an API takes fits the event contract it ends up in (a reason of 500 characters)."""
    key_id, reason = three[2]["id"], "r" * 500
    revoked = client.post(f"/api/v1/keys/{key_id}/revoke", json={"reason": reason}, headers=studio.auth())
    assert revoked.status_code == 200
    with km.db.transaction() as session:
        event = session.execute(
            select(km.db.tables.outbox.c.payload).where(
                km.db.tables.outbox.c.message_key == key_id, km.db.tables.outbox.c.event_type == "key.revoked"
            )
        ).scalar_one()
    assert event["data"]["reason"] == reason


def test_validate_tells_everyone_the_format_and_only_the_entitled_the_state(
    client, studio, make_studio, three, make_token
):
    key = three[2]["key"]
    player = {"Authorization": f"Bearer {make_token(roles=('user',))}"}
    as_player = client.post("/api/v1/keys/validate", json={"key": key.lower()}, headers=player).get_json()
    assert as_player == {"valid": True, "formatValid": True, "error": None}
    typo = key[:-1] + ("A" if key[-1] != "A" else "B")
    bad = client.post("/api/v1/keys/validate", json={"key": typo}, headers=player).get_json()
    assert bad["valid"] is False and bad["formatValid"] is False and typo not in str(bad)
    as_owner = client.post(
        "/api/v1/keys/validate", json={"key": key}, headers=studio.auth("finance")
    ).get_json()
    assert (
        as_owner["exists"] is True
        and as_owner["status"] == "generated"
        and as_owner["keyId"] == three[2]["id"]
    )
    as_stranger = client.post(
        "/api/v1/keys/validate", json={"key": key}, headers=make_studio().auth()
    ).get_json()
    assert "status" not in as_stranger and "exists" not in as_stranger
    assert client.post("/api/v1/keys/validate", json={"key": key}).status_code == 401


def test_check_duplicate_is_for_services_and_admins(client, studio, three, service_auth, admin_auth):
    body = {"key": three[0]["key"]}
    assert client.post(
        "/api/v1/keys/check-duplicate", json=body, headers=service_auth("keys:read")
    ).get_json() == {"duplicate": True}
    fresh = {"key": codec.format_key(codec.generate_keys(1)[0])}
    assert client.post("/api/v1/keys/check-duplicate", json=fresh, headers=admin_auth).get_json() == {
        "duplicate": False
    }
    assert client.post("/api/v1/keys/check-duplicate", json=body, headers=studio.auth()).status_code == 403
    malformed = client.post("/api/v1/keys/check-duplicate", json={"key": "nope"}, headers=admin_auth)
    assert malformed.status_code == 400 and malformed.get_json()["error"]["code"] == "INVALID_KEY_FORMAT"


def test_keys_written_under_an_older_encryption_key_stay_readable(client, studio, gen, km):
    """Rotation: keys encrypted with k1 (no longer active) are still exported and masked."""
    batch = gen(studio, 2).get_json()
    with km.db.transaction() as session:
        for item in batch["keys"]:
            row_id = uuid.UUID(item["id"])
            canonical = codec.normalize(item["key"])
            blob = km.vault._ciphers["k1"].encrypt(b"\x00" * 12, canonical, row_id.bytes)
            session.execute(
                update(keys)
                .where(keys.c.id == row_id)
                .values(encryption_key_id="k1", ciphertext=b"\x00" * 12 + blob)
            )
    assert km.vault.active_key_id == "k2"
    page = client.get(f"/api/v1/keys/batches/{batch['batchId']}/keys", headers=studio.auth()).get_json()
    assert sorted(i["key"] for i in page["items"]) == sorted(i["key"] for i in batch["keys"])
    info = client.get(f"/api/v1/keys/{batch['keys'][0]['id']}", headers=studio.auth()).get_json()
    assert info["key"].endswith(batch["keys"][0]["key"][-4:])


def test_a_key_that_cannot_be_decrypted_is_reported_per_key(client, studio, gen, km, service_auth, caplog):
    """A bad rotation (an encryption key id no longer configured) and a damaged ciphertext:
    GET /{keyId} says what is wrong (503 DATABASE_ERROR), pages, the CSV export, an allocation's
    listing and a /generate replay serve every other key and mark the broken ones, logged by id."""
    headers = {**studio.auth(), "Idempotency-Key": f"gen-{uuid.uuid4()}"}
    batch = gen(studio, 4, headers=headers).get_json()
    lost, damaged = (uuid.UUID(item["id"]) for item in batch["keys"][:2])
    with km.db.transaction() as session:
        ciphertext = session.execute(select(keys.c.ciphertext).where(keys.c.id == damaged)).scalar_one()
        session.execute(update(keys).where(keys.c.id == lost).values(encryption_key_id="gone"))
        session.execute(
            update(keys)
            .where(keys.c.id == damaged)
            .values(ciphertext=ciphertext[:-1] + bytes([ciphertext[-1] ^ 1]))
        )
    reasons = {str(lost): "encryption_key_not_configured", str(damaged): "ciphertext_does_not_authenticate"}

    for key_id, reason in reasons.items():
        answer = client.get(f"/api/v1/keys/{key_id}", headers=studio.auth())
        error = answer.get_json()["error"]
        assert answer.status_code == 503 and error["code"] == "DATABASE_ERROR"
        assert error["details"] == {"keyId": key_id, "reason": reason}

    page = client.get(f"/api/v1/keys/batches/{batch['batchId']}/keys", headers=studio.auth())
    assert page.status_code == 200
    items = {item["id"]: item for item in page.get_json()["items"]}
    assert len(items) == 4
    for item in batch["keys"]:
        if item["id"] in reasons:
            assert items[item["id"]]["key"] is None
            assert items[item["id"]]["error"]["details"]["reason"] == reasons[item["id"]]
        else:
            assert items[item["id"]]["key"] == item["key"] and items[item["id"]]["error"] is None

    exported = client.get(
        f"/api/v1/keys/batches/{batch['batchId']}/keys", headers={**studio.auth(), "Accept": "text/csv"}
    )
    assert exported.status_code == 200
    rows = {r["keyId"]: r for r in csv.DictReader(io.StringIO(exported.get_data(as_text=True)))}
    assert {k: r["error"] for k, r in rows.items() if r["error"]} == reasons
    assert all(rows[k]["key"] == "" for k in reasons) and len(rows) == 4

    replay = gen(studio, 4, headers=headers)
    assert replay.status_code == 201
    replayed = {item["id"]: item for item in replay.get_json()["keys"]}
    assert all(
        replayed[k]["key"] is None and replayed[k]["error"]["details"]["reason"] == r
        for k, r in reasons.items()
    )

    allocation = {"allocationId": str(uuid.uuid4()), "retailerId": str(uuid.uuid4()),
                  "gameId": str(studio.game_id), "keyType": "retail", "quantity": 4}  # fmt: skip
    auth = service_auth("keys:allocate")
    assert client.post("/internal/v1/keys/allocations", json=allocation, headers=auth).status_code == 201
    listed = client.get(f"/internal/v1/keys/allocations/{allocation['allocationId']}/keys", headers=auth)
    assert listed.status_code == 200
    assert {i["id"] for i in listed.get_json()["items"] if i["error"]} == set(reasons)

    # The broken key can still be revoked; the answer says its key cannot be shown.
    revoked = client.post(f"/api/v1/keys/{lost}/revoke", json={"reason": "lost"}, headers=studio.auth())
    assert revoked.status_code == 200 and revoked.get_json()["status"] == "revoked"
    assert revoked.get_json()["key"] is None and revoked.get_json()["keyError"]["code"] == "DATABASE_ERROR"

    logged = [r for r in caplog.records if r.getMessage() == "stored key cannot be decrypted"]
    assert {r.keyId for r in logged} == set(reasons)
    assert all(ciphertext.hex() not in str(r.__dict__) for r in logged)


def test_openapi_documents_every_route(client):
    spec = client.get("/openapi.json").get_json()
    paths = set(spec["paths"])
    for path in (
        "/api/v1/keys/generate", "/api/v1/keys/batches", "/api/v1/keys/batches/{batch_id}",
        "/api/v1/keys/batches/{batch_id}/keys", "/api/v1/keys/batches/{batch_id}/revoke",
        "/api/v1/keys/batches/{batch_id}/cancel", "/api/v1/keys/{key_id}",
        "/api/v1/keys/{key_id}/status", "/api/v1/keys/{key_id}/revoke", "/api/v1/keys/validate",
        "/api/v1/keys/check-duplicate", "/internal/v1/keys/activate", "/internal/v1/keys/allocations",
    ):  # fmt: skip
        assert path in paths, path
    assert "429" in spec["paths"]["/api/v1/keys/validate"]["post"]["responses"]
    assert client.get("/readyz").status_code == 200
