"""POST /generate and POST /batches: keys once in plaintext, idempotency, authorization, bad input."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from key_manager.db.tables import batches, keys
from key_manager.domain import codec


def counts(km, game_id):
    with km.db.transaction() as session:
        return (
            session.execute(
                select(func.count()).select_from(batches).where(batches.c.game_id == game_id)
            ).scalar_one(),
            session.execute(
                select(func.count()).select_from(keys).where(keys.c.game_id == game_id)
            ).scalar_one(),
        )


def test_generate_returns_valid_distinct_keys_once(gen, studio, client, km):
    response = gen(
        studio, 1000, regionalRestrictions=[{"type": "deny", "countries": ["ru"]}], metadata={"promo": "x"}
    )
    assert response.status_code == 201, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["status"] == "completed" and body["generatedKeys"] == body["totalKeys"] == 1000
    assert body["regionalRestrictions"] == [{"type": "deny", "countries": ["RU"]}]
    assert len({k["key"] for k in body["keys"]}) == 1000
    assert all(codec.normalize(k["key"]) for k in body["keys"])
    assert counts(km, studio.game_id) == (1, 1000)
    # Afterwards, a key is only ever shown masked.
    info = client.get(f"/api/v1/keys/{body['keys'][0]['id']}", headers=studio.auth()).get_json()
    assert info["key"] == "****-****-****-" + body["keys"][0]["key"][-4:]


def test_idempotent_generate_replays_the_same_keys_without_storing_them(gen, studio, km):
    key = str(uuid.uuid4())
    first = gen(studio, 3, headers={"Idempotency-Key": key})
    second = gen(studio, 3, headers={"Idempotency-Key": key})
    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.get_json()["keys"] == first.get_json()["keys"]
    assert counts(km, studio.game_id) == (1, 3)
    with km.db.transaction() as session:
        stored = session.execute(select(km.db.tables.idempotency_keys.c.response_body)).scalars().all()
    plaintexts = [k["key"] for k in first.get_json()["keys"]]
    assert not any(p in body or p.replace("-", "") in body for p in plaintexts for body in stored)
    other = gen(studio, 4, headers={"Idempotency-Key": key})
    assert other.status_code == 422 and other.get_json()["error"]["code"] == "IDEMPOTENCY_CONFLICT"


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"quantity": 1001}, 422),
        ({"quantity": 0}, 422),
        ({"quantity": -5}, 422),
        ({"quantity": 10**12}, 422),
        ({"quantity": "10"}, 422),
        ({"keyType": "free"}, 422),
        ({"expirationDate": "2001-01-01T00:00:00Z"}, 422),
        ({"expirationDate": "not a date"}, 422),
        ({"expirationDate": "2040-01-01T00:00:00"}, 422),
        ({"expirationDate": "2040-02-30"}, 422),
        ({"expirationDate": "2001-01-01"}, 422),
        ({"metadata": {"blob": "x" * 5000}}, 422),
        ({"regionalRestrictions": [{"type": "allow", "countries": ["Germany"]}]}, 422),
        ({"regionalRestrictions": [{"type": "allow", "countries": ["XX"]}]}, 422),
        ({"regionalRestrictions": [{"type": "maybe", "countries": ["DE"]}]}, 422),
        ({"unknownField": 1}, 422),
        ({"gameId": "not-a-uuid"}, 422),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(gen, studio, km, fields, status):
    response = gen(studio, **{"quantity": 5, **fields})
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["details"]
    assert counts(km, studio.game_id) == (0, 0)


def test_expiration_date_may_be_a_date_meaning_the_end_of_that_day_utc(gen, studio):
    year = datetime.now(UTC).year + 1
    by_date = gen(studio, 1, expirationDate=f"{year}-01-01")
    assert by_date.status_code == 201, by_date.get_json()
    assert by_date.get_json()["expiresAt"].startswith(f"{year}-01-01T23:59:59")
    by_time = gen(studio, 1, expirationDate=f"{year}-01-01T12:00:00+02:00")
    assert by_time.status_code == 201 and by_time.get_json()["expiresAt"].startswith(f"{year}-01-01T10:00:00")
    naive = gen(studio, 1, expirationDate=f"{year}-01-01T12:00:00").get_json()["error"]
    assert naive["details"]["fields"]["json"]["expirationDate"] == [
        'a date and time needs its zone ("2027-01-01T12:00:00Z"), or give only the date ("2027-01-01")'
    ]


def test_quantity_has_one_limit_and_one_message_per_route(gen, studio, client):
    sync = (
        "quantity must be between 1 and 1,000 on POST /generate, which returns the keys in its answer; "
        "POST /batches generates up to 100,000 in the background"
    )
    for quantity in (0, 5_000, 200_000):
        error = gen(studio, quantity).get_json()["error"]
        assert error["details"]["fields"]["json"] == {"quantity": [sync]}, quantity
    for quantity in (0, 200_000):
        body = {"gameId": str(studio.game_id), "keyType": "retail", "quantity": quantity}
        error = client.post("/api/v1/keys/batches", json=body, headers=studio.auth()).get_json()["error"]
        assert error["details"]["fields"]["json"] == {"quantity": ["quantity must be between 1 and 100,000"]}


def test_malformed_json_is_400(client, studio, km):
    response = client.post(
        "/api/v1/keys/generate", data=b"{nope", headers={**studio.auth(), "Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "VALIDATION_ERROR"


def test_who_may_generate(gen, studio, make_studio, client, make_token, km):
    assert gen(studio, 1, role="developer").status_code == 201
    assert gen(studio, 1, role="marketing", keyType="promotional").status_code == 201
    refused = gen(studio, 1, role="marketing", keyType="retail")
    assert refused.status_code == 403 and refused.get_json()["error"]["details"]["teamRole"] == "marketing"
    assert gen(studio, 1, role="finance").status_code == 403
    # Another studio's game does not exist for this caller; nor does an unknown game.
    other = make_studio()
    foreign = client.post(
        "/api/v1/keys/generate",
        json={"gameId": str(other.game_id), "keyType": "retail", "quantity": 1},
        headers=studio.auth(),
    )
    assert foreign.status_code == 404
    unknown = gen(studio, 1, gameId=str(uuid.uuid4()))
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "NOT_FOUND"
    # A player token, and no token.
    player = {"Authorization": f"Bearer {make_token(roles=('user',))}"}
    body = {"gameId": str(studio.game_id), "keyType": "retail", "quantity": 1}
    assert client.post("/api/v1/keys/generate", json=body, headers=player).status_code == 403
    assert client.post("/api/v1/keys/generate", json=body).status_code == 401
    assert counts(km, other.game_id) == (0, 0)


def test_unverified_studios_get_no_keys(gen, make_studio, km):
    pending = make_studio(verified=False)
    response = gen(pending, 1)
    assert response.status_code == 403 and "verified" in response.get_json()["error"]["message"]
    assert counts(km, pending.game_id) == (0, 0)


def test_create_batch_is_accepted_and_limited(client, studio, km):
    body = {"gameId": str(studio.game_id), "keyType": "gift", "quantity": 100_000}
    response = client.post("/api/v1/keys/batches", json=body, headers=studio.auth("developer"))
    assert response.status_code == 202, response.get_json()
    batch = response.get_json()
    assert batch["status"] == "pending" and batch["progress"] == 0.0 and batch["totalKeys"] == 100_000
    assert response.headers["Location"].endswith(batch["batchId"])
    too_many = client.post("/api/v1/keys/batches", json={**body, "quantity": 100_001}, headers=studio.auth())
    assert too_many.status_code == 422
    assert counts(km, studio.game_id) == (1, 0)
    # Leave no pending 100,000-key batch behind for other tests' generators.
    with km.db.transaction() as session:
        session.execute(batches.delete().where(batches.c.id == uuid.UUID(batch["batchId"])))
